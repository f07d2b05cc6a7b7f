"""Stopping ten workers that ignore SIGTERM takes about one grace period, not ten: they stop in parallel."""

from __future__ import annotations

import time

import pytest

from tests.engine.conftest import PROJECTS

pytestmark = pytest.mark.engine


def test_ten_sigterm_ignoring_workers_stop_in_one_grace_period(deploy):
    many = deploy(PROJECTS / "many")
    many.ok("up")
    assert len([n for n in many.containers() if n.startswith("app--w")]) == 10
    time.sleep(1)
    started = time.monotonic()
    many.ok("down")
    elapsed = time.monotonic() - started
    assert 14 <= elapsed < 30, elapsed  # one 15 s grace, plus overhead; sequential stops would take 150 s
