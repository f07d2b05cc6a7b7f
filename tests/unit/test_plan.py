"""The translator on the bundled example and on small projects: topology, env, limits, determinism."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from orchestrator.config.validate import load_project
from orchestrator.plan import Environment, translate

from tests.conftest import EXAMPLES

ENV = Environment("main", "production", "workers.localhost", 20000, 20001)


def example_plan():
    project, _ = load_project(EXAMPLES / "workers")
    return translate(project, ENV)


def decode(value: str):
    return json.loads(base64.b64decode(value))


def test_web_and_workers_share_one_image_built_once():
    plan = example_plan()
    assert len(plan.images) == 1
    app_specs = [s for s in plan.instances if s.app == "app"]
    assert {s.name for s in app_specs} == {"app", "app--queue", "app--mail"}
    assert {s.image for s in app_specs} == {plan.images[0].image}
    assert {s.role for s in app_specs} == {"web", "worker"}


def test_mail_is_isolated_from_mariadb_and_has_no_mounts():
    plan = example_plan()
    mail, mariadb = plan.instance("app--mail"), plan.instance("mariadb")
    assert mail.mounts == ()
    assert mail.size == "S" and (mail.cpus, mail.memory_mb) == (0.4, 128)
    assert not {a.network for a in mail.networks} & {a.network for a in mariadb.networks}
    assert set(decode(mail.env["PLATFORM_RELATIONSHIPS"])) == {"rabbitmq"}


def test_queue_has_its_scratch_mount_and_size_m():
    queue = example_plan().instance("app--queue")
    assert [(m.target, m.source) for m in queue.mounts] == [("/app/scratch", "local")]
    assert queue.size == "M"
    assert set(decode(queue.env["PLATFORM_RELATIONSHIPS"])) == {"database", "rabbitmq"}
    mariadb = example_plan().instance("mariadb")
    assert {a.network for a in queue.networks} & {a.network for a in mariadb.networks}


def test_type_and_port_env():
    plan = example_plan()
    assert plan.instance("app").env["TYPE"] == "web"
    assert plan.instance("app--queue").env["TYPE"] == "worker"
    assert plan.instance("app--mail").env["TYPE"] == "worker"
    assert "PORT" in plan.instance("app").env
    assert "PORT" not in plan.instance("app--queue").env and "PORT" not in plan.instance("app--mail").env


def test_lifecycle_settings_on_every_instance():
    for spec in example_plan().instances:
        assert (spec.restart, spec.stop_signal, spec.stop_timeout) == ("unless-stopped", "SIGTERM", 15)
        for label in ("project", "app", "instance", "role", "config-hash"):
            assert f"orchestrator.{label}" in spec.labels


def test_services_are_reached_by_relationship_host_names():
    plan = example_plan()
    mariadb = plan.instance("mariadb")
    assert mariadb.networks[0].aliases == ("database.internal",)
    assert all(not spec.ports for spec in plan.instances if spec.role != "router")
    assert {p.host_ip for p in plan.instance("router").ports} == {"127.0.0.1"}


def test_platform_env_and_json_shapes():
    env = example_plan().instance("app--queue").env
    for name in ("PLATFORM_APPLICATION_NAME", "PLATFORM_APP_DIR", "PLATFORM_BRANCH", "PLATFORM_ENVIRONMENT",
                 "PLATFORM_ENVIRONMENT_TYPE", "PLATFORM_PROJECT", "PLATFORM_TREE_ID", "PLATFORM_VARIABLES",
                 "PLATFORM_ROUTES", "PLATFORM_RELATIONSHIPS"):
        assert env[name] != "" or name == "PLATFORM_VARIABLES"
    db = decode(env["PLATFORM_RELATIONSHIPS"])["database"][0]
    assert list(db) == ["service", "type", "rel", "scheme", "host", "hostname", "ip", "instance_ips", "port",
                        "username", "password", "path", "query", "fragment", "cluster", "public", "host_mapped",
                        "epoch"]
    assert (db["host"], db["port"], db["rel"], db["scheme"], db["path"]) == ("database.internal", 3306, "mysql",
                                                                            "mysql", "main")
    routes = decode(env["PLATFORM_ROUTES"])
    primary = routes["https://workers.localhost/"]
    assert primary["primary"] is True and primary["upstream"] == "app" and primary["original_url"] == "https://{default}/"
    assert routes["http://workers.localhost/"]["type"] == "redirect"
    assert not [name for name in env if name.startswith(("DATABASE_", "RABBITMQ_"))]  # a .platform project


def test_variables_encoding(tmp_path: Path):
    (tmp_path / ".platform.app.yaml").write_text(
        "name: app\ntype: 'python:3.11'\nweb: {commands: {start: x}}\n"
        "variables:\n  env: {NODE_ENV: production, FLAGS: [a, b], on: true}\n"
        "  php: {memory_limit: 256M}\n  d8config: {'system.site:name': My site}\n")
    project, _ = load_project(tmp_path)
    env = translate(project, ENV).instance("app").env
    assert (env["NODE_ENV"], env["FLAGS"]) == ("production", '["a", "b"]')
    assert decode(env["PLATFORM_VARIABLES"]) == {"php:memory_limit": "256M", "d8config:system.site:name": "My site"}


def test_env_variables_are_exported_in_capitals_and_as_written_at_run_and_build_time(tmp_path: Path):
    (tmp_path / ".platform.app.yaml").write_text(
        "name: app\ntype: 'python:3.11'\nweb: {commands: {start: x}}\n"
        "variables:\n  env: {type: web, Mixed_Case: m, NODE_ENV: production, name: lower, NAME: upper}\n"
        "workers:\n  queue:\n    commands: {start: y}\n    variables:\n      env: {type: worker}\n")
    plan = translate(load_project(tmp_path)[0], ENV)
    expected = {"TYPE": "web", "type": "web", "MIXED_CASE": "m", "Mixed_Case": "m", "NODE_ENV": "production",
                "NAME": "upper", "name": "lower"}
    for env in (plan.instance("app").env, plan.images[0].build_env):
        assert {name: env.get(name) for name in expected} == expected
    worker = plan.instance("app--queue").env
    assert (worker["TYPE"], worker["type"], "NODE_ENV" in worker) == ("worker", "worker", False)


def test_relationship_variables_are_set_for_the_upsun_layout_only(tmp_path: Path):
    """Upsun sets `<REL>_HOST`, `_URL`, ...; a `.platform` project gets PLATFORM_RELATIONSHIPS alone, as there
    (a Rails app would otherwise read DATABASE_URL and fail on its pgsql:// scheme)."""
    app = "type: 'python:3.12'\nweb: {commands: {start: x}}\nrelationships: {database: 'pg:postgresql'}\n"
    (tmp_path / "upsun" / ".upsun").mkdir(parents=True)
    (tmp_path / "upsun" / ".upsun" / "config.yaml").write_text(
        "applications:\n  app:\n" + "".join("    " + line + "\n" for line in app.splitlines()) +
        "services:\n  pg: {type: 'postgresql:16'}\n")
    (tmp_path / "fixed" / ".platform").mkdir(parents=True)
    (tmp_path / "fixed" / ".platform.app.yaml").write_text("name: app\n" + app)
    (tmp_path / "fixed" / ".platform" / "services.yaml").write_text("pg: {type: 'postgresql:16', disk: 256}\n")
    upsun = translate(load_project(tmp_path / "upsun", name="p")[0], ENV).instance("app").env
    fixed = translate(load_project(tmp_path / "fixed", name="p")[0], ENV).instance("app").env
    assert upsun["DATABASE_URL"].startswith("pgsql://main:") and upsun["DATABASE_HOST"] == "database.internal"
    assert not [name for name in fixed if name.startswith("DATABASE_")]
    assert decode(fixed["PLATFORM_RELATIONSHIPS"]) == decode(upsun["PLATFORM_RELATIONSHIPS"])


def test_same_input_gives_byte_identical_json():
    assert example_plan().to_json() == example_plan().to_json()


def test_a_changed_worker_changes_only_its_own_config_hash(tmp_path: Path):
    import shutil
    shutil.copytree(EXAMPLES / "workers", tmp_path / "workers")
    before = {s.name: s.config_hash for s in translate(load_project(tmp_path / "workers")[0], ENV).instances}
    app_file = tmp_path / "workers" / ".platform.app.yaml"
    app_file.write_text(app_file.read_text().replace("start: python3 worker.py mail", "start: python3 worker.py mail --again"))
    after = {s.name: s.config_hash for s in translate(load_project(tmp_path / "workers")[0], ENV).instances}
    assert [n for n in before if before[n] != after[n]] == ["app--mail"]


def test_network_storage_is_one_volume_shared_by_every_instance_that_mounts_it(tmp_path: Path):
    (tmp_path / ".platform").mkdir()
    (tmp_path / ".platform" / "services.yaml").write_text("files:\n  type: 'network-storage:1.0'\n  disk: 256\n")
    (tmp_path / ".platform.app.yaml").write_text(
        "name: app\ntype: 'python:3.11'\ndisk: 256\nweb: {commands: {start: x}}\n"
        "mounts:\n  shared: {source: service, service: files, source_path: shared}\n"
        "  own: {source: local, source_path: own}\n"
        "workers:\n  a: {commands: {start: y}}\n  b: {commands: {start: z}}\n")
    plan = translate(load_project(tmp_path)[0], ENV)
    shared = {plan.instance(n).mounts[1].volume for n in ("app", "app--a", "app--b")}
    own = {plan.instance(n).mounts[0].volume for n in ("app", "app--a", "app--b")}
    assert [m.target for m in plan.instance("app").mounts] == ["/app/own", "/app/shared"]
    assert len(shared) == 1 and len(own) == 3
    assert all(spec.name != "files" for spec in plan.instances)  # network storage is a volume, not a container


def _nginx(spec) -> str:
    return base64.b64decode(spec.env["ORCHESTRATOR_NGINX_CONF"]).decode()


def _planned(tmp_path: Path, config: str, name: str):
    """The plan of a one-app project whose `.platform.app.yaml` is `config`."""
    (tmp_path / ".platform.app.yaml").write_text(config)
    project, _ = load_project(tmp_path, name=name)
    return translate(project, ENV)


def test_a_php_web_instance_without_a_start_command_runs_php_fpm_behind_nginx(tmp_path: Path):
    plan = _planned(tmp_path, "name: site\ntype: 'php:8.2'\nvariables:\n  php:\n    memory_limit: 256M\n"
                    "web:\n  locations:\n    '/':\n      root: public\n      passthru: true\n"
                    "workers:\n  jobs:\n    commands:\n      start: php jobs.php\n", "site")
    web, worker = plan.instance("site"), plan.instance("site--jobs")
    assert web.command == "orchestrator-php-fpm"
    assert web.env["PLATFORM_APP_COMMAND"] == ""  # the config has none; the platform's variable says so
    assert web.env["SOCKET"] == "/run/app.sock" and "PORT" not in web.env
    assert web.env["ORCHESTRATOR_PHP_INI"] == "memory_limit=256M"
    assert web.ports == ()  # the router publishes; web instances publish nothing
    config = _nginx(web)
    assert "upstream app { server unix:/run/app.sock; }" in config
    assert 'fastcgi_param SCRIPT_FILENAME "/app/public/index.php";' in config
    assert worker.command == "php jobs.php" and "ORCHESTRATOR_NGINX_CONF" not in worker.env


def test_a_static_site_passes_nothing_through(tmp_path: Path):
    web = _planned(tmp_path, "name: docs\ntype: 'python:3.11'\nweb:\n  commands:\n    start: sleep infinity\n"
                   "  locations:\n    '/':\n      root: _site\n      passthru: false\n", "docs").instance("docs")
    assert web.command == "sleep infinity"
    config = _nginx(web)
    assert 'root "/app/_site";' in config and "try_files $uri $uri/index.html =404;" in config
    assert "@passthru" not in config
    assert web.env["PLATFORM_DOCUMENT_ROOT"] == "/app/_site"


def test_an_empty_start_command_is_no_start_command(tmp_path: Path):
    web = _planned(tmp_path, "name: site\ntype: 'php:8.2'\nweb:\n  commands:\n    start: ''\n  locations:\n"
                   "    '/':\n      root: web\n", "site").instance("site")
    assert web.command == "orchestrator-php-fpm" and web.env["SOCKET"] == "/run/app.sock"


def test_nginx_location_settings_are_honoured_not_warned_about(tmp_path: Path):
    (tmp_path / ".platform.app.yaml").write_text(
        "name: site\ntype: 'php:8.2'\nweb:\n  locations:\n    '/':\n      root: web\n      expires: 1h\n"
        "      rules:\n        '\\.css$': {expires: 1d}\n")
    project, warnings = load_project(tmp_path, name="site")
    assert not [w for w in warnings if "locations" in w.key], warnings
    config = _nginx(translate(project, ENV).instance("site"))
    assert "expires 1h;" in config and 'location ~ "\\\\.css$" {' in config and "expires 1d;" in config




def test_php_extensions_install_from_debian_packages_and_an_unknown_one_is_named_before_any_build(tmp_path: Path):
    from orchestrator.recipe import php_extension_problems, system_dependency_script
    build = _planned(tmp_path, "name: site\ntype: 'php:8.2'\nruntime:\n  extensions: [apcu, sodium, "
                     "{name: blackfire, configuration: {}}, redis, no_such_ext]\n  disabled_extensions: [calendar]\n",
                     "site").images[0]
    assert php_extension_problems(build) == [
        "app site: PHP extension 'no_such_ext' (runtime.extensions) cannot be had here: no Debian package brings "
        "it; remove it or map an image that has it with --images"]
    script = system_dependency_script(build)
    assert "--no-install-recommends php-apcu php-redis >/dev/null" in script  # sodium is in PHP already
    assert "blackfire" not in script and "phpdismod -v ALL -s ALL calendar" in script


def test_a_static_site_that_allows_files_by_rule_only_still_serves_its_index(tmp_path: Path):
    # the shape of the platform's Pelican template: allow: false, rules allowing .html, .css, ...
    config = _nginx(_planned(
        tmp_path, "name: app\ntype: 'python:3.11'\nweb:\n  commands:\n    start: sleep infinity\n  locations:\n"
        "    '/':\n      root: output\n      index: [index.html]\n      expires: 300s\n      scripts: false\n"
        "      allow: false\n      rules:\n        \\.(css|js|html)$:\n          allow: true\n"
        "        ^/robots\\.txt$:\n          allow: true\n", "app").instance("app"))
    location = config[config.index('location "/" {'):]
    assert 'index "index.html";\n            try_files $uri/ =404;' in location
    assert 'location ~ "\\\\.(css|js|html)$" {\n                expires 300s;' in location
    assert 'location ~ "^/robots\\\\.txt$" {' in location
