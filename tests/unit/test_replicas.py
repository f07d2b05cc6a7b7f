"""Read-only replicas: the config the platform's docs write is accepted, a wrong reference is an error at its
file and line, and the plan gives each replica its own container and volume, the way to its primary, and
credentials that work on the copy."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from orchestrator.config.validate import load_project
from orchestrator.errors import ConfigError
from orchestrator.plan import translate
from orchestrator.deployment import _derive

APP = """\
applications:
  app:
    type: "python:3.11"
    relationships:
      database:
        service: db
        endpoint: main
      database-readonly:
        service: db-replica
    web: {commands: {start: python3 web.py}}
  other:
    type: "python:3.11"
    relationships:
      reports:
        service: db-replica
    web: {commands: {start: python3 web.py}}
"""
POSTGRESQL = """\
services:
  db:
    type: postgresql:15
    configuration:
      extensions:
        - pg_trgm
      endpoints:
        main:
          default_database: main
          privileges:
            main: admin
        replicator:
          replication: true
  db-replica:
    type: postgresql-replica:15
    configuration:
      endpoints:
        postgresql:
          default_database: main
      extensions:
        - pg_trgm
    relationships:
      primary: db:replicator
"""
MARIADB = """\
services:
  db:
    type: mariadb:11.4
    configuration:
      schemas:
        - main
      endpoints:
        main:
          default_schema: main
          privileges:
              main: admin
        replicator:
          privileges:
            main: replication
  db-replica:
    type: mariadb-replica:11.4
    configuration:
      schemas:
        - main
      endpoints:
        main:
          default_schema: main
          privileges:
            main: admin
    relationships:
      primary: db:replicator
