"""Crashes and out-of-memory kills on the real engine: a web instance that crashes on start is the error (its
exit status, run time and own traceback, not an empty deploy hook), the kernel's out-of-memory kills are
named with the limit and how to raise it, workers that crash on start are reported, and a rollback stops
the new containers with their grace. The tests run in order on one deployment, each editing it."""

from __future__ import annotations

import re

import pytest

from tests.engine.conftest import PROJECTS

pytestmark = pytest.mark.engine

BROKEN = "missing_module:app"
HOOK = 'sleep 4\n    echo "deploy hook done"'


@pytest.fixture(scope="module")
def crashes(deploy):
    return deploy(PROJECTS / "crashes")


def read(deployment, instance: str, path: str) -> str:
    code, output = deployment.container(instance).exec_run(["cat", path])
    return output.decode() if code == 0 else ""


def test_a_web_instance_that_crashes_on_start_is_the_error_with_its_own_traceback(crashes):
    result = crashes.cli("up")
    assert result.returncode == 1, result.stdout + result.stderr
    error = result.stderr[result.stderr.index("error: "):]
    assert re.match(r"error: web instance app exited with status 3 after \d+\.\d s.* while its deploy hook ran; "
                    r"its last log lines:\n", error), error
    assert "ModuleNotFoundError: No module named 'missing_module'" in error
    assert "deploy hook of app app exited with status 137" not in error
    assert not crashes.containers()  # a first deploy that failed leaves nothing behind


def test_a_deploy_hook_killed_for_memory_says_so_and_how_to_raise_the_limit(crashes):
    crashes.edit(BROKEN, "wsgi:app")
    crashes.ok("up")
    before = crashes.ids()
    crashes.edit(HOOK, "python3 -c \"b = b'x' * (400 * 1024 * 1024); print(len(b))\"")
    result = crashes.cli("up", "--size", "app=0.25")
    assert result.returncode == 1, result.stdout + result.stderr
    assert ("error: the deploy hook of app app was killed (status 137): out of memory: limit 128 MB (size 0.25, "
            "profile HIGH_CPU); raise it with `orchestrator up --size app=0.5` (224 MB; --size app=1: 384 MB), "
            "or the same in $ORCHESTRATOR_SIZES") in result.stderr
    after = crashes.containers()
    assert {name: c.id for name, c in after.items()} == before and after["app"].status == "running"


def test_the_rollback_stopped_the_new_web_instance_with_its_grace(crashes):
    old = crashes.container("app").id[:12]
    stopped = [line.split()[0] for line in read(crashes, "app", "/app/marks/term.log").splitlines()]
    assert old in stopped  # the old one, stopped for the new one
    assert any(host != old for host in stopped), stopped  # and the new one, stopped on rollback: not killed


def test_workers_that_crash_or_run_out_of_memory_on_start_are_reported_and_the_deploy_stands(crashes):
    crashes.edit("python3 -c \"b = b'x' * (400 * 1024 * 1024); print(len(b))\"", "echo migrated")
    crashes.edit("web:\n", "workers:\n"
                 "  crasher:\n"
                 "    commands:\n"
                 "      start: |\n"
                 "        echo 'crasher: cannot reach the queue' >&2\n"
                 "        exit 3\n"
                 "  hog:\n"
                 "    commands:\n"
                 "      start: python3 -c \"import time; b = b'x' * (400 * 1024 * 1024); time.sleep(60)\"\n"
                 "web:\n")
    result = crashes.cli("up", "--size", "app--hog=0.1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"warning: worker crasher exited with status 3 after \d+\.\d s.*; its last log lines:\n"
                     r"(    .*\n)*    crasher: cannot reach the queue\n", result.stderr), result.stderr
    assert re.search(r"warning: worker hog was killed \(status 137 after \d+\.\d s.*\): out of memory: limit 64 MB "
                     r"\(size 0\.1, profile HIGH_CPU\); raise it with `orchestrator up --size app--hog=0\.25` "
                     r"\(128 MB; --size app--hog=0\.5: 224 MB\)", result.stderr), result.stderr
    hog = next(line for line in crashes.ok("ps").stdout.splitlines() if line.startswith("app--hog"))
    assert "out of memory" in hog


def test_a_web_instance_that_crashes_without_a_deploy_hook_is_named_in_its_routes_warning(crashes):
    crashes.edit("hooks:\n  deploy: |\n    echo migrated\n", "")
    crashes.edit("wsgi:app", BROKEN)
    result = crashes.cli("up")
    assert result.returncode == 0, result.stdout + result.stderr  # as on the platform: the deploy stands
    warning = result.stderr[result.stderr.index("warning: route "):]
    assert re.match(r"warning: route https://\S+ \(app app\) does not answer: .*; web instance app exited with "
                    r"status 3 after \d+\.\d s.*; its last log lines:\n", warning), warning
    assert "ModuleNotFoundError: No module named 'missing_module'" in warning
    assert "warning: web instance app" not in result.stderr  # said once, in the route's warning


def test_a_size_with_more_cpus_than_the_engine_has_runs_capped_at_what_it_has(crashes):
    crashes.edit(BROKEN, "wsgi:app")
    crashes.ok("up", "--size", "app=8")
    host = crashes.container("app").attrs["HostConfig"]
    cpus = crashes.engine.info()["NCPU"]
    assert (host["NanoCpus"], host["Memory"]) == (min(8, cpus) * 10**9, 2240 * 1024 * 1024)
    assert "keep web app: unchanged" in crashes.ok("up", "--dry-run", "--size", "app=8").stdout  # it stays so
    assert "recreate web app: limits changed" in crashes.ok("up", "--dry-run").stdout  # without it: back to AUTO
