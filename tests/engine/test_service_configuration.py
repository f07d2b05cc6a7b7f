"""Service `configuration` honoured by the local servers: MariaDB schemas and endpoint privileges,
PostgreSQL databases, endpoint roles and extensions, RabbitMQ vhosts."""

from __future__ import annotations

import time

import pytest

from tests.engine.conftest import PROJECTS

pytestmark = pytest.mark.engine

EXPECTED = """\
mariadb admin creates: ok
mariadb admin writes: ok
mariadb reporter reads: ok
mariadb reporter writes: refused (OperationalError)
postgresql owner creates: ok
postgresql owner writes: ok
postgresql extension: ok
postgresql reader reads: ok
postgresql reader writes: refused (DatabaseError)
rabbitmq vhost orders: ok"""


def test_endpoints_grant_what_the_config_says(deploy):
    schemas = deploy(PROJECTS / "schemas")
    schemas.ok("up", timeout=900)
    output = ""
    for _ in range(40):  # the vhost is created once RabbitMQ has booted
        output = schemas.container("app").exec_run(["python3", "probe.py"]).output.decode().strip()
        if output == EXPECTED:
            break
        time.sleep(1)
    assert output == EXPECTED
