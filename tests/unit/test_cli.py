"""The CLI as a user runs it: exit codes, error format for every bad project under tests/bad, the JSON contract."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

BAD = sorted(p for p in (REPO / "tests" / "bad").iterdir() if p.is_dir())


@pytest.mark.parametrize("case", BAD, ids=[p.name for p in BAD])
def test_bad_project_fails_with_file_line_and_key(case: Path, cli):
    location, key, message = (case / "expected").read_text().strip().split(" ", 2)
    result = cli("validate", ".", cwd=case)
    assert result.returncode == 2, result.stderr
    assert f"{location}: {key}: " in result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "nothing was applied" in result.stderr


def test_plan_json_contract_and_determinism(cli):
    first = cli("plan", "examples/workers", "--format", "json")
    second = cli("plan", "examples/workers", "--format", "json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    document = json.loads(first.stdout)
    for instance in document["instances"]:
        assert {"name", "app", "role", "image", "command", "env", "mounts", "networks", "cpus", "memory_mb",
                "stop_timeout", "restart"} <= set(instance)
        assert instance["role"] in ("web", "worker", "service", "router")
        assert isinstance(instance["memory_mb"], int) and isinstance(instance["cpus"], (int, float))
        for mount in instance["mounts"]:
            assert set(mount) == {"target", "source", "volume"}


def test_plan_text_shows_the_shared_image(cli):
    result = cli("plan", "examples/workers")
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("app")]
    assert [row[0] for row in rows] == ["app", "app--queue", "app--mail"]
    assert len({row[2] for row in rows}) == 1


def test_validate_ok_and_missing_directory(cli):
    assert cli("validate", "examples/workers").returncode == 0
    missing = cli("validate", "does/not/exist")
    assert missing.returncode == 1 and "not a directory" in missing.stderr



ONE_APP = {"app": ["mail", "queue"]}


def test_one_resolver_names_the_instance():
    from orchestrator.operations import resolve_instance
    assert resolve_instance(ONE_APP, None, None) == "app"
    assert resolve_instance(ONE_APP, None, "queue") == "app--queue"
    assert resolve_instance({"a": [], "b": ["w"]}, "b", "w") == "b--w"


@pytest.mark.parametrize("workers, app, worker, message", [
    (ONE_APP, None, "nope", "app app has no worker nope; workers: mail, queue"),
    (ONE_APP, "web", None, "no app web; apps: app"),
    ({"a": [], "b": ["w"]}, None, "w", "several apps (a, b): say which with --app"),
    ({}, None, None, "nothing runs for this project")])
def test_a_bad_name_is_one_error_that_lists_what_exists(workers, app, worker, message):
    from orchestrator.errors import OrchestratorError
    from orchestrator.operations import resolve_instance
    with pytest.raises(OrchestratorError, match=re.escape(message)):
        resolve_instance(workers, app, worker)


# -- what `ps` shows (rendering only; tests/engine/test_instance_state.py reads a real engine, and pipes
#    `ps`, `logs` and `ssh` into a closed pipe) --------------------------------------------------------------

def _state(instance: str = "app--queue", role: str = "worker", status: str = "running", **changes):
    from orchestrator.engine import ContainerState
    fields = dict(id=f"id-{instance}", name=f"p-{instance}", image_id="sha256:1", status=status, restart_count=0,
                  exit_code=0, started_at="", finished_at="", host_port=None, cpus=1.0, memory_mb=128,
                  labels={"orchestrator.project": "p", "orchestrator.instance": instance, "orchestrator.role": role,
                          "orchestrator.app": "app", "orchestrator.size": "S"})
    fields.update(changes)
    return ContainerState(**fields)


def test_ps_shows_an_out_of_memory_kill_with_its_limit_and_a_command_stopped_by_sv(capsys):
    from orchestrator import cli
    from orchestrator.instance_state import InstanceDetail
    hog = _state("app--hog", status="restarting", restart_count=5, exit_code=137, oom_killed=True)
    held = _state("app--queue")
    from orchestrator.observed import listed
    cli._print_ps(listed([hog, held]), {held.id: InstanceDetail(0, False, "app stopped by sv")})
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "137 (out of memory, limit 128 MB)" in rows["app--hog"]
    assert "running (app stopped by sv)" in rows["app--queue"]
