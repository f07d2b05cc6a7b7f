"""Passwords never appear in `plan` output unless asked for; everything else stays as planned."""

from __future__ import annotations

import base64
import json

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
