"""Deploy hooks and crons run on the web instance only; `sv` inside a worker; a failing deploy hook
fails the deploy and leaves the previous workers running; a running cron holds a deploy back."""

from __future__ import annotations

import threading
import time

import pytest

from tests.engine.conftest import PROJECTS, env_of, logs_of

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def ops(deploy):
    deployment = deploy(PROJECTS / "operations")
    deployment.first = deployment.ok("up")
    return deployment


def read(deployment, instance: str, path: str) -> str:
    code, output = deployment.container(instance).exec_run(["cat", path])
    return output.decode() if code == 0 else ""


def test_the_deploy_hook_runs_once_per_deploy_on_web_and_never_on_a_worker(ops):
    assert read(ops, "app", "/app/marks/deploy.log") == "deploy hook on app TYPE=web\n"
    assert read(ops, "app", "/app/marks/post_deploy.log") == "post_deploy\n"
    assert read(ops, "app--queue", "/app/marks/deploy.log") == ""
    assert "running the deploy hook of app app" in ops.first.stderr
    ops.ok("up")  # nothing changed: no deploy
    assert read(ops, "app", "/app/marks/deploy.log").count("\n") == 1


def test_sv_stop_and_start_inside_a_worker(ops):
    assert "queue: started" in logs_of(ops.container("app--queue"))
    stop = ops.cli("ssh", "--worker", "queue", "--", "sv", "stop", "app")
    assert stop.returncode == 0 and stop.stdout.startswith("ok: down: app"), stop.stdout + stop.stderr
    container = ops.container("app--queue")
    assert "queue: got SIGTERM" in logs_of(container)
    assert container.status == "running"  # the container stays up with the command stopped
    status = ops.cli("ssh", "--worker", "queue", "--", "sv", "status", "app")
    assert status.stdout.startswith("down: app")
    start = ops.cli("ssh", "--worker", "queue", "--", "sv", "start", "app")
    assert start.returncode == 0 and start.stdout.startswith("ok: run: app"), start.stdout + start.stderr
    assert logs_of(ops.container("app--queue")).count("queue: started") == 2
    assert ops.container("app--queue").attrs["RestartCount"] == 0


def test_a_cron_runs_on_web_within_70_seconds_and_never_on_a_worker(ops):
    deadline = time.monotonic() + 75
    while time.monotonic() < deadline and not read(ops, "app", "/app/marks/cron.log"):
        time.sleep(1)
    assert read(ops, "app", "/app/marks/cron.log").startswith("tick TYPE=web")
    assert "cron tick: started at" in logs_of(ops.container("app"))
    assert "cron tick: ended at" in logs_of(ops.container("app"))
    assert read(ops, "app--queue", "/app/marks/cron.log") == ""
    assert "ORCHESTRATOR_CRONS" not in env_of(ops.container("app--queue"))
    listed = ops.ok("cron list").stdout
    assert "tick" in listed and "long" in listed


def test_a_deploy_waits_for_a_running_cron(ops):
    runner = threading.Thread(target=lambda: ops.cli("cron run long"), daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while "long-start" not in read(ops, "app", "/app/marks/long.log") and time.monotonic() < deadline:
        time.sleep(0.2)
    started = time.monotonic()
    ops.edit("    FAIL_DEPLOY: \"no\"", "    FAIL_DEPLOY: \"no\"\n    AGAIN: \"1\"")
    result = ops.ok("up")
    assert "waiting for cron long to finish" in result.stderr
    assert time.monotonic() - started >= 12
    assert "long-end" in read(ops, "app", "/app/marks/long.log")
    runner.join(timeout=30)


def test_a_failing_deploy_hook_fails_the_deploy_and_leaves_the_previous_workers_running(ops):
    before = ops.ids()
    ops.edit('    FAIL_DEPLOY: "no"', '    FAIL_DEPLOY: "yes"')
    result = ops.cli("up")
    assert result.returncode == 1
    assert "deploy hook of app app exited with status 7" in result.stderr
    assert "the deploy hook fails on purpose" in result.stderr
    after = ops.containers()
    assert {name: c.id for name, c in after.items()} == before
    assert all(c.status == "running" for c in after.values())
    ops.edit('    FAIL_DEPLOY: "yes"', '    FAIL_DEPLOY: "no"')


def test_logs_of_several_instances_are_prefixed_by_instance(ops):
    every = ops.ok("logs").stdout.splitlines()
    assert {line.split(" | ", 1)[0].strip() for line in every} >= {"app", "app--queue"}
    queue = ops.ok("logs", "--worker", "queue", "--since", "10m").stdout.splitlines()
    assert queue and all(line.startswith("app--queue | ") for line in queue)
