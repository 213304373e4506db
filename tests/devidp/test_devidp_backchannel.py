"""The development provider's back-channel logout against the real login server: signing
out there, or an admin disabling the user, ends the application's session at once."""

from __future__ import annotations

import requests

from tests.devidp.conftest import CLIENT_ID, CLIENT_SECRET, form_fields

BCL = "/oauth/openid/backchannel-logout"


def connect(idp, make_app):
    """Our server pointed at the development provider, registered there (callback + BCL URI)."""
    live = make_app(OPENID_ISSUER=idp.base, OPENID_CLIENT_ID=CLIENT_ID, OPENID_CLIENT_SECRET=CLIENT_SECRET)
    client = idp.app.extensions["devidp"].client
    client.redirect_uris = (live.url + "/oauth/openid/callback",)
    client.backchannel_logout_uri = live.url + BCL
    return live


def sign_in(live, browser: requests.Session, username: str = "demo", password: str = "demo") -> requests.Response:
    """Start at our server, fill the provider's login form, come back through the callback."""
    resp = browser.get(live.url + "/oauth/openid", allow_redirects=False, timeout=10)
    for _ in range(8):
        if resp.status_code in (302, 303):
            resp = browser.get(requests.compat.urljoin(resp.url, resp.headers["Location"]),
                               allow_redirects=False, timeout=10)
            continue
        if resp.url.startswith(live.url) or resp.status_code != 200 or "password" not in resp.text:
            return resp
        form = form_fields(resp.text)
        action = requests.compat.urljoin(resp.url, form.pop("_action"))
        form.update(username=username, password=password, action="login")
        resp = browser.post(action, data=form, allow_redirects=False, timeout=10)
    raise AssertionError("the login did not come back")


def signed_in(live, browser) -> bool:
    return browser.get(live.url + "/api/user", timeout=10).status_code == 200


def test_discovery_advertises_backchannel_logout(idp):
    doc = requests.get(idp.url("/.well-known/openid-configuration"), timeout=5).json()
    assert doc["backchannel_logout_supported"] is True
    assert doc["backchannel_logout_session_supported"] is True
    assert doc["revocation_endpoint"].endswith("/oauth/revoke")


def test_signing_out_at_the_provider_ends_the_applications_session(idp, make_app):
    live = connect(idp, make_app)
    browser, other = requests.Session(), requests.Session()
    sign_in(live, browser)
    sign_in(live, other)
    assert signed_in(live, browser) and signed_in(live, other)
    page = browser.get(idp.url("/oidc/logout"), timeout=10)
    assert page.status_code == 200
    assert not signed_in(live, browser)
    assert signed_in(live, other)  # another provider session (its own sid) of the same user


def test_admin_disable_ends_every_session_of_the_user_and_blocks_sign_in(idp, make_app):
    live = connect(idp, make_app)
    browser, second = requests.Session(), requests.Session()
    sign_in(live, browser)
    sign_in(live, second)
    admin = requests.Session()
    page = admin.get(idp.url("/admin"), timeout=10)
    assert page.status_code == 200 and "Disable demo" in page.text
    form = form_fields(page.text)
    done = admin.post(requests.compat.urljoin(page.url, form.pop("_action")), data=form, timeout=10)
    assert done.status_code == 200 and "Enable demo" in done.text
    assert not signed_in(live, browser)
    assert not signed_in(live, second)
    refused = sign_in(live, requests.Session())
    assert refused.status_code == 403 and "disabled" in refused.text


def test_admin_form_needs_its_csrf_token(idp, make_app):
    live = connect(idp, make_app)
    browser = requests.Session()
    sign_in(live, browser)
    response = requests.post(idp.url("/admin/users/demo/disable"), data={"csrf": "forged"}, timeout=10)
    assert response.status_code == 400
    assert signed_in(live, browser)
