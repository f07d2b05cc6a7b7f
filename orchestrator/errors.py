"""Errors a person can act on.

Every failure a user can cause is an `OrchestratorError`; the CLI prints it without a traceback.
Config problems carry the file, line and dotted key path so an editor can jump straight to them,
and are collected, not raised one by one, so a single `validate` run shows every problem.
"""

from __future__ import annotations

from dataclasses import dataclass


class OrchestratorError(Exception):
    """A failure with a message meant for the person running the tool."""

    exit_code = 1


@dataclass(frozen=True)
class ConfigProblem:
    """One finding about the config: where it is (file, line, key path), what is wrong and what to do."""

    file: str
    line: int
    key: str
    message: str
    hint: str = ""

    def format(self, prefix: str = "") -> str:
        """`file:line: key.path: message`, then the hint indented on its own line."""
        path = f"{prefix.rstrip('/')}/{self.file}" if prefix and self.file else (self.file or prefix)
        where = f"{path}:{self.line}" if self.line else path
        text = f"{where}: {self.key or '(document)'}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


class ConfigError(OrchestratorError):
    """The project's config is invalid; holds every problem found, so all are reported at once."""

    exit_code = 2

    def __init__(self, problems: list[ConfigProblem], prefix: str = "") -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.key, p.message))
        self.prefix = prefix
        super().__init__(self.render())

    def render(self, prefix: str | None = None) -> str:
        chosen = self.prefix if prefix is None else prefix
        lines = [p.format(chosen) for p in self.problems]
        count = len(self.problems)
        lines.append(f"{count} error{'s' if count != 1 else ''} in the config; nothing was applied.")
        return "\n".join(lines)
