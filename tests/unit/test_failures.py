"""Why an instance or a hook failed, said before a rollback removes anything: the exact texts, and the
Deployer's use of them, on a fake engine (the engine tests show the same on the real one)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from orchestrator.controller import Action, Deployer, DeployFailed
from orchestrator.engine import ContainerState, EngineError
from orchestrator.failures import Crash, Sizing, runs
from orchestrator.plan import ContainerSpec

SIZING = Sizing("app", 224, "AUTO", "HIGH_CPU")


def event(action: str, seconds: float, code: int | None = None) -> dict:
    attributes = {"exitCode": str(code)} if code is not None else {}
    return {"Action": action, "timeNano": int(seconds * 1e9), "Actor": {"Attributes": attributes}}


def test_runs_pair_each_start_with_its_die_and_oom():
    found = runs([event("start", 100.0), event("die", 100.25, 1), event("start", 101.0), event("oom", 101.5),
                  event("die", 101.6, 137), event("start", 103.0)])
    assert [(r.exit_code, r.seconds, r.oom) for r in found] == [(1, 0.25, False), (137, pytest.approx(0.6), True),
                                                                 (None, None, False)]


def test_a_crash_says_status_run_time_and_the_apps_own_last_lines():
    crash = Crash("web instance app", 1, 0.24, 3, False, SIZING,
                  ("Traceback (most recent call last):", "ModuleNotFoundError: No module named 'nope'"))
    assert crash.text("while its deploy hook ran") == (
        "web instance app exited with status 1 after 0.2 s (3 exits so far) while its deploy hook ran; its last "
        "log lines:\n"
        "    Traceback (most recent call last):\n    ModuleNotFoundError: No module named 'nope'")


def test_an_out_of_memory_kill_names_the_limit_the_size_the_profile_and_how_to_raise_it():
    assert SIZING.out_of_memory() == (
        "out of memory: limit 224 MB (size AUTO, profile HIGH_CPU); raise it with `orchestrator up --size app=1` "
        "(384 MB; --size app=2: 704 MB), or the same in $ORCHESTRATOR_SIZES")
    crash = Crash("worker queue", 137, 1.5, 1, True, replace(SIZING, instance="app--queue"), ())
    assert crash.text() == ("worker queue was killed (status 137 after 1.5 s): out of memory: limit 224 MB (size "
                            "AUTO, profile HIGH_CPU); raise it with `orchestrator up --size app--queue=1` (384 MB; "
                            "--size app--queue=2: 704 MB), or the same in $ORCHESTRATOR_SIZES; it logged nothing")


# -- the Deployer on a fake engine ------------------------------------------------------------------
def state(status: str = "running", restarts: int = 0, exit_code: int = 0, oom: bool = False) -> ContainerState:
    return ContainerState(id="new", name="p-app-next", labels={"orchestrator.instance": "app",
                                                               "orchestrator.size": "AUTO",
                                                               "orchestrator.profile": "HIGH_CPU"},
                          image_id="i", status=status, restart_count=restarts, exit_code=exit_code,
                          started_at="", finished_at="", host_port=None, memory_mb=224, oom_killed=oom)


@dataclass
class FakeEngine:
    """Just what the Deployer asks when a hook fails or a deploy rolls back; records the calls."""

    states: list[ContainerState]  # what inspect answers, one after the other (the last one sticks)
    hook: object = 0  # the hook's exit status, or an exception its exec raises
    kills: list[int] = field(default_factory=lambda: [0])  # the memory cgroup's oom_kill, one read after another
    events: list[dict] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    def inspect(self, container: str) -> ContainerState | None:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def container_events(self, container: str, since: float, until: float) -> list[dict]:
        return self.events

    def log_tail(self, container: str, count: int) -> str:
        return "[2026] Booting worker\nModuleNotFoundError: No module named 'nope' (password s3cret)"

    def container_env(self, container: str) -> dict[str, str]:
        return {"DATABASE_PASSWORD": "s3cret"}

    def oom_kills(self, container: str) -> int | None:
        return self.kills.pop(0) if len(self.kills) > 1 else self.kills[0]

    def exec_stream(self, container, command, on_stdout, on_stderr, **kwargs) -> int:
        if isinstance(self.hook, Exception):
            raise self.hook
        on_stdout(b"Killed\n" if self.hook == 137 else b"migrating\n")
        return self.hook

    def stop(self, container: str, timeout: int) -> None:
        self.calls.append(f"stop {container} {timeout}")

    def remove(self, container: str) -> None:
        self.calls.append(f"remove {container}")

    def start(self, container: str) -> None:
        self.calls.append(f"start {container}")


def web_action(stop_timeout: int = 15) -> Action:
    spec = ContainerSpec(name="app", container="p-app", app="app", role="web", image="img", command="gunicorn nope:app",
                         env={}, mounts=(), networks=(), cpus=0.5, memory_mb=224, hooks={"deploy": "migrate"},
                         stop_timeout=stop_timeout)
    return Action("create", "app", "web", "new instance", "app", spec)


def failure(engine: FakeEngine) -> str:
    deployer = Deployer(engine, lambda line: None, started_at=100.0)
    with pytest.raises(DeployFailed) as raised:
        deployer.run_checked_hook(web_action(), "deploy", "new")
    return str(raised.value)


def test_a_web_instance_that_crashed_before_its_deploy_hook_is_the_error_not_the_hook():
    engine = FakeEngine([state("restarting", 2, 1)], events=[event("start", 100.1), event("die", 100.3, 1)])
    assert failure(engine) == ("web instance app exited with status 1 after 0.2 s before its deploy hook could run; "
                               "its last log lines:\n    [2026] Booting worker\n"
                               "    ModuleNotFoundError: No module named 'nope' (password ********)")


def test_a_crash_while_the_hook_ran_is_the_error_with_the_hooks_own_output_after_it():
    engine = FakeEngine([state(), state("restarting", 1, 1)], hook=137,
                        events=[event("start", 100.1), event("die", 100.9, 1)])
    assert failure(engine).startswith("web instance app exited with status 1 after 0.8 s while its deploy hook ran; "
                                      "its last log lines:\n    [2026] Booting worker\n")
    assert failure(FakeEngine([state(), state("restarting", 1, 1)], hook=137)).endswith(
        "\nthe deploy hook's output:\n    Killed")


def test_a_hook_exec_refused_by_a_restarting_container_is_the_crash():
    engine = FakeEngine([state(), state("restarting", 1, 1)], hook=EngineError("container is restarting"))
    assert failure(engine).startswith("web instance app exited with status 1")


def test_a_deploy_hook_killed_for_memory_says_out_of_memory_and_how_to_raise_it():
    engine = FakeEngine([state()], hook=137, kills=[0, 1])
    assert failure(engine) == (
        "the deploy hook of app app was killed (status 137): out of memory: limit 224 MB (size AUTO, profile "
        "HIGH_CPU); raise it with `orchestrator up --size app=1` (384 MB; --size app=2: 704 MB), or the same in "
        "$ORCHESTRATOR_SIZES\nthe deploy hook's output:\n    Killed")


def test_a_hook_that_simply_fails_keeps_its_own_message():
    engine = FakeEngine([state()], hook=7)
    assert failure(engine) == "the deploy hook of app app exited with status 7; its output:\n    migrating"


def test_a_rollback_stops_each_new_container_with_its_grace_before_removing_it():
    engine = FakeEngine([state()])
    Deployer(engine, lambda line: None)._roll_back([web_action(stop_timeout=40)], {"app": "new"})
    assert engine.calls == ["stop new 40", "remove new"]
