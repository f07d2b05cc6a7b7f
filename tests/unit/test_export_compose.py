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


def _export(name: str, output):
    from tests.conftest import run_cli
    result = run_cli("compose", str(EXAMPLES / name), "-o", str(output))
    assert result.returncode == 0, result.stderr
    return result


def _blobs_decoded(text: str) -> str:
    """`text` plus the decoding of every base64 run in it (the Dockerfiles carry files, the env blobs)."""
    import base64
    import re
    decoded = [text]
    for run in re.findall(r"[A-Za-z0-9+/]{8,}={0,2}", text):
        try:
            decoded.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace"))
        except ValueError:
            pass
    return "\n".join(decoded)


@pytest.mark.parametrize("name", ["services", "workers"])
def test_the_export_holds_no_secret_and_its_env_files_are_0600_random_and_kept(name, tmp_path):
    """The Compose file and its Dockerfiles hold no password (nor a blob that decodes to one, nor the
    entropy); the secret-bearing variables are in `<stem>.secrets/<service>.env` (0600, in a 0700
    directory), random, kept by a re-export, and the file stays byte-identical."""
    import json
    import os
    import stat
    output = tmp_path / "out" / f"{name}.yml"
    said = _export(name, output).stdout
    secrets_dir = output.parent / f"{name}.secrets"
    assert f"secrets: {secrets_dir}/" in said and "0600" in said
    kept = json.loads((secrets_dir / "secrets.json").read_text())
    passwords = {p for endpoints in kept["credentials"].values() for p in endpoints.values()}
    assert passwords and all(len(p) == 24 for p in passwords) and len(kept["entropy"]) == 56
    document = yaml.safe_load(output.read_text())
    env_files = sorted(secrets_dir.glob("*.env"))
    assert env_files and stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    for path in [*env_files, secrets_dir / "secrets.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # what docker-compose gives each service: the file's environment plus its env file, as the plan has it
    from orchestrator.operations import Target, make_plan
    _, stand_in, _ = make_plan(Target(EXAMPLES / name))
    for service, entry in document["services"].items():
        env = dict(entry.get("environment") or {})
        for reference in entry.get("env_file", []):
            assert reference == f"{name}.secrets/{service}.env"
            lines = (output.parent / reference).read_text().splitlines()
            from_file = dict(line.split("=", 1) for line in lines)
            assert not set(from_file) & set(env), service
            env.update(from_file)
        assert set(env) == set(stand_in.instance(service).env), service
    every_secret = passwords | {kept["entropy"]} | {v for s in stand_in.instances for k, v in s.env.items()
                                                     if k.endswith(("PASSWORD", "_PASS")) and len(v) >= 8}
    for path in [output, *output.parent.glob(f"{name}.*.Dockerfile")]:
        text = _blobs_decoded(path.read_text())
        assert not [s for s in every_secret if s in text], path
    assert "PLATFORM_RELATIONSHIPS" not in str(document["services"]["app"].get("environment"))
    first, first_env = output.read_bytes(), {p.name: p.read_text() for p in env_files}
    _export(name, output)
    assert output.read_bytes() == first
    assert {p.name: p.read_text() for p in secrets_dir.glob("*.env")} == first_env  # the passwords are kept
    other = tmp_path / "elsewhere" / f"{name}.yml"
    _export(name, other)
    assert other.read_bytes().replace(b"/elsewhere/", b"/out/") == first  # another export: the same file ...
    assert json.loads((other.parent / f"{name}.secrets" / "secrets.json").read_text()) != kept  # ... new secrets
    # a secrets file widened by hand is narrowed again
    os.chmod(env_files[0], 0o644)
    _export(name, output)
    assert stat.S_IMODE(env_files[0].stat().st_mode) == 0o600


def test_compose_to_stdout_prints_no_secret_and_writes_nothing(tmp_path):
    from tests.conftest import run_cli
    result = run_cli("compose", str(EXAMPLES / "services"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "env_file" in result.stdout and "services.secrets/app.env" in result.stdout
    assert "PLATFORM_RELATIONSHIPS" not in result.stdout and "POSTGRES_PASSWORD" not in result.stdout
    assert "no secret is printed" in result.stderr and "-o FILE" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_secrets_files_are_never_committed():
    import subprocess
    ignored = subprocess.run(["git", "check-ignore", "-q", "compose/workers.secrets/app.env"], cwd=REPO)
    assert ignored.returncode == 0


def test_an_env_file_value_neither_tool_reads_alike_is_refused():
    from orchestrator.errors import OrchestratorError
    from orchestrator.export.compose import env_file_text
    assert env_file_text({"B": "x", "A": "pgsql://u:p@h/db", "ORCHESTRATOR_INIT_SQL": "A;\nB;\n"}) == \
        "A=pgsql://u:p@h/db\nB=x\nORCHESTRATOR_INIT_SQL=BEGIN NOT ATOMIC A; B; END;\n"
    for value in ("a\nb", "'quoted'", "x ${HOME}", "x #y", " padded"):
        with pytest.raises(OrchestratorError):
            env_file_text({"K": value})


def test_the_init_sql_goes_on_one_line_that_does_what_its_lines_did():
    """An env file holds one line: MariaDB's --init-file runs one statement a line, so its script becomes
    one compound statement; psql's meta-commands are ended with `\\\\` (checked on the stand-ins: both
    servers made every endpoint's user with its password, read through docker-compose and `docker run
    --env-file`, the parser `docker stack deploy` uses)."""
    from orchestrator.export.compose import one_line_sql
    mysql = "CREATE DATABASE IF NOT EXISTS `main`;\nCREATE USER IF NOT EXISTS 'a'@'%' IDENTIFIED BY 'pw';\n"
    assert one_line_sql(mysql) == ("BEGIN NOT ATOMIC CREATE DATABASE IF NOT EXISTS `main`; "
                                   "CREATE USER IF NOT EXISTS 'a'@'%' IDENTIFIED BY 'pw'; END;")
    psql = ("SELECT 'CREATE ROLE \"a\" LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'a')\\gexec\n"
            "ALTER ROLE \"a\" LOGIN PASSWORD 'pw';\nALTER ROLE \"b\" LOGIN PASSWORD 'pw2';\n\\connect \"main\"\n"
            "GRANT CONNECT ON DATABASE \"main\" TO \"a\";\n")
    assert one_line_sql(psql) == ("SELECT 'CREATE ROLE \"a\" LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE "
                                  "rolname = 'a')\\gexec \\\\ ALTER ROLE \"a\" LOGIN PASSWORD 'pw'; ALTER ROLE \"b\" "
                                  "LOGIN PASSWORD 'pw2'; \\connect \"main\" \\\\ "
                                  "GRANT CONNECT ON DATABASE \"main\" TO \"a\";")
    assert one_line_sql("SELECT 1;\n") == "SELECT 1;"


@pytest.mark.parametrize("kind", ["mariadb:10.11", "postgresql:15"])
def test_a_service_with_endpoints_exports_its_init_sql_to_the_env_file(kind, tmp_path):
    """Endpoints give the init SQL passwords: it goes to the env file (on one line), not the Compose file."""
    project = tmp_path / "shop"
    (project / ".platform").mkdir(parents=True)
    (project / ".platform.app.yaml").write_text(
        'name: app\ntype: "python:3.11"\nrelationships:\n  database: "db:admin"\n'
        'web:\n  commands:\n    start: python3 -m http.server "$PORT"\n')
    key = "schemas" if kind.startswith("mariadb") else "databases"
    (project / ".platform" / "services.yaml").write_text(
        f'db:\n  type: "{kind}"\n  disk: 512\n  configuration:\n    {key}: [main]\n    endpoints:\n'
        '      admin:\n        privileges: {main: admin}\n')
    output = tmp_path / "out" / "shop.yml"
    _export_dir(project, output)
    document = yaml.safe_load(output.read_text())
    assert "ORCHESTRATOR_INIT_SQL" not in (document["services"]["db"].get("environment") or {})
    lines = (output.parent / "shop.secrets" / "db.env").read_text().splitlines()
    init = next(line for line in lines if line.startswith("ORCHESTRATOR_INIT_SQL="))
    import json
    kept = json.loads((output.parent / "shop.secrets" / "secrets.json").read_text())
    password = kept["credentials"]["db"]["admin"]
    assert password in init and password not in output.read_text()


def _export_dir(project, output):
    from tests.conftest import run_cli
    result = run_cli("compose", str(project), "-o", str(output))
    assert result.returncode == 0, result.stderr


def test_a_file_an_earlier_version_exported_keeps_the_passwords_its_data_was_made_with(tmp_path):
    """Before the secrets moved out of the file, an export held stand-in passwords (derived from the project
    name) and its databases were initialised with them: re-exporting it keeps those, and says so."""
    import json
    import subprocess
    import sys
    from orchestrator.relationships import derived_password
    output = tmp_path / "services.yml"  # as an earlier version wrote it: the passwords inline
    output.write_text("services:\n  mariadb:\n    environment:\n      MARIADB_PASSWORD: "
                      f"{derived_password('services', 'mariadb', 'mysql')}\n")
    result = subprocess.run([sys.executable, "-m", "orchestrator", "compose", str(EXAMPLES / "services"), "-o",
                             str(output)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "was exported by an earlier version" in result.stdout
    kept = json.loads((tmp_path / "services.secrets" / "secrets.json").read_text())["credentials"]
    assert kept and all(password == derived_password("services", owner, endpoint)
                        for owner, endpoints in kept.items() for endpoint, password in endpoints.items())
    again = subprocess.run([sys.executable, "-m", "orchestrator", "compose", str(EXAMPLES / "services"), "-o",
                            str(output)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "earlier version" not in again.stdout  # said once; the kept passwords stay
