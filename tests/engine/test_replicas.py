"""Read-only replicas on the real engine, one deploy: a `postgresql-replica` and a `mariadb-replica` each copy
their primary through its replication endpoint and stream from it, so a row the app writes through the
primary's relationship is read back through the replica's, and a write through the replica's is refused."""

from __future__ import annotations

import uuid

import pytest

from tests.engine.conftest import PROJECTS, wait_for

pytestmark = pytest.mark.engine


def sql(deployment, relationship: str, statement: str) -> tuple[int, str]:
    """Run `statement` in the app container as the relationship's user, with only what its env vars say."""
    p = relationship.upper().replace("-", "_")
    if relationship.startswith("mariadb"):
        command = (f'mariadb -N -h "${p}_HOST" -P "${p}_PORT" -u "${p}_USERNAME" -p"${p}_PASSWORD" "${p}_PATH" '
                   '-e "$0"')
    else:
        command = (f'PGPASSWORD="${p}_PASSWORD" psql -X -q -At -v ON_ERROR_STOP=1 -h "${p}_HOST" -p "${p}_PORT" '
                   f'-U "${p}_USERNAME" -d "${p}_PATH" -c "$0"')
    result = deployment.container("app").exec_run(["sh", "-c", command, statement])
    return result.exit_code, result.output.decode().strip()


def writes_and_reads_back(deployment, primary: str, replica: str) -> str:
    """Write a row through `primary`, wait until `replica` reads it; what a write through `replica` says."""
    token = uuid.uuid4().hex
    assert sql(deployment, primary, "CREATE TABLE IF NOT EXISTS notes (body text)") == (0, ""), primary
    assert sql(deployment, primary, f"INSERT INTO notes VALUES ('{token}')")[0] == 0
    read = wait_for(lambda: token in sql(deployment, replica, "SELECT body FROM notes")[1], timeout=30)
    assert read, sql(deployment, replica, "SELECT body FROM notes")
    status, refusal = sql(deployment, replica, "INSERT INTO notes VALUES ('through the replica')")
    assert status != 0, refusal
    assert sql(deployment, primary, "SELECT count(*) FROM notes WHERE body = 'through the replica'") == (0, "0")
    return refusal


@pytest.fixture(scope="module")
def replicas(deploy):
    deployment = deploy(PROJECTS / "replicas")
    deployment.ok("up", timeout=900)
    return deployment


def test_postgresql_a_row_written_to_the_primary_is_read_from_the_replica_which_refuses_writes(replicas):
    refusal = writes_and_reads_back(replicas, "database", "database-readonly")
    assert "read-only transaction" in refusal
    assert sql(replicas, "database-readonly", "SELECT pg_is_in_recovery()") == (0, "t")


def test_mariadb_a_row_written_to_the_primary_is_read_from_the_replica_which_refuses_writes(replicas):
    refusal = writes_and_reads_back(replicas, "mariadb", "mariadb-readonly")
    assert "--read-only" in refusal
