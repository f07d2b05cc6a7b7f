"""What needs no engine of a deployment's identity: the lock every user shares, project names that are
refused before anything runs, a private state directory, and commands that must write nothing."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, REPO

HOLD = ("import sys, time\n"
        "from orchestrator.deployment import project_lock\n"
        "with project_lock('shop', print):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(float(sys.argv[1]))\n")


def _env(tmp_path: Path, state: str) -> dict[str, str]:
    return {**os.environ, "ORCHESTRATOR_STATE_DIR": str(tmp_path / state),
            "ORCHESTRATOR_LOCK_DIR": str(tmp_path / "locks")}


def test_the_lock_holds_whatever_state_directory_each_command_has(tmp_path):
    """Two commands of one project with different state directories (another user, sudo, XDG_STATE_HOME)
    still wait for each other: the lock is not in the state directory."""
    first = subprocess.Popen([sys.executable, "-c", HOLD, "2"], env=_env(tmp_path, "home-a"), cwd=REPO,
                             stdout=subprocess.PIPE, text=True)
    assert first.stdout.readline().strip() == "held"
    started = time.monotonic()
    second = subprocess.run([sys.executable, "-c", HOLD, "0"], env=_env(tmp_path, "home-b"), cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    first.wait(timeout=60)
    assert time.monotonic() - started > 1.0, second.stdout
    assert "another command is changing project shop" in second.stdout
    lock = next((tmp_path / "locks").iterdir())
    assert stat.S_IMODE(lock.stat().st_mode) == 0o666  # any user of the machine can take it


def test_the_lock_is_never_written_through_a_planted_link(tmp_path, monkeypatch):
    """Another user may plant a link where the lock goes (in a shared directory): the lock refuses it and
    the file it points at is untouched."""
    from orchestrator.deployment import lock_path, project_lock
    from orchestrator.errors import OrchestratorError
    monkeypatch.setenv("ORCHESTRATOR_LOCK_DIR", str(tmp_path))
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    victim.chmod(0o600)
    lock_path("shop").symlink_to(victim)
    with pytest.raises(OrchestratorError, match="cannot open the lock"):
        with project_lock("shop", print):
            pass
    lock_path("shop").unlink()
    os.link(victim, lock_path("shop"))  # a second name of someone's file
    with pytest.raises(OrchestratorError, match="not a plain file of its own"):
        with project_lock("shop", print):
            pass
    assert victim.read_text() == "keep me" and stat.S_IMODE(victim.stat().st_mode) == 0o600


def test_one_engine_has_one_lock_however_its_socket_is_named(monkeypatch):
    from orchestrator.deployment import lock_path
    names = set()
    for host in (None, "unix:///var/run/docker.sock", "unix:///run/docker.sock"):
        if host is None:
            monkeypatch.delenv("DOCKER_HOST", raising=False)
        else:
            monkeypatch.setenv("DOCKER_HOST", host)
        names.add(lock_path("shop"))
    assert len(names) == 1


def test_a_project_name_that_the_engine_refuses_or_that_names_a_path_is_a_usage_error(cli, tmp_path):
    for name, shown in (("MyShop", "'myshop'"), ("../../x", "'x'"), ("a/b", "'a-b'")):
        result = cli("plan", str(EXAMPLES / "workers"), "--project", name)
        assert result.returncode == 2, result.stdout
        assert f"'{name}' is not a project name" in result.stderr and f"(such as {shown}" in result.stderr
        assert "Traceback" not in result.stderr
    assert cli("validate", str(EXAMPLES / "workers"), "--project", "my-shop.2").returncode == 0


def test_plan_validate_and_compose_to_stdout_write_nothing(tmp_path):
    env = _env(tmp_path, "state")
    for command in (["validate"], ["plan"], ["plan", "--format", "json", "--show-secrets"], ["compose"]):
        result = subprocess.run([sys.executable, "-m", "orchestrator", *command, str(EXAMPLES / "workers"),
                                 "--project", "nothing-written"], env=env, cwd=REPO, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
    assert not (tmp_path / "state").exists() and not (tmp_path / "locks").exists()


def test_the_state_directory_is_private(tmp_path, monkeypatch):
    from orchestrator.state import state_dir
    monkeypatch.setenv("ORCHESTRATOR_STATE_DIR", str(tmp_path / "made"))
    assert stat.S_IMODE(state_dir().stat().st_mode) == 0o700
    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    old.chmod(0o755)  # as an earlier version left it
    monkeypatch.setenv("ORCHESTRATOR_STATE_DIR", str(old))
    assert stat.S_IMODE(state_dir().stat().st_mode) == 0o700
