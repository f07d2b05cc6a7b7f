"""Passwords never appear in `plan` output unless asked for; everything else stays as planned."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import run_cli


def test_plan_json_masks_every_password_and_keeps_the_rest(tmp_path):
    shown = json.loads(run_cli("plan", "examples/services", "--format", "json", "--show-secrets").stdout)
    masked_output = run_cli("plan", "examples/services", "--format", "json").stdout
    masked = json.loads(masked_output)
    secrets = set()
    for instance in shown["instances"]:
        env = instance["env"]
        for name in ("POSTGRES_PASSWORD", "RABBITMQ_DEFAULT_PASS", "PG_PASSWORD", "QUEUE_PASSWORD"):
            if env.get(name):
                secrets.add(env[name])
    assert secrets
    assert not any(secret in masked_output for secret in secrets)
    web = next(i for i in masked["instances"] if i["name"] == "app")
    relationships = json.loads(base64.b64decode(web["env"]["PLATFORM_RELATIONSHIPS"]))
    assert relationships["pg"][0]["password"] == "********" and relationships["pg"][0]["username"] == "main"
    assert web["env"]["PG_URL"].startswith("pgsql://main:********@pg.internal")
    assert [i["name"] for i in masked["instances"]] == [i["name"] for i in shown["instances"]]


def test_every_password_of_a_plan_is_found_for_masking_in_log_lines():
    from orchestrator.secrets import mask_text, secret_values
    shown = json.loads(run_cli("plan", "examples/services", "--format", "json", "--show-secrets").stdout)
    web = next(i for i in shown["instances"] if i["name"] == "app")
    values = secret_values(web["env"])
    relationships = json.loads(base64.b64decode(web["env"]["PLATFORM_RELATIONSHIPS"]))
    passwords = {e["password"] for endpoints in relationships.values() for e in endpoints if e.get("password")}
    assert passwords and passwords <= values
    line = f"connecting to {web['env']['PG_URL']} as main / {sorted(passwords)[0]} for main"
    masked = mask_text(line, values)
    assert not any(p in masked for p in passwords) and masked.endswith("as main / ******** for main")
    assert "main:********@" in masked


def test_short_values_are_not_treated_as_secrets_in_text():
    from orchestrator.secrets import secret_values
    values = secret_values({"API_TOKEN": "abc", "DB_PASSWORD": "s3cr3t-value", "URL": "redis://u:pw@h"})
    assert "s3cr3t-value" in values and not values & {"abc", "pw", "redis://u:pw@h"}
    assert all(len(value) >= 4 for value in values)


@pytest.mark.parametrize("example", ["services", "workers", "multiapp"])
def test_no_password_of_a_plan_survives_masking_in_text(example):
    """Every password (of every endpoint, wherever it sits in an env var: alone, in a URL, in the init SQL)
    is hidden by `mask_text`, as `logs` uses it on a line that repeats it."""
    from orchestrator.secrets import mask_text, secret_values
    shown = json.loads(run_cli("plan", f"examples/{example}", "--format", "json", "--show-secrets").stdout)
    passwords = set()
    for instance in shown["instances"]:
        if "PLATFORM_RELATIONSHIPS" in instance["env"]:
            relationships = json.loads(base64.b64decode(instance["env"]["PLATFORM_RELATIONSHIPS"]))
            passwords |= {e["password"] for rel in relationships.values() for e in rel if e.get("password")}
    for instance in shown["instances"]:
        values = secret_values(instance["env"])
        for name, value in instance["env"].items():
            if name != "PLATFORM_RELATIONSHIPS":
                leaked = [p for p in passwords if p in mask_text(value, values)]
                assert not leaked, (instance["name"], name)
    assert passwords or example == "multiapp"


def test_init_sql_passwords_of_every_endpoint_are_found():
    from orchestrator.secrets import secret_values
    sql = "CREATE USER 'ro'@'%' IDENTIFIED BY 'topsecretvalue1';\nALTER ROLE a PASSWORD 'it''s-s3cret';\n"
    assert {"topsecretvalue1", "it's-s3cret", "it''s-s3cret"} <= secret_values({"ORCHESTRATOR_INIT_SQL": sql})


def _printed_environment() -> tuple[dict[str, str], str]:
    """A worker's environment as `env` prints it, with a database password inside PLATFORM_RELATIONSHIPS."""
    from orchestrator.relationships import encode
    password = "9f2c1e0b7a6d5c4b3a291807"
    relationships = {"database": [{"username": "main", "password": password, "host": "database.internal",
                                   "port": 5432, "scheme": "pgsql", "query": {"is_master": True}}],
                     "cache": [{"username": None, "password": "", "host": "cache.internal", "port": 6379}]}
    return {"PLATFORM_RELATIONSHIPS": encode(relationships),
            "PLATFORM_PROJECT_ENTROPY": "7cbc00ddb1868de2a4b85e105f1a5bbf44d3f7a56ca937937fa14f4f",
            "PLATFORM_ROUTES": encode({"https://x.localhost/": {"type": "upstream", "upstream": "app"}}),
            "PLATFORM_VARIABLES": encode({"django:secret_key": "a-django-key-from-config", "php:memory_limit": "256M"}),
            "DATABASE_URL": f"pgsql://main:{password}@database.internal:5432/main",
            "PORT": "8888"}, password


