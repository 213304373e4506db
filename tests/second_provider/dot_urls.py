"""URLs and the claims of the django-oauth-toolkit provider (see dot_server.py)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import LoginView
from django.urls import include, path
from oauth2_provider.oauth2_validators import OAuth2Validator

urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", LoginView.as_view()),
]


class ClaimsValidator(OAuth2Validator):
    """Profile claims and roles in the ID token (toolkit's documented extension point)."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "roles": "openid", "is_admin": "openid"}

    def get_additional_claims(self, request: Any) -> dict[str, Any]:
        user = request.user
        roles = [group.name for group in user.groups.all()] + (["admin"] if user.is_staff else [])
        return {
            "email": user.email,
            "email_verified": True,
            "name": user.get_full_name(),
            "preferred_username": user.username,
            "roles": roles,
        }
