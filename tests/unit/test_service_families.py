"""orchestrator.service_families: every catalogue type has its family's rules, and a password is looked up
in one way (a replica's endpoints are its primary's users, so they share its passwords)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.catalog import service_types
from orchestrator.config.model import Endpoint
from orchestrator.config.validate import load_project
from orchestrator.service_families import (FAMILIES, MysqlFamily, PostgresqlFamily, derived_password, family_of,
                                           password_of)


def test_every_type_of_the_catalogue_has_rules_and_a_named_family_has_its_own():
    for name, entry in service_types().items():
        family = family_of(name)
        if entry.family in FAMILIES and name not in ("elasticsearch-enterprise", "gotenberg"):
            assert family is FAMILIES[entry.family], name
    assert isinstance(family_of("mariadb"), MysqlFamily) and isinstance(family_of("mysql"), MysqlFamily)
    assert isinstance(family_of("postgresql"), PostgresqlFamily)


def test_credential_shapes_of_a_few_families():
    endpoint = Endpoint("admin", "reports")
    assert family_of("mariadb").credentials(None, endpoint, True, "pw") == \
        {"username": "user", "password": "", "path": "reports", "query": {"is_master": True}}  # type: ignore[arg-type]
    assert family_of("mariadb").credentials(None, endpoint, False, "pw")["username"] == "admin"  # type: ignore[arg-type]
    assert family_of("rabbitmq").credentials(None, endpoint, False, "pw") == \
        {"username": "guest", "password": "pw", "path": None, "query": []}  # type: ignore[arg-type]
    assert not family_of("memcached").has_credentials and family_of("memcached").short_tail
    assert family_of("gotenberg").extra_fields("pdf.internal", 3000) == {"url": "http://pdf.internal:3000"}


def _project(tmp_path: Path, services: str):
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform" / "services.yaml").write_text(services)
    (tmp_path / ".platform.app.yaml").write_text("name: app\ntype: 'python:3.11'\nweb:\n  commands:\n"
                                                 "    start: sleep 1\n")
    return load_project(tmp_path, name="p")[0]


def test_a_password_is_the_stored_one_else_derived_and_a_replica_uses_its_primarys(tmp_path):
    project = _project(tmp_path, "db:\n  type: postgresql:15\n  configuration:\n    endpoints:\n"
                                 "      main: {privileges: {main: admin}}\n      replicator: {replication: true}\n"
                                 "db-replica:\n  type: postgresql-replica:15\n  relationships:\n"
                                 "    primary: db:replicator\n")
    services = {s.name: s for s in project.services}
    primary, replica = services["db"], services["db-replica"]
    assert password_of(primary, "main", "p", {}) == derived_password("p", "db", "main")
    assert password_of(primary, "main", "p", {("db", "main"): "kept"}) == "kept"
    assert password_of(replica, "main", "p", {("db", "main"): "kept"}) == "kept"
