"""Smoke test of the per-request cost benchmark: `bench/cost.py --quick` runs to the end and
prints the issue-11 table, every row with a ratio, the login and the memory figures.

Only that it completes and reports; the values are figures for people, never asserted here.
It needs wrk and redis-server (./run-tests installs both); without them it skips, which
tests/ci_strict.py turns into a failure under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.redis_server import redis_available

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROWS = (
    "plain Flask GET /healthz",
    "GET /healthz",
    "GET /api/user (file store)",
    "GET /api/user (Redis)",
    "GET /api/auth/verify (file store)",
    "GET /api/auth/verify (Redis)",
)


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
@pytest.mark.skipif(not redis_available(), reason="redis-server is not installed (apt-get install redis-server)")
@pytest.mark.timeout(100)
def test_cost_quick_run_prints_the_table_with_every_row_and_ratio(tmp_path):
    profiles = tmp_path / "profiles"
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "cost.py"), "--quick", "--no-install",
         "--profile", str(profiles)],
        cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )
    out = done.stdout
    assert done.returncode == 0, f"stdout:\n{out[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    table = out.split("route", 1)[1].split("provider back-channel calls", 1)[0]
    for label in ROWS:
        # route, requests, req/s, CPU µs per request, ratio, target (and met for targeted rows)
        line = re.search(rf"^{re.escape(label)}\s+\d+\s+\d+\s+\d+\s+(\d+\.\d\d)\s+(\S+)", table, re.M)
        assert line, f"no row for {label!r} in:\n{table}"
        if label == ROWS[0]:
            assert line.group(1) == "1.00", table
        else:
            assert re.search(rf"^{re.escape(label)}\s.*≤\d\.\d\d\s+(yes|NO)$", table, re.M), table
    assert "logins/s" in out and "server CPU per login" in out, out
    assert "after 150 sessions" in out and "workers MiB" in out, out
    assert "profiles (cProfile" in out, out
    assert any(name.endswith(".prof") for name in os.listdir(profiles)), os.listdir(profiles)
