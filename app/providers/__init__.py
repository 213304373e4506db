"""Provider presets as data: how each provider's issuer, JWKS, tokens and hints look.

Adding a provider is one more `Preset` row (saas.py, cloud.py; the fields are in preset.py),
not a new code path. Everything here is plain data plus small pure functions.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlsplit

from .cloud import CLOUD_PRESETS
from .preset import Preset
from .saas import SAAS_PRESETS


PRESETS: dict[str, Preset] = {
    **SAAS_PRESETS,
    **CLOUD_PRESETS,
    "custom": Preset(name="custom", label="Continue with OpenID"),
}

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (plain http is allowed only there)."""
    if not host:
        return False
    host = host.lower().strip("[]")
    return host in _LOOPBACK_HOSTS or host.endswith(".localhost") or bool(
        re.fullmatch(r"127(\.\d{1,3}){3}", host)
    )


_DISCOVERY_SUFFIX = "/.well-known/openid-configuration"


def clean_url(raw: str) -> str:
    """Trim what admins paste: whitespace (anywhere: URLs have none), quotes, a scheme pasted
    twice, doubled slashes in the path; a bare domain gets https://. Host and scheme are
    lower-cased (they are case-insensitive); the path is kept as written."""
    value = re.sub(r"\s+", "", raw).strip("'\"")
    match = re.match(r"^(?:[a-z][a-z0-9+.-]*:/+)+", value, re.IGNORECASE)
    if match:
        schemes = re.findall(r"([a-z][a-z0-9+.-]*):/+", match.group(0), re.IGNORECASE)
        scheme, rest = schemes[-1].lower(), value[match.end():]
    else:
        scheme, rest = "https", value
    host, slash, path = rest.partition("/")
    path = re.sub(r"/{2,}", "/", slash + path)
    return f"{scheme}://{host.lower()}{path}"


def normalise_issuer(preset: Preset, raw: str | None, client_id: str) -> str:
    """The issuer to expect, after the preset's rules; it is then compared exactly with the
    discovery document's `issuer` and each token's `iss`."""
    if not (raw or "").strip() and preset.issuer_template:
        return preset.issuer_template.format(client_id=client_id.strip())
    issuer = clean_url(_pasted_form(preset, raw or "") or raw or "")
    if issuer.endswith(_DISCOVERY_SUFFIX):  # the discovery URL pasted instead of the issuer
        issuer = issuer[: -len(_DISCOVERY_SUFFIX)]
    if not preset.keep_path:
        parts = urlsplit(issuer)
        issuer = f"{parts.scheme}://{parts.netloc}"
    if preset.trailing_slash == "slash":
        return issuer.rstrip("/") + "/"
    if preset.trailing_slash == "bare":
        return issuer.rstrip("/")
    return issuer


def jwks_override(preset: Preset, client_id: str, explicit: str | None) -> str | None:
    """A JWKS URL that replaces discovery's jwks_uri (WorkOS, or OPENID_JWKS_URI)."""
    if explicit:
        return clean_url(explicit)
    if preset.jwks_template:
        return preset.jwks_template.format(client_id=client_id)
    return None


def hint_for(preset: Preset, code: str) -> str | None:
    """The provider's own hint for an error code, if it has one."""
    return preset.hints.get(code)


def _trimmed(raw: str) -> str:
    return re.sub(r"\s+", "", raw).strip("'\"")


def _pasted_form(preset: Preset, raw: str) -> str | None:
    """The issuer a preset builds from what the admin pasted (a tenant id, a user-pool id, a
    realm's endpoint), or None when no paste form matches."""
    value = _trimmed(raw)
    for pattern, template in preset.paste_forms:
        match = re.fullmatch(pattern, value)
        if match:
            return template.format(**match.groupdict())
    return None


def issuer_problem(preset: Preset, raw: str | None) -> str | None:
    """Why a pasted OPENID_ISSUER is a known wrong thing for this preset (Cognito's hosted-UI
    domain, a Keycloak URL without a realm), or None."""
    if not raw or _pasted_form(preset, raw) is not None:
        return None
    value = _trimmed(raw)
    for pattern, message in preset.wrong_forms:
        if re.fullmatch(pattern, value):
            return f"OPENID_ISSUER={raw.strip()!r} {message}"
    return None


def multi_tenant_issuer(preset: Preset, issuer: str) -> str | None:
    """For a multi-tenant issuer (Entra's .../common/v2.0): the template that discovery
    announces and each token's `iss` fills with its own tenant id; else None."""
    parts = urlsplit(issuer)
    segments = parts.path.split("/")
    if len(segments) > 1 and segments[1].lower() in preset.multi_tenant_segments:
        segments[1] = preset.tenant_placeholder
        return f"{parts.scheme}://{parts.netloc}{'/'.join(segments)}"
    return None


def hosted_logout_url(preset: Preset, metadata: dict, values: dict[str, str]) -> str | None:
    """The preset's own logout URL (Cognito's hosted UI: /logout on the authorization
    endpoint's origin, with client_id and logout_uri), or None to use end_session_endpoint."""
    endpoint = metadata.get("authorization_endpoint")
    if not preset.logout_path or not isinstance(endpoint, str):
        return None
    parts = urlsplit(endpoint)
    query = urlencode({name: values[source] for name, source in preset.logout_params})
    return f"{parts.scheme}://{parts.netloc}{preset.logout_path}?{query}"
