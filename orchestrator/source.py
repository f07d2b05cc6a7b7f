"""An app's source as the build sees it: the files under `source.root`, minus `.git` and whatever
`.dockerignore` excludes, in a fixed order. Its digest is part of the image tag, so an unchanged app
is never rebuilt and a changed one always is.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

ALWAYS_IGNORED = (".git", ".hg", ".svn")
# The platform config is read by the orchestrator, not built into the image: keeping it out means that
# changing a worker's command or variables redeploys that worker without rebuilding the app.
CONFIG_FILES = (".platform.app.yaml",)
CONFIG_DIRS = (".platform", ".upsun")


@dataclass(frozen=True)
class IgnoreRule:
    pattern: str
    negate: bool


def read_dockerignore(root: Path) -> list[IgnoreRule]:
    path = root / ".dockerignore"
    if not path.is_file():
        return []
    rules = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line[1:] if negate else line
        pattern = os.path.normpath(pattern.strip()).lstrip("/")
        if pattern and pattern != ".":
            rules.append(IgnoreRule(pattern, negate))
    return rules


def _matches(rel: str, pattern: str) -> bool:
    if fnmatch.fnmatchcase(rel, pattern):
        return True
    if pattern.startswith("**/"):
        return _matches(rel, pattern[3:]) or any(
            fnmatch.fnmatchcase("/".join(rel.split("/")[i:]), pattern[3:]) for i in range(len(rel.split("/"))))
    # a pattern naming a directory excludes everything below it
    parts = rel.split("/")
    return any(fnmatch.fnmatchcase("/".join(parts[:i]), pattern) for i in range(1, len(parts)))


def is_ignored(rel: str, rules: list[IgnoreRule]) -> bool:
    ignored = False
    for rule in rules:
        if _matches(rel, rule.pattern):
            ignored = not rule.negate
    return ignored


def list_files(root: Path) -> list[tuple[str, Path]]:
    """(path relative to root, absolute path) of every file the build gets, sorted."""
    rules = read_dockerignore(root)
    found: list[tuple[str, Path]] = []
    for current, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(current, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
        dirs[:] = sorted(d for d in dirs if d not in ALWAYS_IGNORED and not (rel_dir == "" and d in CONFIG_DIRS)
                         and not (is_ignored(f"{rel_dir}/{d}".lstrip("/"), rules)
                                  and not any(r.negate for r in rules)))
        for name in sorted(files):
            rel = f"{rel_dir}/{name}".lstrip("/")
            if name not in CONFIG_FILES and not is_ignored(rel, rules):
                found.append((rel, Path(current) / name))
    return sorted(found)


def digest(root: Path) -> str:
    """sha256 over the paths, modes and contents of the build's files."""
    h = hashlib.sha256()
    if not root.is_dir():
        return h.hexdigest()
    for rel, path in list_files(root):
        try:
            stat = path.lstat()
            executable = b"x" if stat.st_mode & 0o111 else b"-"  # the bit git keeps; the rest follows the umask
            h.update(rel.encode("utf-8", "surrogateescape") + b"\0" + executable + b"\0")
            if path.is_symlink():
                h.update(b"link:" + os.readlink(path).encode("utf-8", "surrogateescape"))
            else:
                with open(path, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        h.update(block)
        except OSError:
            continue
        h.update(b"\0")
    return h.hexdigest()
