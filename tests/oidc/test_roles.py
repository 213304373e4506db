"""Roles from claims (dotted paths, URL claim names), exact matching, and RolePolicy files."""

from __future__ import annotations

import json

import pytest

from app.errors import AuthError
from app.oidc.roles import RolePolicy, check_required, claim_at_path, extract_roles

URL = "https://example.com/roles"


def test_top_level_claim():
    assert extract_roles({"roles": ["admin", "user"]}, "roles") == ["admin", "user"]


def test_dotted_path():
    claims = {"realm_access": {"roles": ["admin", "offline_access"]}, "roles": ["decoy"]}
    assert extract_roles(claims, "realm_access.roles") == ["admin", "offline_access"]


def test_deeper_dotted_path():
    claims = {"resource_access": {"my-app": {"roles": ["editor"]}}}
    assert extract_roles(claims, "resource_access.my-app.roles") == ["editor"]


def test_url_claim_name_is_one_key():
    claims = {URL: ["admin"], "https://example": {"com/roles": ["decoy"]}}
    assert extract_roles(claims, URL) == ["admin"]


def test_url_claim_name_without_exact_top_level_match_still_one_key():
    # Found through the longest-prefix walk rather than the top-level shortcut.
    claims = {"https://example.com/app": {"roles": ["viewer"]}}
    assert extract_roles(claims, "https://example.com/app.roles") == ["viewer"]


def test_url_key_followed_by_nested_path():
    claims = {"https://example.com/claims": {"authz": {"roles": ["admin"]}}}
    assert extract_roles(claims, "https://example.com/claims.authz.roles") == ["admin"]


def test_nested_url_key():
    claims = {"ext": {"https://example.com/roles": ["ops"]}}
    assert extract_roles(claims, "ext.https://example.com/roles") == ["ops"]


@pytest.mark.parametrize(
    "claims",
    [{}, {"realm_access": None}, {"realm_access": "admin"}, {"realm_access": {"other": 1}}, {"realm_access": ["roles"]}],
)
def test_missing_path_is_no_roles(claims):
    assert extract_roles(claims, "realm_access.roles") == []
    assert claim_at_path(claims, "realm_access.roles") is None


def test_space_and_comma_separated_strings():
    assert extract_roles({"roles": "admin user"}, "roles") == ["admin", "user"]
    assert extract_roles({"roles": "admin,user"}, "roles") == ["admin", "user"]
    assert extract_roles({"roles": " admin , user  ops,"}, "roles") == ["admin", "user", "ops"]
    assert extract_roles({"roles": "admin"}, "roles") == ["admin"]
    assert extract_roles({"roles": ""}, "roles") == []


def test_list_values_are_cleaned():
    assert extract_roles({"roles": ["admin", " user ", "", 7, None, "admin", {"x": 1}]}, "roles") == [
        "admin",
        "user",
    ]


@pytest.mark.parametrize("value", [{"admin": True}, 1, True, None])
def test_other_shapes_are_no_roles(value):
    assert extract_roles({"roles": value}, "roles") == []


def test_exact_matching():
    check_required(["admin"], ["admin"])
    check_required(["user", "admin"], ["admin", "ops"])
    for roles in (["superadmin"], ["Admin"], ["admin "], ["adm"], []):
        with pytest.raises(AuthError) as info:
            check_required(roles, ["admin"])
        assert info.value.code == "ROLE_REQUIRED"
        assert info.value.status == 403


def test_superadmin_from_a_string_claim_is_not_admin():
    roles = extract_roles({"roles": "superadmin,administrators"}, "roles")
    with pytest.raises(AuthError):
        check_required(roles, ["admin"])


def test_no_required_roles_lets_everyone_in():
    check_required([], [])


def test_required_role_error_names_roles_and_uses_hint():
    with pytest.raises(AuthError) as info:
        check_required(["user"], ["admin", "ops"], hint="ask the Auth0 admin")
    assert "admin, ops" in info.value.message
    assert info.value.hint == "ask the Auth0 admin"


# -- RolePolicy ----------------------------------------------------------------------


def test_policy_from_yaml(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text("roles:\n  admin: ['*']\n  user:\n    - gpt-4o-mini\n    - claude\n")
    policy = RolePolicy.load(str(path))
    assert policy is not None
    assert policy.allowed(["admin"], "anything")
    assert policy.allowed(["user"], "claude")
    assert not policy.allowed(["user"], "gpt-4o")
    assert not policy.allowed(["superuser"], "claude")
    assert policy.resources() == ["gpt-4o-mini", "claude"]
    assert policy.allowed_resources(["user"]) == ["gpt-4o-mini", "claude"]
    assert policy.allowed_resources(["guest"]) == []


def test_policy_from_json_mapping_alone(tmp_path):
    path = tmp_path / "policy.json"
    path.write_text(json.dumps({"admin": ["*"], "user": ["a"], "ops": ["a", "b"]}))
    policy = RolePolicy.load(str(path))
    assert policy is not None
    assert policy.resources() == ["a", "b"]
    assert policy.allowed_resources(["user"]) == ["a"]
    assert policy.allowed_resources(["admin"]) == ["a", "b"]
    assert policy.allowed_resources(["user", "ops"]) == ["a", "b"]


def test_policy_yml_extension(tmp_path):
    path = tmp_path / "policy.yml"
    path.write_text("admin: ['*']\n")
    assert RolePolicy.load(str(path)).allowed(["admin"], "x")


@pytest.mark.parametrize(
    "name,text",
    [
        ("p.json", json.dumps({"roles": {"admin": "*"}})),
        ("p.json", json.dumps(["admin"])),
        ("p.yaml", "roles:\n  admin: [1, 2]\n"),
        ("p.yaml", "just a string\n"),
    ],
)
def test_malformed_policy_is_refused(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ValueError):
        RolePolicy.load(str(path))


def test_no_policy_path_is_none():
    assert RolePolicy.load(None) is None
    assert RolePolicy.load("") is None
