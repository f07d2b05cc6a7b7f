"""Signals and restarts on the real engine: SIGTERM reaches the whole process group, a command that
ignores it is killed after the 15 s grace, exits are restarted, `stop` holds until `start`."""

from __future__ import annotations

import threading
import time

import pytest

from tests.engine.conftest import PROJECTS, logs_of, wait_for

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def lifecycle(deploy):
    deployment = deploy(PROJECTS / "lifecycle")
    deployment.ok("up")
    return deployment




def test_dependencies_and_a_build_hooks_pip_install_work_through_the_hosts_ca(lifecycle):
    container = lifecycle.container("app--trapper")
    code, output = container.exec_run(["sh", "-c", "cat /app/build-proof.txt; python3 -c 'import six, idna'"])
    assert (code, output.decode().strip()) == (0, "build hook: pip install worked")


def test_a_worker_that_traps_sigterm_gets_it_and_exits_cleanly(lifecycle):
    assert wait_for(lambda: "trapper: started" in logs_of(lifecycle.container("app--trapper")))
    started = time.monotonic()
    lifecycle.ok("stop", "--worker", "trapper")
    elapsed = time.monotonic() - started
    container = lifecycle.container("app--trapper")
    assert "trapper: got SIGTERM" in logs_of(container)
    assert container.attrs["State"]["ExitCode"] == 0 and elapsed < 10
    time.sleep(3)
    container.reload()
    assert container.status == "exited"  # stopped for good: the restart policy leaves it alone
    lifecycle.ok("start", "--worker", "trapper")
    assert wait_for(lambda: lifecycle.container("app--trapper").status == "running")


def test_a_multi_line_start_commands_child_gets_the_signal(lifecycle):
    assert wait_for(lambda: "multiline-child: started" in logs_of(lifecycle.container("app--multiline")))
    lifecycle.ok("stop", "--worker", "multiline")
    assert "multiline-child: got SIGTERM" in logs_of(lifecycle.container("app--multiline"))


def test_a_worker_that_ignores_sigterm_is_killed_after_the_grace(lifecycle):
    assert wait_for(lambda: "ignorer: started" in logs_of(lifecycle.container("app--ignorer")))
    started = time.monotonic()
    lifecycle.ok("stop", "--worker", "ignorer")
    elapsed = time.monotonic() - started
    assert 14 <= elapsed <= 20, elapsed
    assert lifecycle.container("app--ignorer").attrs["State"]["ExitCode"] == 137


def test_exits_with_status_0_and_1_are_both_restarted_and_ps_counts_them(lifecycle):
    for name in ("app--exit0", "app--exit1"):
        assert wait_for(lambda: lifecycle.container(name).attrs["RestartCount"] >= 2, timeout=40), name
    ps = lifecycle.ok("ps").stdout
    rows = {line.split()[0]: line.split() for line in ps.splitlines() if line.startswith("app--exit")}
    assert int(rows["app--exit0"][3]) >= 2 and int(rows["app--exit1"][3]) >= 2


def test_a_redeploy_stops_the_old_worker_with_sigterm(lifecycle):
    old = lifecycle.container("app--trapper")
    captured: list[bytes] = []
    since = int(time.time())
    follower = threading.Thread(target=lambda: captured.extend(old.logs(stream=True, follow=True, since=since)),
                                daemon=True)
    follower.start()
    lifecycle.edit("      start: python3 trapper.py trapper", "      start: python3 trapper.py trapper --again")
    lifecycle.ok("up")
    follower.join(timeout=30)
    assert "trapper: got SIGTERM" in b"".join(captured).decode()
    assert lifecycle.container("app--trapper").id != old.id
