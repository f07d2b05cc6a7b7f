"""Names of engine objects (containers, networks, volumes, images) derived from config.

Config names are free text as far as the engine is concerned; these functions make them valid for
Docker (`[a-z0-9][a-z0-9_.-]*`), short enough (container host names and volume names stay under 63
characters), and collision-free: whenever sanitising changed or shortened a name, a short hash of the
original is appended, so two different originals never map to the same engine name.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

MAX_NAME = 63
_INVALID = re.compile(r"[^a-z0-9_.-]+")


def short_hash(text: str, length: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def safe(text: str, max_len: int = MAX_NAME) -> str:
    """`text` as a valid engine name component; unchanged when it already is one and fits."""
    cleaned = _INVALID.sub("-", text.lower()).strip("-._")
    if cleaned == text and len(cleaned) <= max_len and cleaned:
        return cleaned
    suffix = short_hash(text)
    head = cleaned[: max_len - len(suffix) - 1].rstrip("-._")
    return f"{head}-{suffix}" if head else f"x-{suffix}"


def project_name(root: Path) -> str:
    """The project's name: its directory's name, made safe for the engine."""
    return safe(root.resolve().name or "project", 40)


def join(*parts: str) -> str:
    """Join already-safe parts with '-' and keep the whole within MAX_NAME characters."""
    name = "-".join(parts)
    return name if len(name) <= MAX_NAME else safe(name)
