"""A small stand-in for the chat app behind the proxy: it shows the identity headers it
received and streams a reply as server-sent events. It trusts the proxy, as a real app would.

Run alone: `python -m tests.forward.chat_app PORT`."""

from __future__ import annotations

import html
import json
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, request
from werkzeug.serving import make_server

EVENTS = 5
EVENT_GAP = 0.4  # seconds between streamed events


def identity() -> dict[str, str]:
    """Every X-Auth-Request-* header as received (names lower-cased)."""
    return {k.lower(): v for k, v in request.headers.items() if k.lower().startswith("x-auth-request-")}


def create_chat_app() -> Flask:
    app = Flask("chat_app")

    @app.get("/")
    @app.get("/c/<path:rest>")
    @app.get("/admin/")
    def page(rest: str = "") -> Response:
        who = identity()
        body = (
            "<!doctype html><title>Chat</title><h1>Chat</h1>"
            f"<p id=user>{html.escape(who.get('x-auth-request-user', ''))}</p>"
            f"<p id=name>{html.escape(who.get('x-auth-request-name', ''))}</p>"
            f"<pre id=identity>{html.escape(json.dumps(who, sort_keys=True))}</pre>"
            f"<p id=path>{html.escape(request.full_path.rstrip('?'))}</p>"
        )
        return Response(body, mimetype="text/html")

    @app.route("/api/whoami", methods=["GET", "POST"])
    def whoami() -> dict[str, Any]:
        return {"identity": identity(), "path": request.full_path.rstrip("?"), "method": request.method,
                "body": request.get_data(as_text=True)}

    @app.get("/api/stream")
    def stream() -> Response:
        user = identity().get("x-auth-request-user", "")

        def events() -> Iterator[str]:
            for i in range(EVENTS):
                yield f"data: {json.dumps({'n': i, 'user': user, 'sent': time.time()})}\n\n"
                time.sleep(EVENT_GAP)

        return Response(events(), mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})

    return app


class ChatApp:
    """The sample app on 127.0.0.1:<free port>, in a thread."""

    def __init__(self) -> None:
        self.server = make_server("127.0.0.1", 0, create_chat_app(), threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "ChatApp":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    make_server("127.0.0.1", int(sys.argv[1]), create_chat_app(), threaded=True).serve_forever()