def _recoverable(text: str, secret: str) -> bool:
    """Whether base64-decoding any run of base64 characters left in `text`, at any alignment, gives `secret`."""
    import re
    for run in re.findall(r"[A-Za-z0-9+/]{4,}", text):
        for start in range(4):
            piece = run[start:]
            piece = piece[:len(piece) - len(piece) % 4]
            if secret.encode() in base64.b64decode(piece):
                return True
    return False


def test_a_printed_environment_shows_neither_a_blob_nor_a_password_nor_the_entropy():
    """`env` printed by a worker: PLATFORM_RELATIONSHIPS (which `base64 -d` turns into the password), the
    project entropy and PLATFORM_VARIABLES holding a secret are hidden whole; harmless blobs stay."""
    from orchestrator.secrets import MASK, mask_text, secret_values
    env, password = _printed_environment()
    values = secret_values(env)
    printed = [f"{name}={value}" for name, value in env.items()]
    masked = [mask_text(line, values) for line in printed]
    assert masked[0] == f"PLATFORM_RELATIONSHIPS={MASK}"
    assert masked[1] == f"PLATFORM_PROJECT_ENTROPY={MASK}"
    assert masked[2] == printed[2]  # routes carry no secret: kept, decodable
    assert masked[3] == f"PLATFORM_VARIABLES={MASK}"
    assert masked[4] == f"DATABASE_URL=pgsql://main:{MASK}@database.internal:5432/main"
    assert masked[5] == "PORT=8888"
    assert not any(password in line or _recoverable(line, password) for line in masked)


def test_a_blob_inside_a_longer_line_or_cut_anywhere_gives_no_password_away():
    """The blob within other text, and each piece of it when a line is cut (the engine splits lines over
    16 KiB; a program prints a substring), is masked so that no base64 decoding of what is left gives the
    password back."""
    from orchestrator.secrets import MASK, mask_text, secret_values
    env, password = _printed_environment()
    values = secret_values(env)
    blob = env["PLATFORM_RELATIONSHIPS"]
    line = f"2026-12-02 worker[12]: starting with PLATFORM_RELATIONSHIPS={blob} and PORT=8888"
    assert mask_text(line, values) == \
        f"2026-12-02 worker[12]: starting with PLATFORM_RELATIONSHIPS={MASK} and PORT=8888"
    for cut in range(1, len(blob)):
        for piece in (f"x={blob[:cut]}", f"{blob[cut:]} y"):
            masked = mask_text(piece, values)
            assert not _recoverable(masked, password), (cut, masked)
    assert _recoverable(blob[5:], password)  # what the check above would catch, unmasked


def test_blobs_without_a_secret_are_not_masked():
    from orchestrator.relationships import encode
    from orchestrator.secrets import secret_values
    env = {"PLATFORM_RELATIONSHIPS": encode({"cache": [{"host": "cache.internal", "password": ""}]}),
           "PLATFORM_VARIABLES": encode({"php:memory_limit": "256M"}), "PLATFORM_APPLICATION_NAME": "app"}
    assert secret_values(env) == set()


def test_plan_masks_the_project_entropy():
    shown = json.loads(run_cli("plan", "examples/workers", "--format", "json", "--show-secrets").stdout)
    masked = json.loads(run_cli("plan", "examples/workers", "--format", "json").stdout)
    web = next(i for i in shown["instances"] if i["name"] == "app")
    assert len(web["env"]["PLATFORM_PROJECT_ENTROPY"]) >= 32
    assert next(i for i in masked["instances"] if i["name"] == "app")["env"]["PLATFORM_PROJECT_ENTROPY"] == "********"