"""


def load(tmp_path: Path, services: str, app: str = APP):
    (tmp_path / ".upsun").mkdir(exist_ok=True)
    (tmp_path / ".upsun" / "config.yaml").write_text(app + services)
    return load_project(tmp_path, name="shop")


def problems(tmp_path: Path, services: str) -> list[tuple[int, str, str]]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, services)
    return [(p.line, p.key, p.message) for p in caught.value.problems]


def line_of(services: str, text: str, app: str = APP) -> int:
    """The line of the first line holding `text` in the config file `load` writes."""
    return next(number for number, line in enumerate((app + services).splitlines(), 1) if text in line)


def relationships(plan, instance: str) -> dict:
    return json.loads(base64.b64decode(plan.instance(instance).env["PLATFORM_RELATIONSHIPS"]))


@pytest.mark.parametrize("services", [POSTGRESQL, MARIADB], ids=["postgresql", "mariadb"])
def test_the_docs_config_is_accepted_without_warnings(tmp_path, services):
    project, warnings = load(tmp_path, services)
    replica = next(s for s in project.services if s.name == "db-replica")
    assert replica.replica and replica.primary is not None
    assert (replica.primary.service, replica.primary.endpoint) == ("db", "replicator")
    assert replica.credentials_owner == "db"
    assert [e.name for e in next(s for s in project.services if s.name == "db").endpoints if e.can_replicate] == \
        ["replicator"]
    assert warnings == []


def test_an_endpoint_without_replication_is_refused_at_the_relationship(tmp_path):
    found = problems(tmp_path, POSTGRESQL.replace("primary: db:replicator", "primary: db:main"))
    assert found == [(line_of(POSTGRESQL, "primary: db"), "services.db-replica.relationships.primary",
                      "endpoint 'main' of 'db' may not replicate, so 'db-replica' cannot stream from it")]
    found = problems(tmp_path, MARIADB.replace("main: replication", "main: ro"))
    assert [(line, key) for line, key, _ in found] == [(line_of(MARIADB, "primary: db"),
                                                        "services.db-replica.relationships.primary")]


def test_a_primary_that_is_missing_or_of_another_type_or_endpoint_is_refused(tmp_path):
    assert problems(tmp_path, POSTGRESQL.replace("primary: db:replicator", "primary: nodb:replicator")) == [
        (line_of(POSTGRESQL, "primary: db"), "services.db-replica.relationships.primary",
         "'nodb' is no service; a postgresql-replica streams from a postgresql service")]
    assert problems(tmp_path, POSTGRESQL.replace("primary: db:replicator", "primary: db:nothing"))[0][2] == \
        "service 'db' has no endpoint 'nothing'"
    mixed = POSTGRESQL + "  cache:\n    type: redis:7.2\n"
    assert problems(tmp_path, mixed.replace("primary: db:replicator", "primary: cache:redis"))[0][2] == \
        "'cache' is a redis service; a postgresql-replica streams from a postgresql service"
    chained = POSTGRESQL + ("  db-replica2:\n    type: postgresql-replica:15\n"
                            "    relationships:\n      primary: db-replica:postgresql\n")
    assert problems(tmp_path, chained)[0][:2] == (line_of(chained, "primary: db-replica:"),
                                                  "services.db-replica2.relationships.primary")


def test_a_replica_has_one_relationship_named_primary(tmp_path):
    found = problems(tmp_path, POSTGRESQL.replace("primary: db:replicator", "source: db:replicator"))
    assert {(line, key) for line, key, _ in found} == {
        (line_of(POSTGRESQL, "primary: db"), "services.db-replica.relationships.source"),
        (line_of(POSTGRESQL, "  db-replica:"), "services.db-replica.relationships")}
    assert any("no `primary` relationship" in message for _, _, message in found)


def test_a_replica_runs_its_primarys_version_and_holds_only_its_schemas(tmp_path):
    found = problems(tmp_path, POSTGRESQL.replace("postgresql-replica:15", "postgresql-replica:16"))
    replica_line = line_of(POSTGRESQL, "  db-replica:")
    assert found == [(replica_line, "services.db-replica.type",
                      "postgresql-replica:16 must run the version of its primary 'db' (postgresql:15)")]
    found = problems(tmp_path, POSTGRESQL.replace("          default_database: main\n      extensions",
                                                  "          default_database: reports\n      extensions"))
    assert found == [(replica_line, "services.db-replica.configuration",
                      "'db-replica' names 'reports', which its primary 'db' does not copy to it")]
    found = problems(tmp_path, MARIADB.replace("        - main\n      endpoints:\n        main:\n          "
                                               "default_schema: main\n          privileges:\n            main: admin",
                                               "        - main\n        - logs\n      endpoints:\n        main:\n"
                                               "          default_schema: main\n          privileges:\n"
                                               "            main: admin"))
    assert [(line, key) for line, key, _ in found] == [(line_of(MARIADB, "  db-replica:"),
                                                        "services.db-replica.configuration")]


def test_replication_is_a_flag_on_postgresql_endpoints_and_a_privilege_on_mariadb_ones(tmp_path):
    found = problems(tmp_path, POSTGRESQL.replace("replication: true", "replication: yes please"))
    assert (line_of(POSTGRESQL, "replication: true"), "services.db.configuration.endpoints.replicator.replication",
            "must be true or false, not a string") in found
    found = problems(tmp_path, MARIADB.replace("          privileges:\n            main: replication",
                                               "          replication: true"))
    assert "services.db.configuration.endpoints.replicator.replication" in [key for _, key, _ in found]


def test_the_replica_has_its_own_container_and_volume_and_reaches_only_its_primary(tmp_path):
    project, _ = load(tmp_path, POSTGRESQL)
    plan = translate(project, "main")
    primary, replica = plan.instance("db"), plan.instance("db-replica")
    assert [s.name for s in plan.instances if s.role == "service"] == ["db", "db-replica"]
    assert replica.image == primary.image and replica.container == "shop-db-replica"
    assert [(m.target, m.volume) for m in replica.mounts] == [("/var/lib/postgresql/data", "shop-db-replica-data")]
    assert [(m.target, m.volume) for m in primary.mounts] == [("/var/lib/postgresql/data", "shop-db-data")]
    members = {network.name: sorted(spec.name for spec in plan.instances
                                    if network.name in [a.network for a in spec.networks])
               for network in plan.networks if network.internal}
    assert members == {"shop-svc-db": ["app", "db", "db-replica"], "shop-svc-db-replica": ["app", "db-replica", "other"]}
    aliases = {a.network: a.aliases for a in primary.networks}
    assert "primary.internal" in aliases["shop-svc-db"]


def test_the_replica_streams_as_the_replication_user_and_apps_read_as_a_user_of_the_primary(tmp_path):
    project, _ = load(tmp_path, POSTGRESQL)
    secrets = {("db", "main"): "main-secret", ("db", "replicator"): "replication-secret",
               ("db", "postgresql"): "reader-secret"}
    plan = translate(project, "main", secrets)
    env = plan.instance("db-replica").env
    assert {k: v for k, v in env.items() if k.startswith("ORCHESTRATOR_")} == {
        "ORCHESTRATOR_PRIMARY_HOST": "primary.internal", "ORCHESTRATOR_PRIMARY_PORT": "5432",
        "ORCHESTRATOR_PRIMARY_USER": "replicator", "ORCHESTRATOR_PRIMARY_PASSWORD": "replication-secret",
        "ORCHESTRATOR_REPLICA_SLOT": "replica_db_replica"}
    assert not any(name.startswith("POSTGRES_") for name in env)  # an image that cannot replicate fails loudly
    readonly = relationships(plan, "app")["database-readonly"][0]
    assert (readonly["host"], readonly["type"], readonly["rel"], readonly["username"], readonly["password"],
            readonly["path"], readonly["query"]) == ("database-readonly.internal", "postgresql-replica:15", "postgresql",
                                                     "postgresql", "reader-secret", "main", {"is_master": False})
    init = plan.instance("db").env["ORCHESTRATOR_INIT_SQL"]
    assert "ALTER ROLE \"replicator\" LOGIN REPLICATION PASSWORD 'replication-secret';" in init
    assert "ALTER ROLE \"main\" LOGIN NOREPLICATION PASSWORD 'main-secret';" in init
    assert "ALTER ROLE \"postgresql\" LOGIN NOREPLICATION PASSWORD 'reader-secret';" in init  # made for the replica
    assert 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "postgresql";' in init
    assert 'ALTER DEFAULT PRIVILEGES FOR ROLE "main" IN SCHEMA public GRANT SELECT ON TABLES TO "postgresql";' in init


def test_a_replica_endpoint_the_primary_has_is_that_user(tmp_path):
    project, _ = load(tmp_path, POSTGRESQL.replace("        postgresql:\n          default_database: main\n      ext",
                                                   "        main:\n          default_database: main\n      ext"),
                      APP)
    plan = translate(project, "main", {("db", "main"): "main-secret", ("db", "replicator"): "replication-secret"})
    readonly = relationships(plan, "app")["database-readonly"][0]
    assert (readonly["username"], readonly["password"]) == ("main", "main-secret")
    assert plan.instance("db").env["ORCHESTRATOR_INIT_SQL"].count("CREATE ROLE") == 2  # main and replicator only


def test_a_mariadb_replica_copies_what_its_user_may_read_and_makes_its_own_users(tmp_path):
    project, _ = load(tmp_path, MARIADB)
    plan = translate(project, "main", {("db", "main"): "main-secret", ("db", "replicator"): "replication-secret"})
    primary, replica = plan.instance("db").env, plan.instance("db-replica").env
    assert primary["ORCHESTRATOR_BINARY_LOG"] == "1"
    assert "GRANT SELECT, LOCK TABLES, SHOW VIEW ON `main`.* TO 'replicator'@'%';" in primary["ORCHESTRATOR_INIT_SQL"]
    assert (replica["ORCHESTRATOR_PRIMARY_USER"], replica["ORCHESTRATOR_PRIMARY_PASSWORD"],
            replica["ORCHESTRATOR_REPLICA_SCHEMAS"]) == ("replicator", "replication-secret", "main")
    assert "CREATE USER IF NOT EXISTS 'main'@'%' IDENTIFIED BY 'main-secret';" in replica["ORCHESTRATOR_INIT_SQL"]
    assert int(replica["ORCHESTRATOR_SERVER_ID"]) > 1 and not any(n.startswith("MARIADB_") for n in replica)
    plain, _ = load(tmp_path, "services:\n  db: {type: 'mariadb:11.4'}\n",
                    "applications:\n  app:\n    type: 'python:3.11'\n    relationships: {database: 'db:mysql'}\n")
    assert "ORCHESTRATOR_BINARY_LOG" not in translate(plain, "main").instance("db").env  # no endpoint may replicate


def test_a_replicas_endpoints_are_stored_as_its_primarys(tmp_path):
    project, _ = load(tmp_path, POSTGRESQL)
    stored = _derive(project, "seed", {})
    assert set(stored) == {("db", "main"), ("db", "replicator"), ("db", "postgresql")}
    assert _derive(project, "seed", {}) == stored and _derive(project, "other seed", {}) != stored
    assert _derive(project, "seed", {("db", "main"): "kept"})[("db", "main")] == "kept"


def test_the_type_a_docs_example_misspells_is_refused_with_the_right_name(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, POSTGRESQL.replace("postgresql-replica:15", "postgres-replica:15"))
    problem = next(p for p in caught.value.problems if p.key == "services.db-replica.type")
    assert problem.message == "unknown service type 'postgres-replica'"
    assert problem.hint.startswith("did you mean 'postgresql-replica'?")
