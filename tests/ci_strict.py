"""Under CI=true no test passes by skipping: a skip (a missing redis-server, redis-sentinel,
tinyproxy, nginx, caddy, chromium, node or oidc-provider install ...) becomes a failure
that names what was missing. Locally a skip stays a skip, so a developer without Chromium
can still run the rest.

A test whose skip is legitimate even in CI (none today) says so with
`@pytest.mark.ci_may_skip("why")`. Loaded by tests/conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

STRICT_VALUES = {"1", "true", "yes"}


def strict() -> bool:
    return os.environ.get("CI", "").strip().lower() in STRICT_VALUES


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ci_may_skip(reason): this test may skip even under CI=true")


def _reason(report: pytest.TestReport) -> str:
    longrepr: Any = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not (report.skipped and strict()) or hasattr(report, "wasxfail"):
        return
    if item.get_closest_marker("ci_may_skip") is not None:
        return
    report.outcome = "failed"
    report.longrepr = (
        f"CI=true: this test would have been skipped ({_reason(report)}). CI must run it: "
        "install what is missing in ./run-tests, or mark the test ci_may_skip with a reason."
    )
