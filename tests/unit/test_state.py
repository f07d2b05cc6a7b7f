"""The per-user state directory (orchestrator.state): where it is ($ORCHESTRATOR_STATE_DIR, else
$XDG_STATE_HOME/orchestrator, else ~/.local/state/orchestrator), that it is made private (0700, and made
private again when an earlier version left it 0755), and the passwords earlier versions kept there: read
without creating anything, never from outside the projects folder whatever the project is called, and
removed (with the project's folder) once the deployment holds them."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from orchestrator.state import PRIVATE, forget_legacy_credentials, legacy_credentials, state_dir

UNSAFE_PROJECTS = ["", ".", "..", "a/b", "../escape", "/abs"]


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh HOME, with neither variable that would override it set."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    monkeypatch.delenv("ORCHESTRATOR_STATE_DIR", raising=False)
    return home


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _write_legacy(base: Path, project: str, content: object) -> Path:
    path = base / "projects" / project / "credentials.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


# -- where, and private ----------------------------------------------------------------------------------

def test_without_xdg_the_state_dir_is_under_home_and_private(home):
    path = state_dir()
    assert path == home / ".local" / "state" / "orchestrator"
    assert path.is_dir() and _mode(path) == PRIVATE == 0o700


def test_xdg_state_home_is_used_when_set(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    path = state_dir()
    assert path == tmp_path / "xdg" / "orchestrator"
    assert _mode(path) == 0o700
    assert not (home / ".local").exists()


def test_an_empty_xdg_state_home_counts_as_unset(home, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", "")
    assert state_dir() == home / ".local" / "state" / "orchestrator"


def test_orchestrator_state_dir_wins_over_xdg_and_home(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("ORCHESTRATOR_STATE_DIR", str(tmp_path / "explicit" / "state"))
    path = state_dir()
    assert path == tmp_path / "explicit" / "state" and _mode(path) == 0o700
    assert not (tmp_path / "xdg").exists() and not (home / ".local").exists()


def test_a_state_dir_an_earlier_version_left_open_is_made_private_again(home):
    path = home / ".local" / "state" / "orchestrator"
    path.mkdir(parents=True)
    path.chmod(0o755)
    (path / "ca.pem").write_text("kept")
    assert state_dir() == path
    assert _mode(path) == 0o700
    assert (path / "ca.pem").read_text() == "kept"  # only the mode changes, never the contents


def test_asking_again_changes_nothing(home):
    first = state_dir()
    (first / "note").write_text("x")
    assert state_dir() == first and _mode(first) == 0o700 and (first / "note").read_text() == "x"


# -- legacy credentials: reading -------------------------------------------------------------------------

def test_with_no_state_dir_there_are_no_legacy_credentials_and_nothing_is_made(home):
    assert legacy_credentials("shop") == {}
    assert list(home.iterdir()) == []


def test_a_state_dir_without_the_project_reads_as_none_and_stays_as_it_was(home):
    base = state_dir()
    assert legacy_credentials("shop") == {}
    assert list(base.iterdir()) == []


def test_legacy_credentials_are_read_as_service_and_endpoint_to_password(home):
    base = home / ".local" / "state" / "orchestrator"
    _write_legacy(base, "shop", {"mariadb": {"mysql": "pw1", "admin": "pw2"}, "redis": {"redis": "pw3"}})
    assert legacy_credentials("shop") == {("mariadb", "mysql"): "pw1", ("mariadb", "admin"): "pw2",
                                          ("redis", "redis"): "pw3"}
    assert legacy_credentials("other") == {}


def test_entries_that_are_not_passwords_are_skipped(home):
    base = home / ".local" / "state" / "orchestrator"
    _write_legacy(base, "shop", {"mariadb": {"mysql": "pw", "port": 3306, "none": None}, "redis": "flat",
                                 "pg": ["x"], "solr": {}})
    assert legacy_credentials("shop") == {("mariadb", "mysql"): "pw"}


@pytest.mark.parametrize("content", ["not json", "", "[1, 2]", '"text"', "null", "{\"mariadb\": "])
def test_an_unreadable_or_foreign_file_reads_as_no_credentials(home, content):
    _write_legacy(home / ".local" / "state" / "orchestrator", "shop", content)
    assert legacy_credentials("shop") == {}


def test_a_directory_where_the_file_should_be_reads_as_no_credentials(home):
    (home / ".local" / "state" / "orchestrator" / "projects" / "shop" / "credentials.json").mkdir(parents=True)
    assert legacy_credentials("shop") == {}


def test_legacy_credentials_follow_the_state_dir_variables(home, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    _write_legacy(tmp_path / "xdg" / "orchestrator", "shop", {"db": {"main": "from-xdg"}})
    _write_legacy(home / ".local" / "state" / "orchestrator", "shop", {"db": {"main": "from-home"}})
    assert legacy_credentials("shop") == {("db", "main"): "from-xdg"}
    monkeypatch.setenv("ORCHESTRATOR_STATE_DIR", str(tmp_path / "explicit"))
    _write_legacy(tmp_path / "explicit", "shop", {"db": {"main": "explicit"}})
    assert legacy_credentials("shop") == {("db", "main"): "explicit"}


@pytest.mark.parametrize("project", UNSAFE_PROJECTS)
def test_a_project_name_that_would_leave_its_folder_reads_nothing(home, project):
    base = home / ".local" / "state" / "orchestrator"
    # files where each unsafe name would lead: base/credentials.json (".."), projects/credentials.json ("."),
    # projects/a/b/credentials.json ("a/b"), base/escape/credentials.json ("../escape")
    for path in (base / "credentials.json", base / "projects" / "credentials.json",
                 base / "projects" / "a" / "b" / "credentials.json", base / "escape" / "credentials.json"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"db": {"main": "leak"}}))
    assert legacy_credentials(project) == {}


# -- legacy credentials: forgetting ----------------------------------------------------------------------

def test_forgetting_removes_the_file_and_the_projects_folder_and_nothing_else(home):
    base = home / ".local" / "state" / "orchestrator"
    shop = _write_legacy(base, "shop", {"db": {"main": "pw"}})
    blog = _write_legacy(base, "blog", {"db": {"main": "other"}})
    forget_legacy_credentials("shop")
    assert not shop.exists() and not shop.parent.exists()
    assert (base / "projects").is_dir() and blog.is_file()
    assert legacy_credentials("shop") == {}
    assert legacy_credentials("blog") == {("db", "main"): "other"}


def test_forgetting_keeps_a_project_folder_that_holds_something_else(home):
    base = home / ".local" / "state" / "orchestrator"
    path = _write_legacy(base, "shop", {"db": {"main": "pw"}})
    (path.parent / "notes.txt").write_text("mine")
    forget_legacy_credentials("shop")
    assert not path.exists()
    assert (path.parent / "notes.txt").read_text() == "mine"


def test_forgetting_what_is_not_there_is_quiet_and_makes_nothing(home):
    forget_legacy_credentials("shop")
    forget_legacy_credentials("shop")
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("project", UNSAFE_PROJECTS)
def test_forgetting_never_removes_a_file_outside_the_projects_folder(home, project):
    base = home / ".local" / "state" / "orchestrator"
    kept = [base / "credentials.json", base / "projects" / "credentials.json",
            base / "projects" / "a" / "b" / "credentials.json", base / "escape" / "credentials.json"]
    for path in kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    forget_legacy_credentials(project)
    assert all(path.is_file() for path in kept)
