"""The signed-in home page and the health check."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, render_template, session

from .guard import login_required

bp = Blueprint("pages", __name__)
HEALTHZ_PATH = "/healthz"


@bp.get("/")
@login_required
def home() -> Any:
    settings = current_app.extensions["oidc_login"].settings
    return render_template(
        "home.html", user=g.principal, settings=settings, csrf_token=session.get("csrf", "")
    )


@bp.get(HEALTHZ_PATH)
def healthz() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200
