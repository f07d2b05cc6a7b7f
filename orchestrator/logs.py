"""`logs`: every chosen instance's log lines, followed across restarts and redeploys, with secrets masked
by the caller. One thread per instance reads the engine's log stream; a stopped stream looks for the
container that goes on with the instance (itself after a restart, the new one after a redeploy).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from orchestrator.engine import Engine
from orchestrator.observed import Observed


def secrets_in(engine: Engine, chosen: list[Observed]) -> set[str]:
    """Every secret value in the environment of the chosen containers, to mask in their log lines."""
    from orchestrator.secrets import secret_values
    found: set[str] = set()
    for state in chosen:
        found |= secret_values(engine.container_env(state.id))
    return found


FOLLOW_POLL_SECONDS = 0.5  # how often `logs -f` looks for the container that goes on with a stopped one


def stream_logs(engine: Engine, chosen: list[Observed], follow: bool, since: int | None,
                emit: Callable[[str, str], None], on_container: Callable[[str], None] = lambda _: None) -> None:
    """Every chosen instance's log lines, each passed to `emit(instance, line)`; follows them all at once.

    Following goes on across an instance's container restarts (from where it stopped) and across a
    redeploy that replaces it (the new container of the same instance, from its first line), and ends on
    Ctrl-C or when the instance has no container any more (`down`); a container it read before (the old
    one, back after a rollback) goes on from where it was left. `on_container(id)` is told of each
    container it follows to, before its first line (its secrets may be new). An error in a reader (the
    output closed: `logs | head`; the engine lost) ends the whole command, raised here."""
    errors: list[BaseException] = []

    def read(container: str, start: float | None, instance: str) -> None:
        buffer = b""
        for chunk in engine.logs(container, follow=follow, since=start):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                emit(instance, line.decode("utf-8", "replace"))
        if buffer:
            emit(instance, buffer.decode("utf-8", "replace"))

    def pump(state: Observed) -> None:
        instance = state.instance or state.name
        project = state.project
        start: float | None
        current, start = state.id, since
        read_until: dict[str, float] = {}  # container -> when its stream ended
        try:
            while True:
                read(current, start, instance)
                read_until[current] = time.time()
                if not follow or not project or not state.instance:
                    return
                following = _successor(engine, project, instance, current)
                if following is None:
                    return
                if following not in read_until:
                    on_container(following)
                start, current = read_until.get(following, since), following
        except BaseException as error:  # handed to the main thread below
            errors.append(error)

    threads = [threading.Thread(target=pump, args=(state,), daemon=True) for state in chosen]
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads) and not errors:
            time.sleep(0.1)
    except KeyboardInterrupt:
        return
    if errors:
        raise errors[0]


def _successor(engine: Engine, project: str, instance: str, current: str) -> str | None:
    """The container whose log goes on with `current`'s, once it is running: `current` itself after a
    restart, else the newest running container of the same instance (a redeploy's); None when the
    instance has no container any more."""
    while True:
        found = engine.instance_containers(project, instance)
        if not found:
            return None
        running = [s for s in found if s.status == "running"]
        if any(s.id == current for s in running):
            return current
        if running:
            return max(running, key=lambda s: s.started_at).id
        time.sleep(FOLLOW_POLL_SECONDS)
