"""Smoke test of the forward-auth benchmark: `bench/forward.py --quick` runs to the end and prints
its figures (the values are for people, never asserted)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.forward.proxies import require

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.timeout(150)
def test_forward_bench_quick_run_prints_its_figures(tmp_path):
    require("nginx", "nginx")
    require("wrk", "wrk")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "forward.py"), "--quick"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=140)
    out = done.stdout
    assert done.returncode == 0, f"stdout:\n{out[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    for figure in ("throughput ratio guarded / unguarded", "verify CPU / authenticated /api/user CPU",
                   "verify's own CPU per request through nginx", "provider calls during the load: 0"):
        assert figure in out, out
