"""The TLS certificate the proxies serve in the tests: issued at test time by a test CA
(`tests/tls.py`) for 127.0.0.1 and localhost."""

from __future__ import annotations

from pathlib import Path

from tests.tls import TestCA


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """cert.pem (the server certificate followed by its CA, so a client trusts exactly this
    one file) and key.pem, in `directory`."""
    files = TestCA("oidc-login test proxy CA").issue(directory, "proxy")
    cert = directory / "cert.pem"
    cert.write_bytes(Path(files.cert).read_bytes() + Path(files.ca).read_bytes())
    return cert, Path(files.key)
