"""What `ps` and `up`'s summary show beside the engine's own state: each instance's last exit, whether the
kernel killed it for memory, and where its start command is (running, stopping, stopped by `sv`).

The engine forgets a container's last exit once its restart policy starts it again, and knows nothing of
the start command inside an app container; the init keeps both in the container (`RUN_DIR`) and names a
marker process after the command's state, which the engine's process list shows without an exec.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

from orchestrator.engine import ContainerState, Engine
from orchestrator.failures import runs
from orchestrator.observed import Observed


@dataclass(frozen=True)
class InstanceDetail:
    """What `ps` (and `up`'s summary) shows beside the engine's state: the last run's exit status, whether
    the kernel killed it for memory, and where the start command is in a running app container."""

    exit_code: int
    oom: bool = False
    command: str = ""  # "" (runs, or not an app container), "app stopping", "app stopped by sv"


RUN_DIR = "/run/orchestrator"  # the init's state in app containers (templates/runtime/orchestrator-init)
COMMAND_STATES = {"stopping": "app stopping", "stopped": "app stopped by sv"}
# the processes the init names after the command's state while it is not running (orchestrator-init)
COMMAND_MARKS = {"orchestrator-app-stopped-by-sv": "stopped", "orchestrator-app-stopping": "stopping"}


def _command_state(engine: Engine, state: Observed) -> str:
    """Where a running app container's start command is (`running`, `stopping`, `stopped`), from the
    engine's list of its processes (an exec costs four times more: `ps` does this for every container),
    else from the init's file."""
    processes = engine.processes(state.id)
    if processes is None:
        return (engine.read_file(state.id, f"{RUN_DIR}/state") or b"").decode("utf-8", "replace").strip()
    return next((mark for name, mark in COMMAND_MARKS.items() if any(name in p for p in processes)), "running")


def instance_details(engine: Engine, states: list[Observed]) -> dict[str, InstanceDetail]:
    """Each container's InstanceDetail, all read at once: the engine's process list of each running app
    container, an exec into one the restart policy started again (the init's kept status), and the
    engine's events only for a restarted container whose init kept none."""
    def detail(seen: Observed) -> InstanceDetail:
        state = seen.engine_state
        command = ""
        if state.status == "running" and seen.is_app:
            command = COMMAND_STATES.get(_command_state(engine, seen), "")
        if state.status != "running" or not state.restart_count:
            return InstanceDetail(state.exit_code, state.oom_killed, command)
        kept = b""
        if seen.role != "service":
            kept = (engine.read_file(state.id, f"{RUN_DIR}/last-exit") or b"").strip()
        code, oom = (int(kept), None) if kept.isdigit() else _restarted_exit(engine, state)
        if oom is None:  # the engine keeps OOMKilled of the last run while the next one runs
            oom = state.oom_killed
        return InstanceDetail(code, bool(oom), command)

    if len(states) <= 1:
        return {state.id: detail(state) for state in states}
    with ThreadPoolExecutor(max_workers=min(8, len(states))) as pool:
        return dict(zip((state.id for state in states), pool.map(detail, states)))


EXIT_EVENTS_SECONDS = 3600  # how far back the engine's events are asked for a restarted container's last exit


def _restarted_exit(engine: Engine, state: ContainerState) -> tuple[int, bool]:
    """The last exit of a container the restart policy started again, and whether it was an out-of-memory
    kill, from the engine's last `die` event of it (and its `oom` events)."""
    now = time.time()
    ended = [run for run in runs(engine.container_events(state.id, now - EXIT_EVENTS_SECONDS, now))
             if run.exit_code is not None]
    return (cast(int, ended[-1].exit_code), ended[-1].oom) if ended else (state.exit_code, state.oom_killed)
