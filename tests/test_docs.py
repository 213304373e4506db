"""The documents admins read: every setting of the contract is in .env.example and the README,
and the README gives the two set-up commands that .ci/run and the demo use."""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import load_settings
from tests.test_errors import contract_document

ROOT = Path(__file__).resolve().parent.parent


def contract_settings() -> list[str]:
    """Names in the first column of the contract's settings table (`A`, or `A`, `B`)."""
    section = contract_document().read_text().split("## Settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([A-Z_]+)`(?:, `([A-Z_]+)`)?", section, re.M)
    return sorted({name for row in rows for name in row if name})


def test_env_example_documents_every_contract_setting():
    text = (ROOT / ".env.example").read_text()
    names = contract_settings()
    assert len(names) >= 25
    missing = [name for name in names if not re.search(rf"^#?{name}=", text, re.M)]
    assert missing == []


def test_readme_documents_every_contract_setting():
    text = (ROOT / "README.md").read_text()
    assert [name for name in contract_settings() if f"`{name}`" not in text] == []


def test_env_example_is_a_valid_configuration(monkeypatch, tmp_path):
    """Copied to .env it loads (placeholders and all), so admins start from something that parses."""
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    settings = load_settings(values, use_dotenv=False)
    assert settings.cookie_name == "oidc_login" and not settings.reuse_tokens


def test_readme_gives_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    assert "./oidc-login demo" in readme and "./run-tests" in readme
    assert "./run-tests" in (ROOT / ".ci" / "run").read_text()


def test_env_example_documents_every_variable_the_server_reads():
    source = (ROOT / "app" / "settings.py").read_text()
    read = set(re.findall(r'r\.(?:text|flag|number|url|required)\(\s*"([A-Z_]+)"', source))
    assert len(read) >= 35
    text = (ROOT / ".env.example").read_text()
    assert sorted(name for name in read if not re.search(rf"^#?{name}=", text, re.M)) == []
