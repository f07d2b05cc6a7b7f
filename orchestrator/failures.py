"""Why an instance or a hook failed, said while the container still exists.

A container that a deploy rolls back is removed, and with it the only record of why it failed: its log
(a gunicorn `ModuleNotFoundError`), its exit status and whether the kernel killed it for memory. So the
message is made here, from the engine, before anything is removed:

- the exit status and how long the run lasted, from the engine's events (`start`, `die` with its
  exitCode), since the restart policy has often replaced the failed run before anyone looks; the
  engine's State (StartedAt/FinishedAt) where the events are not available;
- out of memory: the engine's `OOMKilled` and `oom` events when the container's own process died, and
  the memory cgroup's `oom_kill` counter for a process killed inside a container that runs on (the init
  stays PID 1; a deploy hook, a gunicorn worker), which the engine does not report. Both were checked on
  cgroup v1 (Docker 20.10: `memory.oom_control`) and the counter is read on cgroup v2 too (`memory.events`);
- its last log lines, with the secrets of its environment masked.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import takewhile
from typing import Any

from orchestrator.engine import ContainerState, Engine
from orchestrator.sizing import memory_advice

LOG_LINES = 20
EVENT_MARGIN = 2.0  # seconds before `since` still read: the engine's clock and ours may differ a little


@dataclass(frozen=True)
class Sizing:
    """What an instance was given, as an out-of-memory message names it."""

    instance: str
    memory_mb: int
    size: str
    profile: str

    @classmethod
    def of(cls, state: ContainerState) -> Sizing:
        from orchestrator.observed import observed
        seen = observed(state)
        return cls(seen.instance or state.name, state.memory_mb, seen.size or "AUTO", seen.profile)

    def out_of_memory(self) -> str:
        """`out of memory: limit 224 MB (size AUTO, profile HIGH_CPU); raise it with ...`"""
        given = f"size {self.size}" + (f", profile {self.profile}" if self.profile else "")
        return (f"out of memory: limit {self.memory_mb} MB ({given}); "
                f"{memory_advice(self.instance, self.memory_mb, self.profile)}")


@dataclass(frozen=True)
class Run:
    """One run of a container, as the engine's events tell it."""

    started: float | None  # epoch seconds
    ended: float | None  # None: still running
    exit_code: int | None
    oom: bool = False

    @property
    def seconds(self) -> float | None:
        if self.started is None or self.ended is None or self.ended < self.started:
            return None
        return self.ended - self.started


def runs(events: Iterable[dict[str, Any]]) -> list[Run]:
    """The runs of one container from its `start`, `oom` and `die` events (oldest first), in order."""
    result: list[Run] = []
    started: float | None = None
    oom = False
    for event in events:
        when = int(event.get("timeNano") or 0) / 1e9 or float(event.get("time") or 0)
        action = event.get("Action")
        if action == "start":
            started, oom = when, False
        elif action == "oom":
            oom = True
        elif action == "die":
            code = (event.get("Actor") or {}).get("Attributes", {}).get("exitCode")
            result.append(Run(started, when, int(code) if str(code).lstrip("-").isdigit() else None, oom))
            started, oom = None, False
    if started is not None:
        result.append(Run(started, None, None, oom))
    return result


@dataclass(frozen=True)
class Crash:
    """An instance whose process ended on its own: what a person needs to see why."""

    what: str  # "web instance app", "worker queue", "service cache"
    exit_code: int | None
    seconds: float | None  # how long the last run lasted
    exits: int  # how many runs ended since the deploy started it
    oom: bool
    sizing: Sizing
    lines: tuple[str, ...]

    def reason(self) -> str:
        status = f"status {self.exit_code}" if self.exit_code is not None else "an unknown status"
        after = f" after {self.seconds:.1f} s" if self.seconds is not None else ""
        if self.oom:
            times = f", {self.exits} exits so far" if self.exits > 1 else ""
            return f"was killed ({status}{after}{times}): {self.sizing.out_of_memory()}"
        return f"exited with {status}{after}" + (f" ({self.exits} exits so far)" if self.exits > 1 else "")

    def text(self, when: str = "") -> str:
        """`web instance app exited with status 1 after 0.2 s; its last log lines:` and the lines."""
        head = f"{self.what} {self.reason()}{' ' + when if when else ''}"
        if not self.lines:
            return f"{head}; it logged nothing"
        return f"{head}; its last log lines:\n" + "\n".join(f"    {line}" for line in self.lines)


def log_tail(engine: Engine, container: str, count: int = LOG_LINES) -> tuple[str, ...]:
    """The container's last log lines, secrets of its environment masked (a traceback may hold a password)."""
    from orchestrator.secrets import mask_text, secret_values
    text = engine.log_tail(container, count)
    return tuple(mask_text(text, secret_values(engine.container_env(container))).splitlines())


def has_crashed(state: ContainerState | None, restarts_before: int = 0) -> bool:
    """Whether a container that was started has stopped running on its own (or been restarted for it)."""
    return state is None or state.status in ("exited", "dead", "restarting") or state.restart_count > restarts_before


def crash_of(engine: Engine, container: str, what: str, since: float, restarts_before: int = 0) -> Crash | None:
    """The crash of `container` since `since` (epoch seconds), or None while it runs as it was started."""
    state = engine.inspect(container)
    if state is None or not has_crashed(state, restarts_before):
        return None
    ended = [run for run in runs(engine.container_events(container, since - EVENT_MARGIN, time.time()))
             if run.ended is not None]
    last = ended[-1] if ended else Run(_epoch(state.started_at), _epoch(state.finished_at), state.exit_code)
    oom = any(run.oom for run in ended) or (state.oom_killed and state.status != "running")
    return Crash(what, last.exit_code, last.seconds, len(ended), oom, Sizing.of(state), log_tail(engine, container))


def _epoch(value: str) -> float | None:
    """An engine time (`2026-12-02T05:34:27.086427127Z`) in epoch seconds; None for none (`0001-01-01...`)."""
    whole, _, fraction = value.rstrip("Z").partition(".")
    try:
        base = datetime.strptime(whole[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
    digits = "".join(takewhile(str.isdigit, fraction))
    return base + float("0." + digits) if digits else base


def hook_oom(engine: Engine, container: str, kills_before: int | None) -> Sizing | None:
    """The container's sizing when the kernel killed a process in it for memory since `kills_before` (the
    memory cgroup's counter before the hook ran): a hook process killed while the container runs on."""
    after = engine.oom_kills(container)
    if after is None or after <= (kills_before or 0):
        return None
    state = engine.inspect(container)
    return Sizing.of(state) if state is not None else None


def exit_text(code: int, oom: bool, memory_mb: int = 0) -> str:
    """A last exit status as `ps` and `up` show it: `137 (out of memory, limit 128 MB)` when the kernel
    killed it for want of memory (a restarted container's own status reads 0 while the engine still knows
    why it was killed: then `out of memory (limit 128 MB)`)."""
    if not oom:
        return str(code)
    limit = f"limit {memory_mb} MB" if memory_mb else ""
    if code:
        return f"{code} (out of memory, {limit})" if limit else f"{code} (out of memory)"
    return f"out of memory ({limit})" if limit else "out of memory"
