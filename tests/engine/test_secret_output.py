"""What a worker prints of its environment reaches `orchestrator logs` without a secret in any form: not the
password, not the base64 PLATFORM_RELATIONSHIPS that `base64 -d` turns back into it (whole or cut in two),
not the project entropy; `--show-secrets` shows them all."""

from __future__ import annotations

import base64
import json
import re
import time

import pytest

pytestmark = pytest.mark.engine

APP = """\
name: app
type: "python:3.11"
disk: 256
relationships:
  database: "db:admin"
web:
  commands:
    start: python3 -m http.server "$PORT"
workers:
  printer:
    commands:
      start: |
        env | sort
        python3 -c 'import os; b = os.environ["PLATFORM_RELATIONSHIPS"]; n = len(b) // 2; print("first half", b[:n]); print("second half", b[n:])'
        echo "printer: all printed"
        sleep infinity
"""

SERVICES = """\
db:
  type: "mariadb:10.11"
  disk: 512
  configuration:
    schemas: [main]
    endpoints:
      admin:
        default_schema: main
        privileges: {main: admin}
"""


def _recoverable(text: str, secret: str) -> bool:
    """Whether base64-decoding any run of base64 characters in `text`, at any alignment, gives `secret`."""
    for run in re.findall(r"[A-Za-z0-9+/]{4,}", text):
        for start in range(4):
            piece = run[start:]
            if secret.encode() in base64.b64decode(piece[:len(piece) - len(piece) % 4]):
                return True
    return False


def test_logs_of_a_worker_that_prints_its_environment_show_no_secret_in_any_form(deploy, tmp_path):
    source = tmp_path / "printenv"
    (source / ".platform").mkdir(parents=True)
    (source / ".platform.app.yaml").write_text(APP)
    (source / ".platform" / "services.yaml").write_text(SERVICES)
    deployment = deploy(source)
    deployment.ok("up")
    env = dict(e.split("=", 1) for e in deployment.containers()["app--printer"].attrs["Config"]["Env"])
    blob, entropy = env["PLATFORM_RELATIONSHIPS"], env["PLATFORM_PROJECT_ENTROPY"]
    password = json.loads(base64.b64decode(blob))["database"][0]["password"]
    assert len(password) >= 16 and len(entropy) >= 32
    deadline = time.monotonic() + 60
    while "all printed" not in (masked := deployment.ok("logs", "--worker", "printer").stdout):
        assert time.monotonic() < deadline, masked
        time.sleep(1)
    assert "PLATFORM_RELATIONSHIPS=********" in masked and "PLATFORM_PROJECT_ENTROPY=********" in masked
    assert "PLATFORM_APPLICATION_NAME=app" in masked  # the rest of the environment as printed
    for secret in (password, blob, entropy):
        assert secret not in masked
    assert not _recoverable(masked, password), masked  # neither the whole blob nor either half gives it
    shown = deployment.ok("logs", "--worker", "printer", "--show-secrets").stdout
    assert f"PLATFORM_RELATIONSHIPS={blob}" in shown and f"PLATFORM_PROJECT_ENTROPY={entropy}" in shown
    assert f"first half {blob[:len(blob) // 2]}" in shown
