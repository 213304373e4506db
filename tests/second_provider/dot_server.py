"""django-oauth-toolkit as an OpenID provider on 127.0.0.1, for the interop tests.

    python -m tests.second_provider.dot_server WORKDIR

Binds a free port, prints ``PORT <n>`` when ready, and serves until killed. One confidential
client (``dot-client`` / ``dot-secret``, RS256 ID tokens, PKCE required, any loopback port
allowed for its redirect and post-logout URIs, as RFC 8252 lets loopback clients do) and
one user (``ada`` / ``ada-password``, in the ``chat`` group, an admin by ``is_staff``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server

CLIENT_ID = "dot-client"
CLIENT_SECRET = "dot-secret"
USER, PASSWORD = "ada", "ada-password"

LOGIN_TEMPLATE = """<!doctype html><title>Sign in</title>
<form method="post">{% csrf_token %}{{ form.as_p }}
<input type="hidden" name="next" value="{{ next }}"><button type="submit">Sign in</button></form>"""

_django_app: Any = None


def _app(environ: dict[str, Any], start_response: Any) -> Any:
    return _django_app(environ, start_response)


def _configure(port: int, workdir: str) -> None:
    from django.conf import settings

    templates = os.path.join(workdir, "templates")
    os.makedirs(os.path.join(templates, "registration"), exist_ok=True)
    with open(os.path.join(templates, "registration", "login.html"), "w", encoding="utf-8") as handle:
        handle.write(LOGIN_TEMPLATE)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    settings.configure(
        DEBUG=False,
        SECRET_KEY=os.urandom(32).hex(),
        ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF="tests.second_provider.dot_urls",
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
                        "oauth2_provider"],
        MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                    "django.middleware.csrf.CsrfViewMiddleware",
                    "django.contrib.auth.middleware.AuthenticationMiddleware"],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(workdir, "db.sqlite3")}},
        TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [templates],
                    "APP_DIRS": True, "OPTIONS": {"context_processors": ["django.template.context_processors.request"]}}],
        LOGIN_URL="/accounts/login/",
        # cookies ignore ports: names of their own, apart from the login server's
        SESSION_COOKIE_NAME="dot_session",
        CSRF_COOKIE_NAME="dot_csrftoken",
        USE_TZ=True,
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # test speed only
        OAUTH2_PROVIDER={
            "OIDC_ENABLED": True,
            "OIDC_ISS_ENDPOINT": f"http://127.0.0.1:{port}/o",
            "OIDC_RSA_PRIVATE_KEY": pem,
            "PKCE_REQUIRED": True,
            "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
            "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
            "SCOPES": {"openid": "OpenID Connect", "profile": "Profile", "email": "Email"},
            "OAUTH2_VALIDATOR_CLASS": "tests.second_provider.dot_urls.ClaimsValidator",
            "ACCESS_TOKEN_EXPIRE_SECONDS": 300,
            "ROTATE_REFRESH_TOKEN": True,
        },
    )


def _seed() -> None:
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oauth2_provider.models import get_application_model

    call_command("migrate", verbosity=0, interactive=False)
    user = User.objects.create_user(USER, "ada@example.com", PASSWORD, first_name="Ada", last_name="Lovelace",
                                    is_staff=True)
    user.groups.add(Group.objects.create(name="chat"))
    get_application_model().objects.create(
        name="oidc-login", client_id=CLIENT_ID, client_secret=CLIENT_SECRET, client_type="confidential",
        authorization_grant_type="authorization-code", algorithm="RS256", skip_authorization=True,
        redirect_uris="http://127.0.0.1/oauth/openid/callback",
        post_logout_redirect_uris="http://127.0.0.1/login",
    )


def main(workdir: str) -> None:
    global _django_app
    server = make_server("127.0.0.1", 0, _app, threaded=True)
    _configure(server.server_port, workdir)
    import django
    from django.core.wsgi import get_wsgi_application

    django.setup()
    _seed()
    _django_app = get_wsgi_application()
    print(f"PORT {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1])
