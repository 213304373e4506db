"""The wheel works outside the checkout: `pip wheel .` (not editable), installed with
--no-deps into a fresh venv in a temp folder that borrows only the checkout venv's
dependencies, then `oidc-login demo` serves every page (login, the provider's login and
consent, home, /api/user, an error page, 404)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests

from tests.devidp.test_devidp_demo import _form, free_port, stop, wait_for_output

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv outside the checkout with the freshly built wheel; returns its bin folder."""
    work = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(ROOT)],
        capture_output=True, text=True, timeout=240,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    wheel = next((work / "dist").glob("oidc_login-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "app/templates/login.html" in names and "app/templates/devidp/consent.html" in names
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True, timeout=30).stdout.strip())
    # Dependencies from the checkout's venv (a plain path: its .pth files, among them the
    # editable install of this checkout, are not processed).
    (site / "zz_checkout_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
         "--no-index", "-q", str(wheel)],
        capture_output=True, text=True, timeout=240,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return venv / "bin"


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENID_", "DOMAIN_", "REDIS_", "PYTHON", "VIRTUAL_ENV"))}
    env["INSTANCE_PATH"] = str(home / "instance")
    return env


def test_the_installed_package_is_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    probe = subprocess.run(
        [str(installed / "python"), "-c",
         "import app, app.resources as r; print(app.__file__); print(r.templates_dir())"],
        cwd=tmp_path, env=_clean_env(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    module, templates = probe.stdout.split()
    assert not module.startswith(str(ROOT)) and not templates.startswith(str(ROOT))
    assert templates.endswith(os.path.join("app", "templates"))


@pytest.mark.timeout(150)
def test_demo_from_the_wheel_serves_every_page(installed: Path, tmp_path: Path) -> None:
    port, idp_port = free_port(), free_port()
    proc = subprocess.Popen(
        [str(installed / "oidc-login"), "demo", "--port", str(port), "--idp-port", str(idp_port)],
        cwd=tmp_path, env=_clean_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )
    base = f"http://localhost:{port}"
    try:
        out = wait_for_output(proc, "Ctrl-C", timeout=90)
        user, password = re.search(r"Login\s+(\S+) / (\S+)", out).groups()  # type: ignore[union-attr]
        browser = requests.Session()
        login_page = browser.get(base + "/login", timeout=10)
        assert login_page.status_code == 200 and "Continue with Dev IdP" in login_page.text
        resp = browser.get(base + "/oauth/openid?return_to=/", timeout=10)
        assert resp.status_code == 200 and "<form" in resp.text  # the provider's login page
        action, fields = _form(resp.text)
        resp = browser.post(urljoin(resp.url, action), data={**fields, "username": user, "password": password,
                                                             "action": "login"}, timeout=10)
        assert resp.status_code == 200 and "/consent" in resp.url  # the consent page
        action, fields = _form(resp.text)
        resp = browser.post(urljoin(resp.url, action), data={**fields, "decision": "allow"}, timeout=10)
        assert resp.url == base + "/" and resp.status_code == 200  # home
        assert "logout" in resp.text.lower()
        assert browser.get(base + "/api/user", timeout=10).json()["sub"] == "devidp|demo"
        error = requests.get(base + "/oauth/openid/callback?state=nope", timeout=10)
        assert error.status_code == 400 and "INVALID_STATE" in error.text and "<html" in error.text.lower()
        missing = requests.get(base + "/no-such-page", timeout=10)
        assert missing.status_code == 404 and "<html" in missing.text.lower()
        assert requests.get(base + "/readyz", timeout=10).status_code == 200
    finally:
        code, _, err = stop(proc, signal.SIGINT, timeout=40)
    assert "Traceback" not in err, err[-3000:]
    assert "TemplateNotFound" not in err
