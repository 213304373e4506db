"""A small admin page for the development provider: disable a user (every sign-in of theirs
ends here, and a `sub`-only logout token ends their sessions at the client) or enable them
again. Loopback only, like the rest of the development provider."""

from __future__ import annotations

from flask import Response, redirect, url_for

from .backchannel import send_logout_token
from .routes import _csrf_ok, _error_page, _p, _page, bp


@bp.get("/admin")
def admin() -> tuple[str, int]:
    p = _p()
    return _page("admin.html", users=list(p.users.values()), disabled=p.disabled,
                 backchannel_uri=p.client.backchannel_logout_uri)


@bp.post("/admin/users/<username>/<action>")
def admin_user(username: str, action: str) -> Response | tuple[str, int]:
    p = _p()
    user = p.users.get(username)
    if not _csrf_ok():
        return _error_page("Form expired", "The admin form was stale. Reload the page and try again.")
    if user is None or action not in ("disable", "enable"):
        return _error_page("Unknown user", "No such user or action.", 404)
    if action == "enable":
        p.disabled.discard(user.sub)
    else:
        p.disabled.add(user.sub)
        p.store.end_sessions_of(user.sub)
        send_logout_token(p, sub=user.sub)  # sub only: every session of the user, everywhere
    return redirect(url_for(".admin"), 303)
