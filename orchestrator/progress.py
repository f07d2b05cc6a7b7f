"""Progress for long work: a live status line with rich on a terminal, plain timestamped lines otherwise
(CI logs, pipes), so the same code reads well in both places."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    from rich.status import Status


class Reporter:
    """Prints steps (always) and details (build output). Details are every line as it comes when the
    stream is not a terminal (CI logs) or with `verbose`; on a terminal otherwise, the latest line beside
    the spinner. A failed build shows its last lines in its error either way."""

    def __init__(self, quiet: bool = False, stream=None, verbose: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.verbose = verbose
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._status: Status | None = None
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
        if self.quiet:
            return
        if self._status is not None and not self.verbose:
            self._status.update(f"{self._label}: {text[:100]}")
        elif self._status is not None:  # verbose on a terminal: above the spinner, through its console
            from rich.text import Text
            self._status.console.print(Text(f"  | {text}"), highlight=False)
        else:
            print(f"  | {text}", file=self.stream, flush=True)

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
