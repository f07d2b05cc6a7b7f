"""Config discovery in all three layouts, line marks, and the platform's include tags."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from orchestrator.config.loader import load
from orchestrator.config.validate import load_project
from orchestrator.config.yaml_source import ArchiveRef, MarkedMap
from orchestrator.errors import ConfigError

APP = "type: 'python:3.11'\nweb:\n  commands:\n    start: python3 web.py\n"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def test_flat_app_files_anywhere_with_their_directory_as_source_root(tmp_path):
    write(tmp_path, {".platform.app.yaml": "name: main\n" + APP, "admin/.platform.app.yaml": "name: admin\n" + APP})
    project, _ = load_project(tmp_path)
    roots = {app.name: app.source_root for app in project.apps}
    assert roots == {"main": "", "admin": "admin"}
    assert project.layout == "platform"


@pytest.mark.parametrize("form", ["list", "map"])
def test_applications_yaml_in_list_and_map_form(tmp_path, form):
    indented = "".join("    " + line + "\n" for line in APP.splitlines())
    if form == "list":
        text = "- name: api\n  source: {root: api}\n" + "".join("  " + l + "\n" for l in APP.splitlines())
    else:
        text = "api:\n  source: {root: api}\n" + "".join("  " + l + "\n" for l in APP.splitlines())
    write(tmp_path, {".platform/applications.yaml": text})
    project, _ = load_project(tmp_path)
    assert [(a.name, a.source_root) for a in project.apps] == [("api", "api")]
    assert indented  # the helper text is well formed


def test_upsun_files_merge_per_entry_and_later_file_replaces_whole(tmp_path):
    app_block = "".join("    " + l + "\n" for l in APP.splitlines())
    write(tmp_path, {
        ".upsun/a.yaml": "applications:\n  api:\n    source: {root: first}\n" + app_block,
        ".upsun/b.yaml": "applications:\n  api:\n" + app_block + "services:\n  cache:\n    type: 'redis:7.2'\n",
    })
    project, warnings = load_project(tmp_path)
    assert project.apps[0].source_root == ""  # b.yaml's definition replaced a.yaml's whole, source.root included
    assert [s.name for s in project.services] == ["cache"]
    assert any("replaces it whole" in w.message and w.file == ".upsun/b.yaml" for w in warnings)


def test_every_key_keeps_its_file_and_line(tmp_path):
    write(tmp_path, {".platform.app.yaml": "name: app\n\n\ntype: 'python:3.11'\n"})
    raw = load(tmp_path)
    data = raw.apps[0].data
    assert isinstance(data, MarkedMap)
    assert (data.file, data.line_of("name"), data.line_of("type")) == (".platform.app.yaml", 1, 4)


def test_include_string_binary_and_yaml_from_the_app_file_directory_by_default(tmp_path):
    write(tmp_path, {
        "app/.platform.app.yaml": (
            "name: app\ntype: 'python:3.11'\n"
            "hooks:\n  build: !include {type: string, path: scripts/build.sh}\n"
            "variables:\n  env:\n    BLOB: !include {type: binary, path: scripts/blob.bin}\n"
            "workers:\n  queue: !include worker.yaml\n"
            "web:\n  commands: {start: python3 web.py}\n"
            "runtime:\n  extensions: []\n"),
        "app/scripts/build.sh": "echo built\n",
        "app/scripts/blob.bin": b"\x00\xffdata",
        "app/worker.yaml": "commands:\n  start: python3 worker.py\n",
    })
    project, _ = load_project(tmp_path)
    app = project.apps[0]
    assert app.hooks.build == "echo built\n"
    assert base64.b64decode(app.settings.variables["env"]["BLOB"]) == b"\x00\xffdata"
    assert [w.start for w in app.workers] == ["python3 worker.py"]


DOCS_LAYOUT = {
    ".upsun/config.yaml": (
        "applications:\n"
        "  frontend:\n"
        "    source:\n      root: frontend\n"
        "    type: 'nodejs:22'\n"
        "    web: {commands: {start: node server.js}}\n"
        "    hooks:\n"
        "      build: !include\n        type: string\n        path: build.sh\n"
        "      deploy: !include {type: string, path: ../backend/scripts/common_build.sh}\n"
        "    workers:\n      queue1: !include 'worker.yaml'\n"
        "  myapp:\n    !include ./apps/my-app.yaml\n"
        "services:\n"
        "  varnish:\n    type: 'varnish:7.6'\n    relationships: {application: 'frontend:http'}\n"
        "    configuration:\n      vcl: !include {type: string, path: config.vcl}\n"),
    ".upsun/apps/my-app.yaml": ("source:\n  root: '/'\ntype: 'nodejs:22'\nweb: {commands: {start: node index.js}}\n"
                                "hooks:\n  build: !include {type: string, path: tools/build.sh}\n"),
    ".upsun/config.vcl": "sub vcl_recv { set req.backend_hint = application.backend(); }\n",
    "frontend/build.sh": "npm run build\n",
    "frontend/worker.yaml": "commands:\n  start: python queue-worker.py\nvariables:\n  env:\n    type: worker\n",
    "backend/scripts/common_build.sh": "echo shared\n",
    "tools/build.sh": "echo root app\n",
}


def test_include_paths_are_read_from_the_app_directory_as_the_platform_docs_write_them(tmp_path):
    """The docs' own examples: inside an app from `source.root` (`../` reaching a sibling app), a whole app
    included from the `.upsun/` file's directory, a service's VCL from the `.upsun/` directory."""
    project, _ = load_project(write(tmp_path, DOCS_LAYOUT))
    apps = {app.name: app for app in project.apps}
    frontend = apps["frontend"]
    assert (frontend.hooks.build, frontend.hooks.deploy) == ("npm run build\n", "echo shared\n")
    assert [(w.name, w.start, w.settings.variables["env"]) for w in frontend.workers] == \
        [("queue1", "python queue-worker.py", {"type": "worker"})]
    assert (apps["myapp"].source_root, apps["myapp"].hooks.build) == ("", "echo root app\n")
    assert project.services[0].configuration["vcl"].startswith("sub vcl_recv")


def test_an_include_beside_the_config_file_instead_of_in_the_app_directory_is_not_found(tmp_path):
    files = {**DOCS_LAYOUT, ".upsun/build.sh": "npm run build\n"}
    del files["frontend/build.sh"]
    with pytest.raises(ConfigError) as caught:
        load_project(write(tmp_path, files))
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.key) == (".upsun/config.yaml", 8, "!include")
    assert "'build.sh' does not exist" in problem.message and "frontend/" in problem.hint


def test_an_app_include_that_leaves_the_project_from_the_app_directory_is_refused(tmp_path):
    files = {**DOCS_LAYOUT, "frontend/worker.yaml": "commands: !include ../../outside.yaml\n"}
    write(tmp_path, {"outside.yaml": "start: sleep 1\n"})
    with pytest.raises(ConfigError) as caught:
        load_project(write(tmp_path / "project", files))
    assert [(p.file, p.line) for p in caught.value.problems if "outside the project" in p.message] == \
        [("frontend/worker.yaml", 1)]


def test_problems_inside_an_included_file_name_that_file_and_line(tmp_path):
    files = {**DOCS_LAYOUT, "frontend/worker.yaml": "commands:\n  start: python w.py\naccess: {ssh: admin}\n"
                                                    "relationships:\n  cache: 'redis:redis'\nmounts:\n"
                                                    "  data: {sorce: local}\n"}
    with pytest.raises(ConfigError) as caught:
        load_project(write(tmp_path, files))
    where = sorted((p.file, p.line, p.key) for p in caught.value.problems)
    assert where == [("frontend/worker.yaml", 5, "applications.frontend.workers.queue1.relationships.cache"),
                     ("frontend/worker.yaml", 7, "applications.frontend.workers.queue1.mounts.data.sorce"),
                     ("frontend/worker.yaml", 7, "applications.frontend.workers.queue1.mounts.data.source")]
    files["frontend/worker.yaml"] = "commands:\n  start: python w.py\naccess: {ssh: admin}\n"
    _, warnings = load_project(write(tmp_path, files))
    assert [(w.file, w.line, w.key) for w in warnings] == [
        ("frontend/worker.yaml", 3, "applications.frontend.workers.queue1.access")]
    files["frontend/worker.yaml"] = "variables:\n  env: {A: b}\n"
    with pytest.raises(ConfigError) as caught:
        load_project(write(tmp_path, files))
    assert [(p.file, p.line, p.key) for p in caught.value.problems] == [
        ("frontend/worker.yaml", 1, "applications.frontend.workers.queue1.commands")]


def test_archive_tag_names_a_directory(tmp_path):
    write(tmp_path, {".platform/services.yaml": "search:\n  type: 'solr:9.9'\n  disk: 256\n  configuration:\n"
                                                "    cores:\n      main:\n        conf_dir: !archive 'solr-conf'\n",
                     ".platform.app.yaml": "name: app\n" + APP, "solr-conf/solrconfig.xml": "<config/>"})
    raw = load(tmp_path)
    conf_dir = raw.services[0].data["configuration"]["cores"]["main"]["conf_dir"]
    assert conf_dir == ArchiveRef(".platform/solr-conf", False) or conf_dir.path.endswith("solr-conf")


@pytest.mark.parametrize("include", ["!include ../../secret.yaml", "!include {type: string, path: /etc/hostname}"])
def test_includes_that_escape_the_project_are_refused(tmp_path, include):
    project = tmp_path / "project"
    write(project, {".platform.app.yaml": f"name: app\n{APP}workers:\n  queue: {include}\n"})
    write(tmp_path, {"secret.yaml": "commands: {start: cat /etc/shadow}\n"})
    with pytest.raises(ConfigError) as caught:
        load_project(project)
    problem = caught.value.problems[0]
    assert (problem.file, problem.line) == (".platform.app.yaml", 7)
    assert "outside the project" in problem.message


def test_a_missing_include_is_an_error_at_its_line(tmp_path):
    write(tmp_path, {".platform.app.yaml": f"name: app\n{APP}hooks:\n  build: !include {{type: string, path: nope.sh}}\n"})
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path)
    assert caught.value.problems[0].line == 7 and "does not exist" in caught.value.problems[0].message


def test_no_config_at_all_is_one_clear_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path)
    assert "no config found" in caught.value.problems[0].message


def test_both_layouts_present_reads_upsun_and_says_so(tmp_path):
    write(tmp_path, {".platform.app.yaml": "name: old\n" + APP,
                     ".upsun/config.yaml": "applications:\n  new:\n" + "".join("    " + l + "\n" for l in APP.splitlines())})
    project, warnings = load_project(tmp_path)
    assert [a.name for a in project.apps] == ["new"]
    assert any("--layout platform" in w.hint for w in warnings)
    project, _ = load_project(tmp_path, layout="platform")
    assert [a.name for a in project.apps] == ["old"]


def test_alias_bomb_is_refused_quickly(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 10) + "]")
    write(tmp_path, {".platform.app.yaml": "name: app\n" + APP + "variables:\n  env:\n" +
                     "".join("    " + l + "\n" for l in lines)})
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path)
    assert "billion laughs" in caught.value.problems[0].hint


def test_non_utf8_is_an_error_with_its_line(tmp_path):
    write(tmp_path, {".platform.app.yaml": b"name: app\ntype: 'python:3.11'\n# caf\xe9\n"})
    with pytest.raises(ConfigError) as caught:
        load_project(tmp_path)
    assert (caught.value.problems[0].line, caught.value.problems[0].key) == (3, "(encoding)")
