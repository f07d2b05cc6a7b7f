"""What an instance's start command does, as `sv`, `ps`, `up` and `logs -f` show it on the real engine
(issue 14): `sv stop` returns once every process of the command is gone and `ps` and `up` say the command
is held; a crash loop logs each exit and shows its status; an out-of-memory kill names its limit; output
into a closed pipe is no error; old app images are pruned; `logs -f` follows a redeploy's new container.
The tests run in order on one deployment, each going on from the one before."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tests.engine.conftest import PROJECTS, logs_of, wait_for

pytestmark = pytest.mark.engine

GRACE = 4  # ORCHESTRATOR_GRACE of the project: TERM, then KILL after this many seconds


@pytest.fixture(scope="module")
def instances(deploy):
    deployment = deploy(PROJECTS / "instances")
    deployment.ok("up")
    return deployment


def table(output: str) -> dict[str, dict[str, str]]:
    """The rows of a `ps` table (in `ps` or `up` output), by instance, cut at the header's columns."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("INSTANCE "))
    header = lines[start]
    names = re.split(r"\s{2,}", header.strip())  # LAST EXIT is one column
    cuts = [header.index(name) for name in names] + [None]
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip() or line.startswith(("route ", "router:", "warning", "HTTPS")):
            break
        row = {name: line[cuts[i]:cuts[i + 1]].strip() for i, name in enumerate(names)}
        rows[row["INSTANCE"]] = row
    return rows


def ps(deployment) -> dict[str, dict[str, str]]:
    return table(deployment.ok("ps").stdout)


def group_processes(deployment, instance: str) -> list[str]:
    """The processes of `instance`'s start command (its shell and the child that ignores SIGTERM), not
    the init's (whose arguments hold the command too)."""
    processes = [" ".join(p) for p in deployment.container(instance).top(ps_args="-eo pid,args")["Processes"] or []]
    return [p for p in processes if "ignoring-child" in p and "orchestrator-init" not in p]


def test_sv_stop_returns_once_the_whole_group_is_gone_and_ps_and_up_show_the_held_command(instances):
    assert wait_for(lambda: "holder: started" in logs_of(instances.container("app--holder")))
    assert group_processes(instances, "app--holder")  # the child that ignores SIGTERM runs
    started = time.monotonic()
    stop = instances.cli("ssh", "--worker", "holder", "--", "sv", "stop", "app")
    took = time.monotonic() - started
    assert stop.returncode == 0 and stop.stdout.startswith("ok: down: app"), stop.stdout + stop.stderr
    # before: "ok: down" after about a second, while the child ran GRACE seconds more
    assert took >= GRACE - 0.5, took
    assert group_processes(instances, "app--holder") == []
    assert instances.container("app--holder").status == "running"
    row = ps(instances)["app--holder"]
    assert row["STATE"] == "running (app stopped by sv)", row  # before: "running"
    up = instances.ok("up")
    assert "0 change(s)" in up.stdout  # sv's hold is the user's: up leaves it as it is
    assert table(up.stdout)["app--holder"]["STATE"] == "running (app stopped by sv)", up.stdout
    start = instances.cli("ssh", "--worker", "holder", "--", "sv", "start", "app")
    assert start.returncode == 0 and start.stdout.startswith("ok: run: app"), start.stdout + start.stderr
    assert ps(instances)["app--holder"]["STATE"] == "running"
    assert group_processes(instances, "app--holder")


def test_a_crash_looping_worker_logs_each_exit_and_ps_and_up_show_its_status(instances):
    crasher = instances.container("app--crasher")
    # before: the init said nothing when the command exited
    assert wait_for(lambda: "orchestrator-init: app exited with status 1; restarting" in logs_of(crasher), 20)

    def running_again(output: str) -> dict[str, str] | None:
        row = table(output)["app--crasher"]
        return row if row["STATE"] == "running" and row["RESTARTS"] != "0" else None

    row = wait_for(lambda: running_again(instances.ok("ps").stdout), 60, 0.2)
    assert row and row["LAST EXIT"] == "1", row
    # `up`'s summary reads the last exit as `ps` does (before: 0 for a restarted container that runs)
    row = wait_for(lambda: running_again(instances.ok("up").stdout), 60, 0.2)
    assert row and row["LAST EXIT"] == "1", row


def test_an_out_of_memory_kill_shows_its_limit_in_ps_and_up(instances):
    def killed(output: str) -> dict[str, str] | None:
        row = table(output)["app--hog"]
        return row if row["RESTARTS"] != "0" or row["STATE"] != "running" else None

    row = wait_for(lambda: killed(instances.ok("ps").stdout), 30, 0.3)
    assert row and row["LAST EXIT"] == "137 (out of memory, limit 128 MB)", row  # before: "137 (out of memory)"
    row = wait_for(lambda: killed(instances.ok("up").stdout), 30, 0.3)
    assert row and row["LAST EXIT"] == "137 (out of memory, limit 128 MB)", row


def _into_closed_pipe(instances, *words: str) -> subprocess.CompletedProcess:
    """`orchestrator WORDS DIR --project NAME` with its stdout a pipe whose reader is gone (`| head` done)."""
    read, write = os.pipe()
    os.close(read)
    try:
        command = [sys.executable, "-m", "orchestrator", *words[:1], str(instances.dir), "--project",
                   instances.name, *words[1:]]
        return subprocess.run(command, cwd=REPO, stdout=write, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)


def test_ps_logs_and_ssh_into_a_closed_pipe_are_no_error(instances):
    for words in (("ps",), ("logs",), ("ssh", "--", "seq", "100000")):
        result = _into_closed_pipe(instances, *words)
        assert result.returncode == 0 and "Traceback" not in result.stderr and "Broken" not in result.stderr, \
            (words, result.returncode, result.stderr)


def app_images(instances) -> list[str]:
    return [image.id for image in instances.engine.images.list(
        filters={"label": [f"orchestrator.image.project={instances.name}", "orchestrator.image.app=app"]})]


def test_up_keeps_the_running_and_the_previous_app_image_and_down_volumes_removes_them(instances):
    images = [instances.container("app").image.id]
    assert app_images(instances) == images
    for text in ("two", "three", "four"):
        (instances.dir / "app.txt").write_text(text + "\n")
        instances.ok("up")
        images.append(instances.container("app").image.id)
    assert len(set(images)) == 4
    # before: all four stayed
    assert sorted(app_images(instances)) == sorted(images[-2:])
    assert {c.image.id for c in instances.containers().values()
            if c.labels["orchestrator.role"] in ("web", "worker")} == {images[-1]}


def test_logs_follow_goes_on_with_a_redeploys_new_container_and_ends_on_down(instances):
    follower = subprocess.Popen([sys.executable, "-m", "orchestrator", "logs", str(instances.dir), "--project",
                                 instances.name, "--worker", "ticker", "-f"], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        old = instances.container("app--ticker").id
        instances.edit("VERSION: v1", "VERSION: v2")
        instances.ok("up")
        assert instances.container("app--ticker").id != old
        time.sleep(3)
        assert follower.poll() is None, follower.communicate()  # before: it ended with the old container
        instances.ok("down", "--volumes")
        out, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
    assert follower.returncode == 0, err
    assert "ticker: started v1" in out and "ticker: started v2" in out, out
    assert out.index("ticker: started v1") < out.index("ticker: started v2")
    assert app_images(instances) == []  # down --volumes removed the app's images
