"""Validation rules: relationship spellings, worker and web inheritance, warnings for keys without local effect."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from orchestrator.config.validate import load_project
from orchestrator.errors import ConfigError
from orchestrator.plan import translate

SERVICES = "mariadb:\n  type: 'mariadb:11.4'\n  disk: 256\nredis:\n  type: 'redis:7.2'\nrabbitmq:\n  type: 'rabbitmq:4.1'\n  disk: 512\n"


def project(tmp_path: Path, app: str, services: str = SERVICES):
    (tmp_path / ".platform").mkdir(exist_ok=True)
    (tmp_path / ".platform" / "services.yaml").write_text(services)
    (tmp_path / ".platform.app.yaml").write_text(app)
    return load_project(tmp_path)


BASE = "name: app\ntype: 'python:3.11'\ndisk: 512\nweb:\n  commands:\n    start: python3 web.py\n"


def test_three_relationship_spellings(tmp_path):
    loaded, _ = project(tmp_path, BASE + "relationships:\n  database: 'mariadb:mysql'\n"
                                        "  reports: {service: mariadb, endpoint: mysql}\n  redis:\n")
    rels = {(r.name, r.service, r.endpoint) for r in loaded.apps[0].settings.relationships}
    assert rels == {("database", "mariadb", "mysql"), ("reports", "mariadb", "mysql"), ("redis", "redis", None)}


def test_a_relationship_map_without_service_names_the_service_or_app_called_like_it(tmp_path):
    (tmp_path / ".upsun").mkdir()
    (tmp_path / ".upsun" / "config.yaml").write_text(
        "applications:\n"
        "  front:\n    type: 'nodejs:22'\n    web: {commands: {start: node s.js}}\n"
        "    relationships:\n      mariadb: {}\n      redis: {endpoint: redis}\n      back: {endpoint: http}\n"
        "      reports: {service: mariadb, endpoint: mysql}\n"
        "  back:\n    type: 'python:3.12'\n    web: {commands: {start: python3 s.py}}\n"
        "services:\n  mariadb: {type: 'mariadb:11.4'}\n  redis: {type: 'redis:7.2'}\n")
    loaded, _ = load_project(tmp_path)
    front = next(a for a in loaded.apps if a.name == "front")
    rels = {(r.name, r.service, r.endpoint) for r in front.settings.relationships}
    assert rels == {("mariadb", "mariadb", None), ("redis", "redis", "redis"), ("back", "back", "http"),
                    ("reports", "mariadb", "mysql")}
    env = translate(loaded, "main").instance("front").env
    relationships = json.loads(base64.b64decode(env["PLATFORM_RELATIONSHIPS"]))
    assert [(relationships[n][0]["service"], relationships[n][0]["rel"]) for n in ("mariadb", "redis", "back")] == \
        [("mariadb", "mysql"), ("redis", "redis"), ("back", "http")]


def test_a_relationship_map_with_an_empty_service_is_still_an_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        project(tmp_path, BASE + "relationships:\n  database: {service: '', endpoint: mysql}\n")
    assert [(p.key, p.line) for p in caught.value.problems] == [("relationships.database.service", 8)]


def test_workers_inherit_unless_they_override_and_override_replaces_whole(tmp_path):
    app = BASE + (
        "size: L\nrelationships:\n  database: 'mariadb:mysql'\n  rabbitmq: 'rabbitmq:rabbitmq'\n"
        "mounts:\n  data: {source: local, source_path: data}\n"
        "variables:\n  env: {TYPE: web, SHARED: yes}\n  php: {memory_limit: 256M}\n"
        "workers:\n"
        "  queue:\n    commands: {start: python3 q.py}\n"
        "  mail:\n    size: S\n    mounts: {}\n    relationships: {rabbitmq: 'rabbitmq:rabbitmq'}\n"
        "    variables:\n      env: {TYPE: worker}\n    commands: {start: python3 m.py}\n")
    loaded, _ = project(tmp_path, app)
    workers = {w.name: w.settings for w in loaded.apps[0].workers}
    queue, mail = workers["queue"], workers["mail"]
    assert queue.size == "L" and [m.path for m in queue.mounts] == ["data"]
    assert {r.name for r in queue.relationships} == {"database", "rabbitmq"}
    assert queue.variables["env"] == {"TYPE": "web", "SHARED": True}
    assert mail.size == "S" and mail.mounts == ()
    assert [r.name for r in mail.relationships] == ["rabbitmq"]
    # variables replace per prefix: env is the worker's own, php is still inherited
    assert mail.variables == {"env": {"TYPE": "worker"}, "php": {"memory_limit": "256M"}}


def test_web_variables_and_mounts_override_for_the_web_instance_only(tmp_path):
    app = ("name: app\ntype: 'python:3.11'\ndisk: 512\nvariables:\n  env: {TYPE: app}\n"
           "mounts:\n  data: {source: local, source_path: data}\n"
           "web:\n  commands: {start: python3 web.py}\n  variables:\n    env: {TYPE: web}\n"
           "  mounts:\n    uploads: {source: local, source_path: uploads}\n"
           "workers:\n  queue:\n    commands: {start: python3 q.py}\n")
    loaded, _ = project(tmp_path, app)
    a = loaded.apps[0]
    assert a.web.settings.variables["env"] == {"TYPE": "web"}
    assert [m.path for m in a.web.settings.mounts] == ["uploads"]
    assert a.workers[0].settings.variables["env"] == {"TYPE": "app"}
    assert [m.path for m in a.workers[0].settings.mounts] == ["data"]


def test_a_local_mount_warns_about_disk_only_where_no_disk_is_inherited(tmp_path):
    """The app's `disk` is the web instance's and the workers' too, so their own `local` mounts need no disk
    of their own; without any disk, each `local` mount an instance really has warns, once where it is written."""
    app = ("name: app\ntype: 'python:3.11'\ndisk: 512\nmounts:\n  data: {source: local}\n"
           "web:\n  commands: {start: python3 web.py}\n  mounts:\n    uploads: {source: local}\n"
           "workers:\n  queue:\n    commands: {start: python3 q.py}\n    mounts:\n      scratch: {source: local}\n")
    _, warnings = project(tmp_path, app)
    assert [w for w in warnings if "disk" in w.message] == []
    diskless = app.replace("disk: 512\n", "")
    _, warnings = project(tmp_path, diskless + "  mail:\n    commands: {start: python3 m.py}\n")
    assert [(w.key, w.line) for w in warnings if "needs `disk`" in w.message] == [
        ("web.mounts.uploads", 8), ("workers.queue.mounts.scratch", 13), ("mounts.data", 4)]  # mail inherits data
    _, warnings = project(tmp_path, diskless.replace("  mounts:\n    uploads: {source: local}\n", ""))
    assert [(w.key, w.line) for w in warnings if "needs `disk`" in w.message] == [
        ("mounts.data", 4), ("workers.queue.mounts.scratch", 11)]


def test_legacy_mount_string_and_every_source(tmp_path):
    app = BASE + ("mounts:\n  'web/files': 'shared:files/files'\n  cache: {source: tmp}\n"
                  "  inst: {source: instance}\n  store: {source: storage, source_path: s}\n"
                  "  nfs: {source: service, service: files, source_path: shared}\n")
    loaded, _ = project(tmp_path, app, SERVICES + "files:\n  type: 'network-storage:1.0'\n  disk: 256\n")
    mounts = {m.path: (m.source, m.source_path, m.service) for m in loaded.apps[0].settings.mounts}
    assert mounts == {"web/files": ("local", "files", None), "cache": ("tmp", "cache", None),
                      "inst": ("instance", "inst", None), "store": ("storage", "s", None),
                      "nfs": ("service", "shared", "files")}


def test_every_problem_is_reported_at_once(tmp_path):
    app = ("name: app\ntype: 'python:3.11'\nsize: HUGE\nrelationships:\n  db: 'nope:mysql'\n"
           "web:\n  commands: {start: x}\nworkers:\n  q:\n    crons: {}\n    commands: {start: y}\n")
    with pytest.raises(ConfigError) as caught:
        project(tmp_path, app)
    keys = [p.key for p in caught.value.problems]
    assert keys == ["size", "relationships.db", "workers.q.crons"]
    assert [p.line for p in caught.value.problems] == [3, 5, 10]


def test_keys_without_local_effect_are_accepted_with_one_warning_each(tmp_path):
    app = BASE + ("access: {ssh: admin}\nfirewall:\n  outbound: [{domains: [example.com]}]\n"
                  "workers:\n  a:\n    access: {ssh: viewer}\n    commands: {start: x}\n")
    loaded, warnings = project(tmp_path, app)
    assert loaded.apps[0].workers[0].name == "a"
    named = sorted(w.key for w in warnings)
    assert named == ["access", "firewall"]


def test_app_to_app_relationship_and_cycles(tmp_path):
    upsun = ("applications:\n"
             "  front:\n    type: 'nodejs:22'\n    relationships: {api: 'back:http'}\n"
             "    web: {commands: {start: node s.js}}\n"
             "  back:\n    type: 'python:3.12'\n    relationships: {front: 'front:http'}\n"
             "    web: {commands: {start: python3 s.py}}\n")
    (tmp_path / ".upsun").mkdir()
    (tmp_path / ".upsun" / "config.yaml").write_text(upsun)
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path)
    assert "cycle" in caught.value.problems[0].message
    (tmp_path / ".upsun" / "config.yaml").write_text(upsun.replace("    relationships: {front: 'front:http'}\n", ""))
    loaded, _ = load_project(tmp_path)
    front = next(a for a in loaded.apps if a.name == "front")
    assert [(r.service, r.endpoint) for r in front.settings.relationships] == [("back", "http")]


def test_composable_stack_in_list_and_mapping_form(tmp_path):
    upsun = ("applications:\n"
             "  a:\n    stack: ['nodejs@22', 'python@3.12', 'go']\n    web: {commands: {start: x}}\n"
             "  b:\n    type: 'composable:26.05'\n    stack:\n      runtimes: [{'php@8.4': {extensions: [apcu]}}]\n"
             "      packages: [yarn, {package: wkhtmltopdf, channel: unstable}]\n")
    (tmp_path / ".upsun").mkdir()
    (tmp_path / ".upsun" / "config.yaml").write_text(upsun)
    loaded, _ = load_project(tmp_path)
    a, b = loaded.apps
    assert (a.runtime.name, a.runtime.version, a.runtime.stack_packages) == ("nodejs", "22", ("go",))
    assert (b.runtime.name, b.runtime.stack_packages) == ("php", ("yarn", "wkhtmltopdf"))


def test_crons_with_commands_and_legacy_cmd(tmp_path):
    app = BASE + ("crons:\n  a: {spec: '*/5 * * * *', commands: {start: run a, stop: stop a}, shutdown_timeout: 30}\n"
                  "  b: {spec: 'H */6 * * *', cmd: run b}\n")
    loaded, _ = project(tmp_path, app)
    crons = {c.name: (c.spec, c.start, c.stop, c.shutdown_timeout) for c in loaded.apps[0].crons}
    assert crons == {"a": ("*/5 * * * *", "run a", "stop a", 30), "b": ("H */6 * * *", "run b", None, 10)}


def test_database_endpoints_must_only_name_known_schemas(tmp_path):
    services = ("db:\n  type: 'mariadb:11.4'\n  disk: 256\n  configuration:\n    schemas: [main]\n"
                "    endpoints:\n      admin: {default_schema: main, privileges: {main: admin}}\n"
                "      reporter: {privileges: {analytics: ro}}\n")
    with pytest.raises(ConfigError) as caught:
        project(tmp_path, BASE + "relationships: {database: 'db:admin'}\n", services)
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.key) == (".platform/services.yaml", 8,
                                                         "db.configuration.endpoints.reporter.privileges.analytics")
