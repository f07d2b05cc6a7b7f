"""The CLI as a user runs it: exit codes, error format for every bad project under tests/bad, the JSON contract."""

from __future__ import annotations

import json
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
        assert instance["role"] in ("web", "worker", "service")
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
