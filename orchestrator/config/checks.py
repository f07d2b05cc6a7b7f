"""Typed reading of raw YAML values that records every problem with its file, line and key path.

`Node` wraps one raw value with where it came from; its getters return a typed value or None and
record an error instead of raising, so validation walks the whole config and reports everything at once.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from orchestrator.config.model import Origin
from orchestrator.config.yaml_source import ArchiveRef, MarkedList, MarkedMap
from orchestrator.errors import ConfigProblem

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def join_key(path: str, key: Any) -> str:
    text = str(key)
    if not _PLAIN_KEY.match(text):
        text = '"' + text.replace('"', '\\"') + '"'
    return f"{path}.{text}" if path else text


def kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, ArchiveRef):
        return "!archive"
    return type(value).__name__


@dataclass
class Checker:
    """Collects errors and warnings; a warning about a key without local effect is given once per key."""

    problems: list[ConfigProblem] = field(default_factory=list)
    warnings: list[ConfigProblem] = field(default_factory=list)
    _noop_seen: dict[str, int] = field(default_factory=dict)

    def error(self, file: str, line: int, key: str, message: str, hint: str = "") -> None:
        self.problems.append(ConfigProblem(file, line, key, message, hint))

    def warn(self, file: str, line: int, key: str, message: str, hint: str = "") -> None:
        self.warnings.append(ConfigProblem(file, line, key, message, hint))

    def no_local_effect(self, node: "Node", what: str) -> None:
        """Accept a valid platform key that does nothing here, saying so once per kind of key."""
        group = f"{node.file}:{node.path.rsplit('.', 1)[-1]}:{what}"
        if group in self._noop_seen:
            return
        self._noop_seen[group] = 1
        self.warn(node.file, node.line, node.path, f"accepted, but has no local effect: {what}")


@dataclass(frozen=True)
class Node:
    """One raw value, with the checker and where the value was written."""

    ck: Checker
    value: Any
    file: str
    line: int
    path: str

    @property
    def origin(self) -> Origin:
        return Origin(self.file, self.line, self.path)

    def error(self, message: str, hint: str = "") -> None:
        self.ck.error(self.file, self.line, self.path, message, hint)

    def warn(self, message: str, hint: str = "") -> None:
        self.ck.warn(self.file, self.line, self.path, message, hint)

    def missing(self, key: str, hint: str = "") -> None:
        """A required key is absent: reported at this mapping's line, under the key's own path (in the
        included file when the mapping was written in one)."""
        file, line = self.file, self.line
        if isinstance(self.value, MarkedMap) and self.value.file and self.value.file != self.file:
            file, line = self.value.file, self.value.line
        self.ck.error(file, line, join_key(self.path, key), "is required", hint)

    # -- structure -------------------------------------------------------------------------------
    def is_map(self, allow_null: bool = True) -> bool:
        if isinstance(self.value, dict):
            return True
        if self.value is None and allow_null:
            return False
        self.error(f"must be a mapping, not a {kind_of(self.value)}")
        return False

    def child(self, key: Any) -> "Node | None":
        """The node under `key`, or None when the key is absent. It is placed where the key is written: in the
        file of the mapping that holds it (an `!include`d file for keys written there), at the key's line."""
        if not isinstance(self.value, dict) or key not in self.value:
            return None
        file, line = self.file, self.line
        if isinstance(self.value, MarkedMap):
            file, line = self.value.file or self.file, self.value.line_of(key)
        return Node(self.ck, self.value[key], file, line, join_key(self.path, key))

    def items(self) -> Iterator[tuple[str, "Node"]]:
        if not isinstance(self.value, dict):
            return iter(())
        return ((str(k), self.child(k)) for k in self.value)  # type: ignore[misc]

    def elements(self) -> Iterator["Node"]:
        if not isinstance(self.value, list):
            return iter(())
        lines = self.value if isinstance(self.value, MarkedList) else None
        file = (lines.file if lines is not None else "") or self.file
        return (Node(self.ck, v, file, lines.line_of(i) if lines is not None else self.line, f"{self.path}[{i}]")
                for i, v in enumerate(self.value))

    def check_keys(self, allowed: Iterable[str], no_effect: dict[str, str] | None = None,
                   forbidden: dict[str, str] | None = None) -> None:
        """Unknown keys are errors (with a did-you-mean), `no_effect` keys warnings, `forbidden` keys errors."""
        if not isinstance(self.value, dict):
            return
        allowed = list(allowed)
        no_effect = no_effect or {}
        forbidden = forbidden or {}
        for key in self.value:
            node = self.child(key)
            assert node is not None
            name = str(key)
            if name in forbidden:
                node.error(forbidden[name])
            elif name in no_effect:
                if node.value is not None:
                    self.ck.no_local_effect(node, no_effect[name])
            elif name not in allowed:
                known = allowed + list(no_effect)
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
                hint = f"did you mean `{close[0]}`?" if close else f"known keys: {', '.join(sorted(known))}"
                node.error("unknown key", hint)

    # -- typed getters -----------------------------------------------------------------------------
    def get(self, key: str) -> "Node | None":
        node = self.child(key)
        return None if node is None or node.value is None else node

    def string(self, key: str, required: bool = False, numbers_ok: bool = False) -> str | None:
        node = self.child(key)
        if node is None or node.value is None:
            if required:
                if node is None:
                    self.missing(key)
                else:
                    node.error("must not be empty")
            return None
        return node.as_string(numbers_ok)

    def as_string(self, numbers_ok: bool = False) -> str | None:
        value = self.value
        if isinstance(value, str):
            return value
        if numbers_ok and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        self.error(f"must be a string, not a {kind_of(value)}")
        return None

    def integer(self, key: str, minimum: int | None = None) -> int | None:
        node = self.get(key)
        if node is None:
            return None
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value.strip())
            else:
                node.error(f"must be a whole number, not a {kind_of(value)}")
                return None
        if minimum is not None and value < minimum:
            node.error(f"must be at least {minimum}, not {value}")
            return None
        return value

    def boolean(self, key: str) -> bool | None:
        node = self.get(key)
        if node is None:
            return None
        if not isinstance(node.value, bool):
            node.error(f"must be true or false, not a {kind_of(node.value)}")
            return None
        return node.value

    def choice(self, key: str, choices: Iterable[str], upper: bool = False) -> str | None:
        text = self.string(key)
        if text is None:
            return None
        options = list(choices)
        normalised = text.upper() if upper else text
        if normalised not in options:
            node = self.child(key)
            assert node is not None
            node.error(f"'{text}' is not one of: {', '.join(options)}")
            return None
        return normalised

    def mapping(self, key: str) -> "Node | None":
        node = self.get(key)
        if node is None or not node.is_map():
            return None
        return node

    def string_list(self, key: str) -> tuple[str, ...] | None:
        node = self.get(key)
        if node is None:
            return None
        if isinstance(node.value, str):
            return (node.value,)
        if not isinstance(node.value, list):
            node.error(f"must be a list of strings, not a {kind_of(node.value)}")
            return None
        result = []
        for element in node.elements():
            text = element.as_string(numbers_ok=True)
            if text is not None:
                result.append(text)
        return tuple(result)


def plain(value: Any) -> Any:
    """Raw YAML (MarkedMap, MarkedList, ArchiveRef) as plain JSON-able Python values."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, ArchiveRef):
        return value.path
    return value
