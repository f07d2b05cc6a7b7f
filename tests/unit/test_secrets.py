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
    assert secret_values({"API_TOKEN": "abc", "DB_PASSWORD": "s3cr3t-value", "URL": "redis://u:pw@h"}) == \
        {"s3cr3t-value"}


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
