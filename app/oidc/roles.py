"""Roles from token claims, and the policy that maps roles to resources.

The claim path is dotted (`realm_access.roles`), but providers put roles under claim names
that are URLs (`https://example.com/roles`), which contain dots themselves: at each level
the longest dotted prefix that is an actual key wins, so both forms work.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import AuthError


def claim_at_path(claims: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, where a key may itself contain dots (URL claim names)."""
    if path in claims:
        return claims[path]
    node: Any = claims
    parts = path.split(".")
    i = 0
    while i < len(parts):
        if not isinstance(node, Mapping):
            return None
        for j in range(len(parts), i, -1):
            key = ".".join(parts[i:j])
            if key in node:
                node, i = node[key], j
                break
        else:
            return None
    return node


def extract_roles(claims: Mapping[str, Any], path: str) -> list[str]:
    """Roles as a list of strings: the claim may be a list or a space/comma separated string."""
    value = claim_at_path(claims, path)
    if value is None:
        return []
    if isinstance(value, str):
        items: Iterable[Any] = value.replace(",", " ").split()
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        return []
    roles: list[str] = []
    for item in items:
        if isinstance(item, str) and item.strip() and item.strip() not in roles:
            roles.append(item.strip())
    return roles


def check_required(roles: Iterable[str], required: Iterable[str], hint: str | None = None) -> None:
    """A user needs one of the required roles (exact match: `superadmin` is not `admin`)."""
    required = list(required)
    if required and not set(roles) & set(required):
        raise AuthError(
            "ROLE_REQUIRED",
            f"One of these roles is required: {', '.join(required)}.",
            hint=hint,
        )


class RolePolicy:
    """Which resources (e.g. model names) each role may use; `*` means all."""

    def __init__(self, grants: Mapping[str, Iterable[str]] | None = None) -> None:
        self.grants = {role: list(resources) for role, resources in (grants or {}).items()}

    @classmethod
    def load(cls, path: str | None) -> "RolePolicy | None":
        """YAML or JSON: {"roles": {"admin": ["*"], "user": ["gpt-4o-mini"]}} (or the mapping alone)."""
        if not path:
            return None
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if path.endswith(".json"):
            data = json.loads(text)
        else:
            import yaml  # only needed when a YAML policy is configured

            data = yaml.safe_load(text)
        if isinstance(data, Mapping) and "roles" in data:
            data = data["roles"]
        if not isinstance(data, Mapping) or not all(
            isinstance(v, list) and all(isinstance(x, str) for x in v) for v in data.values()
        ):
            raise ValueError(f"{path}: expected a mapping of role -> list of resource names")
        return cls(data)

    def resources(self) -> list[str]:
        """Every named resource in the policy."""
        seen: list[str] = []
        for items in self.grants.values():
            for item in items:
                if item != "*" and item not in seen:
                    seen.append(item)
        return seen

    def allowed(self, roles: Iterable[str], resource: str) -> bool:
        for role in roles:
            items = self.grants.get(role, ())
            if "*" in items or resource in items:
                return True
        return False

    def allowed_resources(self, roles: Iterable[str]) -> list[str]:
        roles = list(roles)
        return [r for r in self.resources() if self.allowed(roles, r)]
