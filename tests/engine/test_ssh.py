"""`orchestrator ssh` into a named worker: commands keep stdout and stderr apart and pass the exit status
back; an interactive session through a pseudo-terminal gets a real TTY, Ctrl-C and its exit status."""

from __future__ import annotations

import sys
import time

import pexpect
import pytest

from tests.conftest import EXAMPLES, REPO

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def example(deploy):
    deployment = deploy(EXAMPLES / "workers")
    deployment.ok("up")
    return deployment


def test_a_command_in_a_worker_gets_its_env_keeps_stderr_apart_and_passes_the_status_back(example):
    result = example.cli("ssh", "--worker=queue", "--", "sh", "-c", "echo $TYPE; echo oops >&2; exit 3")
    assert (result.returncode, result.stdout, result.stderr) == (3, "worker\n", "oops\n")
    web = example.cli("ssh", "--", "sh", "-c", "echo $TYPE $PORT")
    assert (web.returncode, web.stdout) == (0, "web 8888\n")


def test_an_unknown_worker_is_an_error_listing_the_workers(example):
    result = example.cli("ssh", "--worker", "nope", "--", "true")
    assert result.returncode == 1
    assert "has no worker nope; workers: mail, queue" in result.stderr


def test_an_interactive_session_has_a_tty_ctrl_c_and_its_exit_status(example):
    child = pexpect.spawn(sys.executable, ["-m", "orchestrator", "ssh", str(example.dir), "--project", example.name,
                                           "--worker=queue"], cwd=str(REPO), timeout=30, encoding="utf-8")
    child.setwinsize(40, 132)
    child.sendline("tty; stty size; pwd")
    child.expect(r"/dev/pts/\d+")
    child.expect("40 132")
    child.expect("/app")
    # printf splits the markers so that the terminal's echo of the typed line cannot match them
    child.sendline("printf 'sl%s\\n' eeping; sleep 60")
    child.expect("sleeping")
    time.sleep(0.5)  # let the shell start sleep in the foreground
    child.sendintr()  # Ctrl-C reaches the remote sleep, not the local client
    child.sendline("printf 'still-%s\\n' here")
    child.expect("still-here", timeout=10)
    child.sendline("exit 5")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 5
