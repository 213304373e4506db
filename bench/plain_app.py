"""The baseline every figure of bench/cost.py is divided by: a plain Flask app, one route.

    python bench/plain_app.py     # serves on HOST:PORT, settings from the environment

It answers `GET /healthz` with a small JSON, like oidc-login's own `/healthz`, on the same
Flask and Werkzeug, and runs under gunicorn with exactly the options `oidc-login serve` builds
(`app.serving.gunicorn_options`: gthread, WEB_WORKERS, WEB_THREADS, keep-alive, the access log
on stdout with the same format). Only the logger class is gunicorn's stock one: the redaction
filters and the JSON formatter are part of what oidc-login costs, not of the baseline.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from flask import Flask

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

app = Flask(__name__)


@app.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200


def main() -> int:
    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger

    from app.serving import gunicorn_options
    from app.settings import load_settings

    options = gunicorn_options(load_settings(), Logger)

    class PlainServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app

    PlainServer().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
