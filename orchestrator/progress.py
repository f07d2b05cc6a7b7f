"""Progress for long work: a live status line with rich on a terminal, plain timestamped lines otherwise
(CI logs, pipes), so the same code reads well in both places."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import Iterator


class Reporter:
    """Prints steps (always) and details (build output: live on a TTY, only on failure otherwise)."""

    def __init__(self, quiet: bool = False, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._status = None
        self._start = time.monotonic()

    def step(self, text: str) -> None:
        if self.quiet:
            return
        if self.tty:
            from rich.console import Console
            Console(file=self.stream, highlight=False).print(f"[bold]•[/bold] {text}")
        else:
            print(f"[{time.monotonic() - self._start:6.1f}s] {text}", file=self.stream, flush=True)

    def detail(self, text: str) -> None:
        if self._status is not None:
            self._status.update(f"{self._label}: {text[:100]}")

    @contextmanager
    def working(self, label: str) -> Iterator[None]:
        """Show `label` with a spinner (TTY) while the block runs; details update it."""
        self.step(label)
        if not self.tty or self.quiet:
            yield
            return
        from rich.console import Console
        self._label = label
        with Console(file=self.stream).status(label) as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None
