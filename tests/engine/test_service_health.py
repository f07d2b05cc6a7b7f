"""A service that never becomes healthy fails the deploy with its name and last log lines, and no app starts."""

from __future__ import annotations

import re

import pytest

from tests.engine.conftest import PROJECTS

pytestmark = pytest.mark.engine


def test_a_service_that_dies_while_starting_fails_the_deploy_naming_it(deploy, tmp_path):
    images = tmp_path / "images.yaml"  # a "redis" that prints a line and exits
    images.write_text("redis:7.0: orchestrator/debian-base:bookworm\n")
    broken = deploy(PROJECTS / "badservice")
    (broken.dir / ".platform" / "services.yaml").write_text('cache:\n  type: "redis:7.0"\n')
    result = broken.cli("up", "--images", str(images))
    assert result.returncode == 1
    assert re.search(r"service cache exited with status 0 after \d+\.\d s.* while starting; (its last log lines:|"
                     r"it logged nothing)", result.stderr), result.stderr
    assert "app" not in {name for name, c in broken.containers().items() if c.status == "running"}
