"""Interrupting `up` for real, at a step: Ctrl-C (SIGINT to its process group, as a terminal sends it) while
the old workers stop or while the deploy hook runs, and SIGKILL mid-deploy that leaves a running `-next`
copy behind. After each: one copy of each instance, stopped gracefully (never SIGKILLed), the lock free.
The project's web and worker note `sigterm <host>` and, STOP_SECONDS later, `stopped <host>` in their
mount when they get SIGTERM, so a graceful stop shows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import docker.errors
import pytest

from tests.conftest import REPO
from tests.engine.conftest import PROJECTS, wait_for

pytestmark = pytest.mark.engine
SIZES = {"app": ["S", "M"], "app--slow": ["S", "M"]}  # alternated: each deploy recreates the instance


@pytest.fixture(scope="module")
def project(deploy):
    deployment = deploy(PROJECTS / "interrupts")
    deployment.first = deployment.ok("up")
    deployment.sizes = {}
    return deployment


def size_arguments(deployment) -> list[str]:
    """`--size` for each instance as the deployment has it now."""
    return [arg for name, size in sorted(deployment.sizes.items()) for arg in ("--size", f"{name}={size}")]


def toggle_size(deployment, instance: str) -> None:
    """The other of the instance's two sizes: what an `up` asks for, or undoes once it was rolled back."""
    current = deployment.sizes.get(instance)
    deployment.sizes[instance] = SIZES[instance][1] if current == SIZES[instance][0] else SIZES[instance][0]


def next_size(deployment, instance: str) -> list[str]:
    """`--size` arguments that change `instance` (and keep every other instance as it is)."""
    toggle_size(deployment, instance)
    return size_arguments(deployment)


class Up:
    """`orchestrator up` in its own process group, its stderr collected line by line as it comes."""

    def __init__(self, deployment, args: list[str]) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "orchestrator", "up", str(deployment.dir), "--project",
                                         deployment.name, *args], cwd=REPO, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(iter(self.process.stderr.readline, "")),
                                       daemon=True)
        self.reader.start()

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 300) -> None:
        assert wait_for(lambda: text in self.stderr or self.process.poll() is not None, timeout, step=0.05)
        assert text in self.stderr, f"`up` ended before `{text}`:\n{self.stderr}"

    def signal(self, number: int) -> None:
        os.killpg(self.process.pid, number)

    def end(self, timeout: float = 120) -> int:
        self.process.wait(timeout)
        self.reader.join(10)
        return self.process.returncode


def containers(deployment) -> dict[str, object]:
    """Name -> container, every container of the project."""
    found = deployment.engine.containers.list(ignore_removed=True, all=True,
                                              filters={"label": f"orchestrator.project={deployment.name}"})
    return {c.name: c for c in found}


def marks(container, name: str) -> str:
    """A file of the container's `marks` mount; "" while it cannot be read."""
    try:
        code, output = container.exec_run(["cat", f"/app/marks/{name}"])
    except docker.errors.APIError:
        return ""
    return output.decode() if code == 0 else ""


def write_mark(container, name: str, text: str) -> None:
    code, output = container.exec_run(["sh", "-c", f"printf '%s' '{text}' > /app/marks/{name}"])
    assert code == 0, output


def one_copy_each(deployment) -> dict[str, object]:
    """Exactly one container per planned instance, under its own name, running."""
    found = containers(deployment)
    assert sorted(found) == sorted(f"{deployment.name}-{i}" for i in ("app", "app--slow", "router")), sorted(found)
    for container in found.values():
        assert container.status == "running", (container.name, container.status)
    return found


def running_copy(deployment, instance: str):
    return wait_for(lambda: next((c for c in containers(deployment).values()
                                  if c.name == f"{deployment.name}-{instance}-next" and c.status == "running"), None),
                    120, step=0.05)


def up_in_the_hook(deployment, seconds: str):
    """An `up` that resizes web, caught once the deploy hook (lasting `seconds`) has begun in the new web
    copy: the `up`, the old web container and the new copy."""
    web = deployment.container("app")
    write_mark(web, "hook-seconds", seconds)
    up = Up(deployment, next_size(deployment, "app"))
    new = running_copy(deployment, "app")
    assert new is not None, up.stderr
    assert wait_for(lambda: f"hook-start {new.id[:12]}" in marks(new, "hook.log"), 60), up.stderr
    return up, web, new


def kill_during_the_hook(deployment) -> object:
    """SIGKILL `up` while the deploy hook runs in the new web instance, once that instance's app is up: a
    running `-next` copy of web is left (the old one stopped)."""
    up, _, new = up_in_the_hook(deployment, "30")
    assert wait_for(lambda: f"started {new.id[:12]}" in marks(new, "stops.log"), 60), up.stderr
    up.signal(signal.SIGKILL)
    up.end()
    write_mark(new, "hook-seconds", "0")
    return new


def test_up_masks_the_secrets_a_deploy_hook_prints(project):
    assert "deploy: deploy hook: password ********" in project.first.stderr, project.first.stderr
    assert "hook-s3cret-pass" not in project.first.stderr + project.first.stdout


