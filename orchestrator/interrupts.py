"""Ctrl-C (SIGINT), SIGTERM and SIGHUP (a closed terminal) during `up`: never half a deploy.

While `handled()` is in force (the builds and the deploy of `up`), a signal does not tear the work
apart wherever it happens to be:

- Before the deploy begins (the builds), nothing that runs has changed yet: the first signal stops the
  build at once (its build container is removed on the way out) and `up` ends saying nothing was changed.
- Once the deploy began (`deploying()`), the first signal is a request: the step under way (a stop batch
  with its grace, a start batch, a deploy hook) finishes, then the deploy rolls back to the previous
  containers (`Deployer.apply` asks `requested` between its steps). A wait that changes nothing (health,
  post_start) ends at once. The second signal stops a step that allows it now (a running deploy hook: its
  processes are signalled inside the container) before the rollback.
- What restores the previous containers, or commits the new ones, runs `shielded()`: no signal cuts it;
  a signal there only says what is happening.

Either way `up` ends with `Interrupted` (exit 130) once the lock is released, leaving one copy of each
instance. Signals reach the main thread only; elsewhere (a test driving `up` from a thread) nothing is
installed and the default behaviour stays.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from orchestrator.errors import OrchestratorError

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: the terminal or ssh session closed
FIRST = ("interrupted: finishing the current step, then restoring the previous containers; "
         "Ctrl-C again to stop now")


class Interrupted(OrchestratorError):
    """`up` was interrupted; the message says what runs now."""

    exit_code = 130


def _raw_stderr(text: str) -> None:
    """A line on stderr straight to the file descriptor: a signal handler may run while the main thread is
    in the middle of a print, and a buffered stream refuses a reentrant write."""
    try:
        os.write(sys.stderr.fileno(), (text + "\n").encode("utf-8", "replace"))
    except (OSError, ValueError, AttributeError):
        pass


class Interrupts:
    """What the signals asked for so far, and how the work under way may be stopped."""

    def __init__(self, notify: Callable[[str], None] = _raw_stderr) -> None:
        self.notify = notify
        self.count = 0  # signals received
        self.deploy_began = False
        self.abort_at = 0  # raise KeyboardInterrupt at this signal count (0: never), inside `abortable`
        self.shield = 0  # depth of `shielded` sections
        self.raised = False  # a KeyboardInterrupt was raised: from then on everything is cleanup

    @property
    def requested(self) -> bool:
        return self.count > 0

    @property
    def hard(self) -> bool:
        """A second signal came: stop what can be stopped without waiting for it."""
        return self.count > 1

    def deploying(self) -> None:
        """From now on a first signal is a request honoured between steps, not an abort."""
        self.deploy_began = True

    @contextmanager
    def abortable(self, at: int = 2) -> Iterator[None]:
        """Inside, the `at`-th signal (1: the first) raises KeyboardInterrupt in the main thread; one
        received before the section began counts too (so a hook begun after the first Ctrl-C is stopped by
        the second)."""
        saved = self.abort_at
        self.abort_at = at
        try:
            if self.count >= at and not self.shield and not self.raised:
                self.raised = True
                raise KeyboardInterrupt
            yield
        finally:
            self.abort_at = saved

    @contextmanager
    def shielded(self) -> Iterator[None]:
        """No signal cuts this section short (restoring or committing containers)."""
        self.shield += 1
        try:
            yield
        finally:
            self.shield -= 1

    def handle(self, signum: int, frame: object = None) -> None:
        self.count += 1
        name = signal.Signals(signum).name
        if self.shield or self.raised:
            self.notify(f"{name}: restoring a consistent set of containers first; this ends on its own")
            return
        abort_at = self.abort_at or (0 if self.deploy_began else 1)
        if abort_at and self.count >= abort_at:
            if not self.deploy_began:
                self.notify(f"interrupted ({name}): stopping the build; nothing that runs was changed")
            else:
                self.notify(f"{name} again: stopping the current step now, then restoring the previous containers")
            self.raised = True
            raise KeyboardInterrupt
        if self.count == 1:
            self.notify(FIRST if name == "SIGINT" else FIRST.replace("Ctrl-C again", "a second signal"))
        else:
            self.notify(f"{name} again: the current step cannot be cut short safely; it is bounded, "
                        "and the previous containers are restored right after it")


@contextmanager
def handled(notify: Callable[[str], None] = _raw_stderr) -> Iterator[Interrupts]:
    """SIGINT and SIGTERM handled as the module says, for the block; the previous handlers after it. A
    KeyboardInterrupt that ends the block (the build stopped) becomes `Interrupted`; so does a block that
    finished after a signal (the deploy had reached its last step and was completed)."""
    interrupts = Interrupts(notify)
    if threading.current_thread() is not threading.main_thread():
        yield interrupts
        return
    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        signal.signal(sig, interrupts.handle)
    try:
        yield interrupts
    except KeyboardInterrupt as error:
        interrupts.raised = True
        if interrupts.deploy_began:
            raise Interrupted("interrupted: the deploy was stopped and the previous containers restored") from error
        raise Interrupted("interrupted during the build: nothing that runs was changed") from error
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if interrupts.requested:
        raise Interrupted("interrupted, but the deploy had reached its last step and was completed: the new "
                          "containers run (`orchestrator ps` shows them)")
