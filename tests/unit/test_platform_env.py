"""orchestrator.platform_env: the variables an app instance and its build see, with the platform's names,
crons on the web instance only, and nothing at build time that carries a password."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from orchestrator.config.validate import load_project
from orchestrator.identity import InstanceRef
from orchestrator.platform_env import Commands, Environment, build_env, project_entropy, runtime_env

APP = """\
name: app
type: 'python:3.11'
relationships:
  database: 'db:mysql'
variables:
  env:
    GREETING: hello
    LIMITS: {a: 1}
  php:
    memory_limit: 256M
web:
  commands:
    start: python3 web.py
  locations:
    /:
      root: public
      passthru: true
crons:
  tidy:
    spec: 'H * * * *'
    commands:
      start: echo tidy
workers:
  queue:
    commands:
      start: python3 worker.py
"""


def _project(tmp_path: Path):
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform" / "services.yaml").write_text("db:\n  type: mariadb:10.11\n  disk: 512\n")
    (tmp_path / ".platform.app.yaml").write_text(APP)
    return load_project(tmp_path, name="shop")[0]


def _decoded(value: str):
    return json.loads(base64.b64decode(value))


def test_the_web_instance_sees_the_platforms_variables_and_its_crons(tmp_path):
    project = _project(tmp_path)
    app = project.apps[0]
    env = runtime_env(project, Environment("feature-x", "development", "shop.localhost"), {}, app,
                      InstanceRef.web("app"), app.web.settings, "tree", Commands("python3 web.py", None, "echo up"))
    assert (env["PLATFORM_BRANCH"], env["PLATFORM_ENVIRONMENT_TYPE"], env["PLATFORM_PROJECT"]) == \
        ("feature-x", "development", "shop")
    assert env["PLATFORM_PROJECT_ENTROPY"] == project_entropy("shop") and env["PLATFORM_TREE_ID"] == "tree"
    assert (env["GREETING"], env["LIMITS"]) == ("hello", '{"a": 1}')
    assert (env["PLATFORM_APP_COMMAND"], env["PLATFORM_PRE_APP_COMMAND"], env["PLATFORM_POST_APP_COMMAND"]) == \
        ("python3 web.py", "", "echo up")
    assert env["PLATFORM_DOCUMENT_ROOT"] == "/app/public"
    assert list(_decoded(env["PLATFORM_RELATIONSHIPS"])) == ["database"]
    assert "https://shop.localhost/" in _decoded(env["PLATFORM_ROUTES"])  # the default route, on this domain
    assert "tidy" in env["ORCHESTRATOR_CRONS"] and "ORCHESTRATOR_PHP_INI" not in env  # not a PHP app
    assert "DATABASE_HOST" not in env  # <REL>_* variables are Upsun's only


def test_a_worker_gets_no_crons_and_only_its_own_worker_in_platform_application(tmp_path):
    project = _project(tmp_path)
    app = project.apps[0]
    worker = app.workers[0]
    env = runtime_env(project, Environment("main"), {}, app, InstanceRef.of_worker("app", "queue"),
                      worker.settings, "tree", Commands(worker.start))
    assert "ORCHESTRATOR_CRONS" not in env
    assert list(_decoded(env["PLATFORM_APPLICATION"])["workers"]) == ["queue"]


def test_a_build_sees_no_relationship_and_its_own_cache_dir(tmp_path):
    project = _project(tmp_path)
    env = build_env(project, project.apps[0], "tree")
    assert "PLATFORM_RELATIONSHIPS" not in env and "PLATFORM_ROUTES" not in env
    assert (env["PLATFORM_CACHE_DIR"], env["PLATFORM_OUTPUT_DIR"], env["GREETING"]) == ("/tmp/cache", "/app", "hello")
    assert list(env) == sorted(env)
    assert _decoded(env["PLATFORM_VARIABLES"]) == {"php:memory_limit": "256M"}
