"""The CI guard itself: under CI=true a skip fails, locally it stays a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = '''
import shutil
import pytest

def test_runs():
    assert True

@pytest.mark.skipif(shutil.which("no-such-server-binary") is None, reason="no-such-server-binary is not installed")
def test_needs_a_missing_binary():
    pass

def test_skips_inside():
    pytest.skip("redis-sentinel is missing")

@pytest.mark.ci_may_skip("allowed on purpose")
def test_allowed_to_skip():
    pytest.skip("optional")

@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert False
'''


def _run(tmp_path: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPATH"] = str(ROOT)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.ci_strict", "-q", "-rs", "-p", "no:cacheprovider",
         str(tmp_path / "test_sample.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )


def test_under_ci_a_skip_is_a_failure_naming_what_was_missing(tmp_path):
    result = _run(tmp_path, "true")
    assert result.returncode == 1, result.stdout
    # A skipif mark skips during setup, so that one is reported as an error: a failure too.
    assert "1 failed, 1 passed, 1 skipped, 1 xfailed, 1 error" in result.stdout, result.stdout
    assert "no-such-server-binary is not installed" in result.stdout
    assert "redis-sentinel is missing" in result.stdout


def test_locally_a_skip_stays_a_skip(tmp_path):
    result = _run(tmp_path, None)
    assert result.returncode == 0, result.stdout
    assert "1 passed, 3 skipped, 1 xfailed" in result.stdout, result.stdout
