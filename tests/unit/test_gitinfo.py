"""The project's branch (orchestrator.gitinfo.current_branch), read from .git/HEAD without a git binary:
it names the environment, so it must be the branch git itself reports (slashes and all), found from any
folder inside the repository and from a linked worktree; a detached HEAD gives the commit, and a folder
outside any repository the default `main`. The repositories here are made by the real git."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from orchestrator.gitinfo import DEFAULT_BRANCH, current_branch

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs the git binary to make repositories")

GIT_ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, check=True, capture_output=True,
                          text=True).stdout.strip()


def _repo(path: Path, branch: str, commit: bool = False) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    if commit:
        (path / "file").write_text("x\n")
        git(path, "add", "file")
        git(path, "commit", "-q", "-m", "first")
    return path


@pytest.mark.parametrize("branch", ["main", "develop", "feature/login-form", "release/2.0", "fix_42", "x"])
def test_the_branch_is_the_one_git_reports(tmp_path, branch):
    repo = _repo(tmp_path / "repo", branch, commit=True)
    assert current_branch(repo) == branch == git(repo, "rev-parse", "--abbrev-ref", "HEAD")


def test_a_new_repository_without_commits_already_has_its_branch(tmp_path):
    repo = _repo(tmp_path / "repo", "staging")
    assert current_branch(repo) == "staging"


def test_switching_branch_is_seen_at_once(tmp_path):
    repo = _repo(tmp_path / "repo", "main", commit=True)
    git(repo, "checkout", "-q", "-b", "feature/x")
    assert current_branch(repo) == "feature/x"
    git(repo, "checkout", "-q", "main")
    assert current_branch(repo) == "main"


def test_the_branch_is_found_from_a_folder_deep_inside_the_repository(tmp_path):
    repo = _repo(tmp_path / "repo", "develop")
    inner = repo / "apps" / "web" / "src"
    inner.mkdir(parents=True)
    assert current_branch(inner) == "develop"


def test_a_relative_path_is_resolved_first(tmp_path, monkeypatch):
    repo = _repo(tmp_path / "repo", "develop")
    (repo / "sub").mkdir()
    monkeypatch.chdir(repo / "sub")
    assert current_branch(Path(".")) == "develop"
    assert current_branch(Path("..")) == "develop"


def test_the_nearest_repository_wins(tmp_path):
    outer = _repo(tmp_path / "outer", "outer-branch")
    inner = _repo(outer / "vendor" / "inner", "inner-branch")
    assert current_branch(inner) == "inner-branch"
    assert current_branch(outer / "vendor") == "outer-branch"


def test_a_detached_head_gives_the_short_commit(tmp_path):
    repo = _repo(tmp_path / "repo", "main", commit=True)
    commit = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--detach")
    assert current_branch(repo) == commit[:12]
    assert len(current_branch(repo)) == 12


def test_a_folder_outside_any_repository_gets_the_default_branch(tmp_path):
    outside = tmp_path / "plain" / "project"
    outside.mkdir(parents=True)
    if any((parent / ".git").exists() for parent in [outside, *outside.parents]):
        pytest.skip("the temporary directory is itself inside a git repository")
    assert DEFAULT_BRANCH == "main"
    assert current_branch(outside) == "main"


def test_a_folder_that_only_looks_like_a_repository_is_not_one(tmp_path):
    fake = tmp_path / "fake"
    (fake / ".git").mkdir(parents=True)  # a .git folder without HEAD
    if any((parent / ".git").exists() for parent in tmp_path.parents):
        pytest.skip("the temporary directory is itself inside a git repository")
    assert current_branch(fake) == DEFAULT_BRANCH


def test_a_linked_worktree_gives_its_own_branch(tmp_path):
    repo = _repo(tmp_path / "repo", "main", commit=True)
    git(repo, "worktree", "add", "-q", "-b", "feature/wt", str(tmp_path / "wt"))
    assert (tmp_path / "wt" / ".git").is_file()  # a pointer file, not a folder
    assert current_branch(tmp_path / "wt") == "feature/wt"
    (tmp_path / "wt" / "deep").mkdir()
    assert current_branch(tmp_path / "wt" / "deep") == "feature/wt"
    assert current_branch(repo) == "main"


def test_a_worktree_pointer_may_be_relative(tmp_path):
    repo = _repo(tmp_path / "repo", "main", commit=True)
    git(repo, "worktree", "add", "-q", "-b", "rel", str(tmp_path / "wt"))
    pointer = tmp_path / "wt" / ".git"
    gitdir = Path(pointer.read_text().strip()[len("gitdir: "):])
    pointer.write_text(f"gitdir: {os.path.relpath(gitdir, tmp_path / 'wt')}\n")
    assert current_branch(tmp_path / "wt") == "rel"


def test_a_broken_worktree_pointer_gives_the_default_branch(tmp_path):
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_text("gitdir: /nonexistent/worktrees/wt\n")
    assert current_branch(wt) == DEFAULT_BRANCH
