"""Services on the real engine: health before apps, relationships as the only way in, data and credentials
that survive redeploys and down/up, and an app reaching another app over `app:http`."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import EXAMPLES
from orchestrator import probe
from tests.engine.conftest import env_of, route_url, web_url

pytestmark = pytest.mark.engine


def fetch_json(url: str, ready, timeout: float = 90.0) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        answer = probe.get(url)
        try:
            last = json.loads(answer.body) if answer.status == 200 else {"error": answer.error or answer.status}
            if ready(last):
                return last
        except ValueError as error:
            last = {"error": str(error)}
        time.sleep(0.5)
    pytest.fail(f"{url} never got ready: {last}")


@pytest.fixture(scope="module")
def services(deploy):
    deployment = deploy(EXAMPLES / "services")
    deployment.ok("up", timeout=900)
    return deployment


def rows(deployment) -> dict:
    return fetch_json(web_url(deployment), lambda d: d.get("mariadb", {}).get("rows", 0) > 0 and d.get("rabbitmq"))


def test_a_worker_writes_through_every_service_and_web_reads_it_back(services):
    data = rows(services)
    assert data["mariadb"]["latest"].endswith("from the writer")
    assert data["postgresql"]["rows"] > 0 and data["postgresql"]["latest"].endswith("from the writer")
    assert data["redis"].endswith("from the writer")
    assert data["rabbitmq"].startswith("note ")
    writer_env = env_of(services.container("app--writer"))
    assert writer_env["DATABASE_HOST"] == "database.internal" and writer_env["PG_PORT"] == "5432"


def test_only_a_relationship_opens_the_way_to_a_service(services):
    mariadb = services.container("mariadb")
    address = next(iter(mariadb.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    probe = ("import socket, sys\n"
             "try:\n    socket.gethostbyname('database.internal'); print('resolved')\n"
             "except OSError:\n    print('no name')\n"
             f"s = socket.socket(); s.settimeout(3)\n"
             f"print('connected' if s.connect_ex(('{address}', 3306)) == 0 else 'no route')\n")
    outsider = services.container("app--outsider").exec_run(["python3", "-c", probe]).output.decode().split()
    writer = services.container("app--writer").exec_run(["python3", "-c", probe]).output.decode().split()
    assert outsider == ["no", "name", "no", "route"]
    assert writer == ["resolved", "connected"]
    for name in ("mariadb", "postgresql", "redis", "rabbitmq"):
        ports = services.container(name).attrs["NetworkSettings"]["Ports"] or {}
        assert all(not bindings for bindings in ports.values()), (name, ports)


def test_data_and_credentials_survive_a_redeploy_and_down_up_and_down_volumes_deletes_them(services):
    secrets = services.ok("relationships", "--show-secrets").stdout
    before = rows(services)["postgresql"]["rows"]
    services.edit("      writer:\n        commands:", "      writer:\n        variables:\n          env:\n"
                  "            NOTE: again\n        commands:", file=".upsun/config.yaml")
    services.ok("up", timeout=900)
    assert rows(services)["postgresql"]["rows"] >= before
    services.ok("down")
    services.ok("up", timeout=900)
    after = rows(services)
    assert after["postgresql"]["rows"] >= before and after["mariadb"]["rows"] >= before
    assert services.ok("relationships", "--show-secrets").stdout == secrets
    services.ok("down", "--volumes")
    services.ok("up", timeout=900)
    fresh = rows(services)
    assert fresh["postgresql"]["rows"] < before + 3
    assert services.ok("relationships", "--show-secrets").stdout != secrets


def test_relationships_command_masks_passwords(services):
    shown = json.loads(services.ok("relationships").stdout)
    assert shown["pg"][0]["password"] == "********"
    assert set(json.loads(services.ok("relationships", "--worker", "outsider").stdout)) == {"queue"}


def test_an_app_reaches_another_app_at_its_relationship_name_on_port_80(deploy):
    multiapp = deploy(EXAMPLES / "multiapp")
    out = multiapp.ok("up").stdout
    assert f"route {route_url(multiapp)} -> app frontend: 200" in out, out
    assert f"route {route_url(multiapp, host='api.')} -> app backend: 200" in out, out
    answer = fetch_json(route_url(multiapp), lambda d: "backend" in d and "error" not in d["backend"])
    assert answer == {"app": "frontend", "backend": {"app": "backend", "says": "hello from the backend"},
                      "asked": "http://backend.internal/"}
    backend = fetch_json(route_url(multiapp, host="api."), lambda d: "says" in d)
    assert backend == {"app": "backend", "says": "hello from the backend"}