def test_a_running_next_leftover_is_stopped_with_sigterm_and_its_grace_not_killed(project):
    leftover = kill_during_the_hook(project)
    host = leftover.id[:12]
    result = project.ok("up", *size_arguments(project))
    assert "(leftover of an interrupted deploy" in result.stderr, result.stderr
    found = one_copy_each(project)
    stops = marks(found[f"{project.name}-app"], "stops.log")
    assert f"sigterm {host}" in stops and f"stopped {host}" in stops, stops  # not SIGKILLed: it ran its grace


def test_ctrl_c_while_the_old_workers_stop_leaves_one_copy_of_each_and_frees_the_lock(project):
    old = project.container("app--slow")
    host = old.id[:12]
    up = Up(project, next_size(project, "app--slow"))
    up.wait_for_line("stopping worker slow")
    time.sleep(0.5)  # the stop request is on its way: the worker takes STOP_SECONDS to stop
    up.signal(signal.SIGINT)
    status = up.end()
    found = one_copy_each(project)
    worker = found[f"{project.name}-app--slow"]
    assert worker.id == old.id  # rolled back: the old worker runs again
    assert status == 130, up.stderr
    assert "interrupted: finishing the current step, then restoring the previous containers" in up.stderr
    assert "error: interrupted" in up.stderr and "Traceback" not in up.stderr, up.stderr
    stops = marks(worker, "stops.log")
    assert f"stopped {host}" in stops, stops  # its stop was finished, gracefully
    started = time.monotonic()
    result = project.ok("up", *size_arguments(project))
    assert "waiting for it to finish" not in result.stderr and time.monotonic() - started < 120
    assert project.container("app--slow").id != old.id  # and that deploy went through
    one_copy_each(project)


def test_ctrl_c_during_the_deploy_hook_lets_it_finish_then_rolls_back(project):
    up, web, new = up_in_the_hook(project, "4")
    host = new.id[:12]
    up.signal(signal.SIGINT)
    status = up.end()
    write_mark(project.container("app"), "hook-seconds", "0")
    assert status == 130, up.stderr
    hooks = marks(project.container("app"), "hook.log")
    assert f"hook-end {host}" in hooks, (hooks, up.stderr)  # the hook was let finish
    assert "interrupted: restoring the previous containers" in up.stderr, up.stderr
    found = one_copy_each(project)  # the new web (and the hook's processes in it) are gone
    assert found[f"{project.name}-app"].id == web.id
    toggle_size(project, "app")  # the rolled-back up's size did not happen


def test_a_second_ctrl_c_stops_the_deploy_hook_and_rolls_back(project):
    up, web, new = up_in_the_hook(project, "60")
    host = new.id[:12]
    up.signal(signal.SIGINT)
    up.wait_for_line("Ctrl-C again to stop now")
    started = time.monotonic()
    up.signal(signal.SIGINT)
    status = up.end()
    write_mark(project.container("app"), "hook-seconds", "0")
    assert status == 130, up.stderr
    assert time.monotonic() - started < 45, up.stderr  # not the hook's 60 s
    assert "stopping the deploy hook of app app" in up.stderr, up.stderr
    assert f"hook-end {host}" not in marks(project.container("app"), "hook.log")
    found = one_copy_each(project)
    assert found[f"{project.name}-app"].id == web.id
    toggle_size(project, "app")  # the rolled-back up's size did not happen


def test_start_never_starts_a_next_copy_and_ps_says_a_deploy_was_interrupted(project):
    leftover = kill_during_the_hook(project)
    ps = project.ok("ps")
    assert "a deploy was interrupted" in ps.stdout and "`orchestrator up` finishes it" in ps.stdout, ps.stdout
    project.ok("stop")
    assert wait_for(lambda: all(c.status in ("exited", "created") for c in containers(project).values()), 60)
    result = project.ok("start")
    assert f"not starting {leftover.name}" in result.stderr, result.stderr
    assert f"not starting {project.name}-app:" in result.stderr, result.stderr  # nor the old copy: only up decides
    found = containers(project)
    assert found[leftover.name].status == "exited" and found[f"{project.name}-app"].status == "exited"
    assert found[f"{project.name}-app--slow"].status == "running"
    project.ok("up", *size_arguments(project))
    one_copy_each(project)


def test_ctrl_c_during_the_build_stops_it_changes_nothing_and_leaves_no_build_container(project):
    before = project.ids()
    project.edit('BUILD_SECONDS: "0"', 'BUILD_SECONDS: "120"')
    builds = {"name": f"{project.name}-app-build"}
    try:
        up = Up(project, [a for name, size in sorted(project.sizes.items()) for a in ("--size", f"{name}={size}")])
        running = wait_for(lambda: [c for c in project.engine.containers.list(filters=builds)], 300, step=0.1)
        assert running, up.stderr
        time.sleep(1)
        up.signal(signal.SIGINT)
        status = up.end()
    finally:
        project.edit('BUILD_SECONDS: "120"', 'BUILD_SECONDS: "0"')
    assert status == 130, up.stderr
    assert "interrupted during the build: nothing that runs was changed" in up.stderr, up.stderr
    assert not project.engine.containers.list(all=True, filters=builds)
    assert project.ids() == before
    one_copy_each(project)
