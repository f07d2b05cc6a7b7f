"""A deployment's identity follows the deployment: its home directory, its passwords and its lock.

Everyday mistakes, made for real: the same project name from a second directory, another state directory
(another user, `sudo`, a deleted `~/.local/state`), a config with a typo while looking at what runs,
`stop` followed by `up`. Each loses nothing and says what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from orchestrator.deployment import KEPT_LABEL, SEED_LABEL, _derive, home_volume, secrets_volume
from orchestrator.config.validate import load_project
from tests.conftest import REPO
from tests.engine.conftest import PROJECTS, Deployment

QUERY = ('R=$(printf %s "$PLATFORM_RELATIONSHIPS" | base64 -d); '
         'MYSQL_PWD=$(printf %s "$R" | jq -r .database[0].password) mariadb -h database.internal '
         '-u "$(printf %s "$R" | jq -r .database[0].username)" "$(printf %s "$R" | jq -r .database[0].path)" '
         '-N -e "$0"')


def sql(deployment: Deployment, statement: str) -> str:
    """Run a statement as the app does: with the credentials of its relationship, from the web instance."""
    result = deployment.cli("ssh", "--", "sh", "-c", QUERY, statement)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.strip()


def marker(deployment: Deployment) -> str:
    return deployment.ok("ssh", "--", "cat", "/app/data/marker").stdout.strip()


def with_state(deployment: Deployment, state_dir) -> Deployment:
    deployment.env = {**os.environ, "ORCHESTRATOR_STATE_DIR": str(state_dir)}
    return deployment


@pytest.fixture(scope="module")
def identity(deploy):
    deployment = deploy(PROJECTS / "identity")
    deployment.ok("up")
    deployment.ok("ssh", "--", "sh", "-c", "echo first > /app/data/marker")
    sql(deployment, "CREATE TABLE kept (id INT PRIMARY KEY); INSERT INTO kept VALUES (1)")
    return deployment


def test_a_second_directory_under_the_same_name_is_refused_and_can_adopt_the_deployment(identity, tmp_path):
    other = Deployment(PROJECTS / "identity", tmp_path, identity.engine)
    other.name = identity.name  # `shop` copied to another directory: the same name, another home
    before = identity.ids()
    for command in (["up"], ["down", "--volumes"], ["ps"], ["stop"], ["logs"]):
        refused = other.cli(*command)
        assert refused.returncode == 1, (command, refused.stdout, refused.stderr)
        assert f"is deployed from {identity.dir.resolve()}, not from {other.dir.resolve()}" in refused.stderr
        assert "--project NAME" in refused.stderr and "--adopt" in refused.stderr
    assert identity.ids() == before and marker(identity) == "first" and sql(identity, "SELECT COUNT(*) FROM kept") == "1"
    assert identity.engine.volumes.get(f"{identity.name}-db-data")  # down --volumes deleted nothing

    adopted = other.ok("up", "--adopt")
    assert f"its home is now {other.dir.resolve()}" in adopted.stderr + adopted.stdout
    assert marker(other) == "first" and sql(other, "SELECT COUNT(*) FROM kept") == "1"  # same data, same passwords
    assert identity.ids()["db"] == before["db"]  # the database was not even restarted
    assert identity.engine.volumes.get(home_volume(identity.name)).attrs["Labels"]["orchestrator.root"] == \
        str(other.dir.resolve())
    refused = identity.cli("ps")  # the first directory is now the stranger
    assert refused.returncode == 1 and f"is deployed from {other.dir.resolve()}" in refused.stderr
    identity.ok("up", "--adopt")  # and back, for the other tests of this module


def test_credentials_follow_the_deployment_not_the_state_directory(identity, tmp_path):
    before = identity.ids()
    with_state(identity, tmp_path / "another-home")
    try:
        again = identity.ok("up")
        assert again.stdout.startswith("0 change(s)"), again.stdout
        assert identity.ids() == before and sql(identity, "SELECT COUNT(*) FROM kept") == "1"
        assert not (tmp_path / "another-home" / "projects").exists()  # nothing about the project is kept there
    finally:
        identity.env = None


def test_passwords_of_an_earlier_version_move_into_the_deployment_and_lost_ones_are_an_error(identity, tmp_path):
    """A deployment made before the passwords lived with it: they are in some user's state directory. From
    another one, `up` refuses (changing nothing) and names the fix; from that one, they move in."""
    engine = identity.engine
    labels = engine.volumes.get(secrets_volume(identity.name)).attrs["Labels"]
    project, _ = load_project(identity.dir, "auto", identity.name)
    passwords = _derive(project, labels[SEED_LABEL], {})
    identity.container("router").remove(force=True)  # the one container that mounts the secrets volume...
    engine.volumes.get(secrets_volume(identity.name)).remove()  # ...which an earlier version did not make
    before = identity.ids()

    with_state(identity, tmp_path / "stranger")
    try:
        refused = identity.cli("up")
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "made with passwords that are not here" in refused.stderr and "down --volumes" in refused.stderr
        assert identity.ids() == before  # nothing applied

        owner = tmp_path / "owner"
        legacy = owner / "projects" / identity.name / "credentials.json"
        legacy.parent.mkdir(parents=True)
        stored: dict[str, dict[str, str]] = {}
        for (service, endpoint), password in passwords.items():
            stored.setdefault(service, {})[endpoint] = password
        legacy.write_text(json.dumps(stored))
        with_state(identity, owner)
        moved = identity.ok("up")
        assert moved.stdout.startswith("1 change(s)"), moved.stdout  # the router, made again
        assert {k: v for k, v in identity.ids().items() if k != "router"} == before
        assert not legacy.exists()  # the copy in the state directory is gone...
        kept = json.loads(engine.volumes.get(secrets_volume(identity.name)).attrs["Labels"][KEPT_LABEL])
        assert kept == {f"{s}\t{e}": p for (s, e), p in sorted(passwords.items())}  # ...into the deployment
        with_state(identity, tmp_path / "yet-another")
        assert identity.ok("up").stdout.startswith("0 change(s)")
        assert sql(identity, "SELECT COUNT(*) FROM kept") == "1"
    finally:
        identity.env = None


def test_looking_at_what_runs_needs_no_valid_config_and_stop_holds_until_start(identity):
    identity.container("app--queue").stop(timeout=1)  # stopped some other way (or left so by a failed rollback)
    again = identity.ok("up")
    assert "starting worker queue (start: was exited)" in again.stderr, again.stderr
    assert identity.container("app--queue").status == "running"
    identity.ok("stop", "--worker", "queue")
    kept = identity.ok("up")
    assert kept.stdout.startswith("0 change(s)"), kept.stdout
    assert identity.container("app--queue").status == "exited"  # held across `up`, as the README says
    assert identity.container("app--queue").attrs["HostConfig"]["RestartPolicy"]["Name"] == "no"
    config = identity.dir / ".platform.app.yaml"
    text = config.read_text()
    config.write_text(text.replace("web:", "web: [", 1))  # a YAML mistake
    try:
        assert identity.cli("up").returncode == 2
        for command in (["ps"], ["logs"], ["start", "--worker", "queue"], ["stop", "--worker", "queue"],
                        ["restart", "--worker", "queue"]):
            result = identity.cli(*command)
            assert result.returncode == 0, (command, result.stdout, result.stderr)
        assert identity.container("app--queue").status == "running"
        assert identity.container("app--queue").attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    finally:
        config.write_text(text)


def test_the_secrets_volume_is_in_use_while_the_deployment_runs(identity):
    """So a `docker volume prune` leaves the passwords, as it leaves the data volumes of running containers."""
    mounted = {m["Name"] for m in identity.container("router").attrs["Mounts"] if m.get("Name")}
    assert secrets_volume(identity.name) in mounted


def test_a_dry_run_writes_nothing(deploy, tmp_path):
    fresh = deploy(PROJECTS / "identity")
    with_state(fresh, tmp_path / "state")
    fresh.env["ORCHESTRATOR_LOCK_DIR"] = str(tmp_path / "locks")
    dry = fresh.ok("up", "--dry-run")
    assert "create web app: new instance" in dry.stdout
    assert fresh.engine.volumes.list(filters={"label": f"orchestrator.project={fresh.name}"}) == []
    assert not (tmp_path / "state").exists() and not (tmp_path / "locks").exists()
    for command in (["plan"], ["validate"], ["plan", "--show-secrets"]):
        fresh.ok(*command)
    assert not (tmp_path / "state").exists() and not (tmp_path / "locks").exists()


def test_a_new_deployment_names_one_whose_directory_is_gone(identity):
    """A project moved or renamed deploys under its new name as a new deployment; the old one, whose home
    no longer exists, is named with the commands that carry it on or remove it."""
    moved = identity.dir.with_name(identity.dir.name + "-renamed")
    identity.dir.rename(moved)
    try:
        result = subprocess.run([sys.executable, "-m", "orchestrator", "up", str(moved), "--project",
                                 identity.name + "-renamed", "--dry-run"], cwd=REPO, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert f"warning: project {identity.name} was deployed from {identity.dir.resolve()}, which no longer " \
               "exists" in result.stderr
        assert f"orchestrator up --project {identity.name} --adopt" in result.stderr
    finally:
        moved.rename(identity.dir)


def test_stop_start_and_restart_wait_for_a_deploy_in_progress(identity, tmp_path):
    """The lifecycle commands take the project's lock, as `up` and `down` do: a `restart` while an `up` holds
    the lock waits until it is released, then acts."""
    env = {**os.environ, "ORCHESTRATOR_LOCK_DIR": str(tmp_path / "locks")}
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                               "from orchestrator.deployment import project_lock\n"
                               "with project_lock(sys.argv[1], print):\n"
                               "    print('held', flush=True); time.sleep(3)\n", identity.name],
                              cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    before = identity.container("app--queue").attrs["State"]["StartedAt"]
    identity.env = env
    try:
        result = identity.ok("restart", "--worker", "queue")
    finally:
        identity.env = None
    holder.wait(timeout=30)
    assert "another command is changing project" in result.stderr, result.stderr
    assert identity.container("app--queue").attrs["State"]["StartedAt"] != before
