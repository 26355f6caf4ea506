"""Health-check bookkeeping (pure): which command a check runs and how results fold in."""

from __future__ import annotations

from wharfie.containers.health import probe_argv, record
from wharfie.units import go_duration


def test_probe_argv() -> None:
    assert probe_argv({"Test": ["NONE"]}, None) is None
    assert probe_argv({}, None) is None
    assert probe_argv({"Test": ["CMD", "curl", "-f", "x"]}, None) == ["curl", "-f", "x"]
    assert probe_argv({"Test": ["CMD-SHELL", "exit 1"]}, None) == ["/bin/sh", "-c", "exit 1"]
    assert probe_argv({"Test": ["CMD-SHELL", "x"]}, ["bash", "-ec"]) == ["bash", "-ec", "x"]


def _r(code: int) -> dict:  # type: ignore[type-arg]
    return {"ExitCode": code, "Output": "", "Start": "", "End": ""}


def test_record_counts_failures_like_docker() -> None:
    h = {"Status": "starting", "FailingStreak": 0, "Log": []}
    assert record(h, _r(1), retries=2, in_start_period=True) == "starting"  # not counted yet
    assert h["FailingStreak"] == 0
    assert record(h, _r(1), retries=2, in_start_period=False) == "starting"
    assert record(h, _r(1), retries=2, in_start_period=False) == "unhealthy"
    assert record(h, _r(0), retries=2, in_start_period=False) == "healthy" and h["FailingStreak"] == 0
    assert record(h, _r(1), retries=2, in_start_period=True) == "healthy"  # healthy once: counts
    assert h["FailingStreak"] == 1
    for _ in range(10):
        record(h, _r(0), retries=2, in_start_period=False)
    assert len(h["Log"]) == 5


def test_go_duration() -> None:
    cases = {0: "0s", 300_000_000: "300ms", 1_500_000_000: "1.5s", 90 * 10**9: "1m30s",
             7200 * 10**9: "2h0m0s", 1500: "1.5µs", 999: "999ns", -(2 * 10**9): "-2s"}
    for ns, text in cases.items():
        assert go_duration(ns) == text
