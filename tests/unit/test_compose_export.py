"""The Compose export: every example's file under compose/ is current, and its shape is what
docker-compose and docker stack deploy need."""

from __future__ import annotations

import pytest
import yaml

from orchestrator.operations import Target, compose_export

from tests.conftest import EXAMPLES, REPO

EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_the_committed_compose_file_is_current(name):
    target = REPO / "compose" / f"{name}.yml"
    result = compose_export(Target(EXAMPLES / name), target, "dnsrr")
    regenerate = f"run `orchestrator compose examples/{name} -o compose/{name}.yml`"
    assert target.is_file() and target.read_text() == result.yaml(), f"compose/{name}.yml is stale: {regenerate}"
    for file_name, text in result.dockerfiles.items():
        assert (REPO / "compose" / file_name).read_text() == text, f"compose/{file_name} is stale: {regenerate}"


def test_the_workers_file_has_the_platform_lifecycle_and_isolation():
    document = yaml.safe_load((REPO / "compose" / "workers.yml").read_text())
    services = document["services"]
    assert set(services) == {"mariadb", "rabbitmq", "app", "app--queue", "app--mail", "router"}
    assert "ports" not in services["app"]  # only the router publishes, on 127.0.0.1
    assert all(port.startswith("127.0.0.1:${ORCHESTRATOR_ROUTER_") for port in services["router"]["ports"])
    assert "build" in services["app"] and "build" not in services["app--queue"]
    assert services["app"]["image"] == services["app--queue"]["image"] == services["app--mail"]["image"]
    for service in services.values():
        assert service["restart"] == "unless-stopped" and service["stop_grace_period"] == "15s"
        assert "restart_policy" not in service["deploy"]  # compose would turn it into `always`
        assert service["deploy"]["endpoint_mode"] == ("vip" if "ports" in service else "dnsrr")
    assert services["app--queue"]["deploy"]["resources"]["limits"] == {"cpus": "0.4", "memory": "128M"}
    assert "workers-svc-mariadb" not in services["app--mail"]["networks"]
    assert services["mariadb"]["networks"]["workers-svc-mariadb"] == {"aliases": ["database.internal"]}
    assert document["networks"]["workers-svc-mariadb"] == {"internal": True}
    assert services["app--queue"]["environment"]["TYPE"] == "worker"
    assert services["mariadb"]["image"] == "${ORCHESTRATOR_IMAGE_MARIADB_10_11:-mariadb:10.11}"
