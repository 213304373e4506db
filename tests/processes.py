"""Stopping a process the tests started: SIGTERM, then SIGKILL when it does not exit in time."""

from __future__ import annotations

import subprocess


def stop(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    """Ends `proc` (and reaps it); a process that already exited is only reaped."""
    if proc is None:
        return
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    proc.wait(timeout)
