"""The project's git branch, read from `.git/HEAD` (no git binary needed): the default environment name."""

from __future__ import annotations

from pathlib import Path

DEFAULT_BRANCH = "main"


def current_branch(root: Path) -> str:
    for directory in [root.resolve(), *root.resolve().parents]:
        head = directory / ".git" / "HEAD"
        if head.is_file():
            text = head.read_text(encoding="utf-8", errors="replace").strip()
            if text.startswith("ref: refs/heads/"):
                return text[len("ref: refs/heads/"):]
            return text[:12] or DEFAULT_BRANCH  # detached HEAD: the commit
        if (directory / ".git").is_file():  # a worktree or submodule: .git is a pointer file
            pointer = (directory / ".git").read_text(encoding="utf-8", errors="replace").strip()
            if pointer.startswith("gitdir: "):
                gitdir = (directory / pointer[len("gitdir: "):]).resolve()
                head_file = gitdir / "HEAD"
                if head_file.is_file():
                    text = head_file.read_text(encoding="utf-8", errors="replace").strip()
                    if text.startswith("ref: refs/heads/"):
                        return text[len("ref: refs/heads/"):]
            return DEFAULT_BRANCH
    return DEFAULT_BRANCH
