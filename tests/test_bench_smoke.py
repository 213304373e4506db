"""Smoke test of the benchmark: `bench/run.py --quick` runs to the end and prints its figures.

Only that it completes and reports; the values are figures for people, never asserted here.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.timeout(100)
def test_bench_quick_run_prints_the_three_figures(tmp_path):
    done = subprocess.run(
        [sys.executable, os.path.join(ROOT, "bench", "run.py"), "--quick", "--no-install"],
        cwd=tmp_path, capture_output=True, text=True, timeout=90,
    )
    out = done.stdout
    assert done.returncode == 0, f"stdout:\n{out[-3000:]}\nstderr:\n{done.stderr[-3000:]}"
    for figure in (
        "auth/healthz throughput ratio",
        "refresh grants per expiry",
        "back-channel calls per warm login",
    ):
        assert figure in out, out
    assert "VmRSS" in out, out
