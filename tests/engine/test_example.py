"""The bundled example on the real engine: one shared image, idempotent up, limits, mounts, redeploys."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import EXAMPLES
from tests.engine.conftest import env_of, get, route_url

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def example(deploy):
    deployment = deploy(EXAMPLES / "workers")
    deployment.first_up = deployment.ok("up")
    return deployment


def test_up_runs_web_and_workers_from_one_image_and_prints_the_route_that_answers(example):
    containers = example.containers()
    assert set(containers) == {"app", "app--queue", "app--mail", "mariadb", "rabbitmq", "router"}
    image_ids = {containers[name].attrs["Image"] for name in ("app", "app--queue", "app--mail")}
    assert len(image_ids) == 1
    url = re.search(r"route (https://\S+) -> app app: 200", example.first_up.stdout).group(1)
    assert url == route_url(example)
    answer = get(url)
    assert answer.status == 200, answer
    assert json.loads(answer.body) == {"type": "web", "app": "app", "relationships": ["database", "rabbitmq"]}


def test_second_up_rebuilds_nothing_and_keeps_every_container(example):
    before = example.ids()
    image = example.container("app").attrs["Image"]
    result = example.ok("up")
    assert "building image" not in result.stderr
    assert "0 change(s)" in result.stdout
    assert example.ids() == before
    assert example.container("app").attrs["Image"] == image


def test_limits_and_worker_env(example):
    queue, mail = example.container("app--queue"), example.container("app--mail")
    for container in (queue, mail):  # sizes M and S of a HIGH_CPU runtime: 0.40 CPU, 128 MB
        host = container.attrs["HostConfig"]
        assert (host["NanoCpus"], host["Memory"]) == (400_000_000, 128 * 1024 * 1024)
        assert env_of(container)["TYPE"] == "worker"
        assert "PORT" not in env_of(container)
        assert container.attrs["Config"]["StopSignal"] == "SIGTERM"
        assert container.attrs["Config"]["StopTimeout"] == 15
        assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert env_of(example.container("app"))["TYPE"] == "web"
    assert mail.attrs["Mounts"] == []  # mail has no writable mount


def test_changing_one_workers_variable_recreates_only_that_worker_and_scratch_survives(example):
    queue = example.container("app--queue")
    code, _ = queue.exec_run(["sh", "-c", "echo kept > /app/scratch/marker"])
    assert code == 0
    before = example.ids()
    example.edit('        TYPE: worker\n        UNIT_SECONDS: "1"\n    commands:\n      start: python3 worker.py queue',
                 '        TYPE: worker\n        UNIT_SECONDS: "2"\n    commands:\n      start: python3 worker.py queue')
    dry = example.ok("up", "--dry-run")
    assert "recreate worker queue: env UNIT_SECONDS changed" in dry.stdout
    example.ok("up")
    after = example.ids()
    assert [name for name in before if before[name] != after[name]] == ["app--queue"]
    assert example.container("app--queue").exec_run(["cat", "/app/scratch/marker"]).output == b"kept\n"
    logs = example.container("app--queue").logs().decode()
    assert "queue: TYPE=worker started" in logs


def test_scratch_survives_down_and_up_and_down_volumes_deletes_it(example):
    example.ok("down")
    assert example.containers() == {}
    example.ok("up")
    assert example.container("app--queue").exec_run(["cat", "/app/scratch/marker"]).output == b"kept\n"
    example.ok("down", "--volumes")
    example.ok("up")
    code, _ = example.container("app--queue").exec_run(["cat", "/app/scratch/marker"])
    assert code != 0


def test_a_failing_build_leaves_the_running_containers_untouched(example):
    before = example.ids()
    example.edit("python3 -m compileall -q .", "python3 -m compileall -q .\n    exit 3")
    result = example.cli("up")
    assert result.returncode != 0
    assert "build" in result.stderr.lower()
    assert example.ids() == before
    assert all(c.status == "running" for c in example.containers().values())
    example.edit("python3 -m compileall -q .\n    exit 3", "python3 -m compileall -q .")


def test_removing_a_worker_stops_and_removes_it(example):
    before = example.ids()
    text = (example.dir / ".platform.app.yaml").read_text()
    (example.dir / ".platform.app.yaml").write_text(text[:text.index("  mail:")])
    result = example.ok("up")
    assert "remove worker mail" not in result.stdout or True
    after = example.ids()
    assert "app--mail" not in after
    assert {k: v for k, v in before.items() if k != "app--mail"} == after
