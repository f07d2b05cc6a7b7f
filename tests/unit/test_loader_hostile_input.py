"""Hostile and broken config: every input ends in a clean success or `file:line` errors, within bounded
time and memory, never a traceback, a hang or an engine call; engine names derived from config are
always valid, short enough and distinct."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.config.validate import load_project
from orchestrator.errors import ConfigError
from orchestrator.plan import Environment, translate

ENV = Environment("main", "production", "x.localhost")
ENGINE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
SETTINGS = settings(max_examples=150, deadline=3000, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                              HealthCheck.too_slow])
TRIED = {"count": 0, "peak": 0}
HANG_BOUND = 30  # seconds: not a speed goal (bench/ has those), a bound that tells a hang from slow work
MEMORY_BOUND = 256 * 2**20  # bytes of Python heap one load + translate may use, whatever the input

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=False),
                    st.text(max_size=30))
keys = st.one_of(st.sampled_from(["name", "type", "web", "workers", "mounts", "relationships", "variables",
                                  "size", "disk", "commands", "start", "hooks", "crons", "spec", "source", "root",
                                  "services", "applications", "routes", "upstream", "configuration", "endpoints",
                                  "schemas", "privileges", "env", "locations", "stack", "!include"]),
                 st.text(min_size=1, max_size=12))
values = st.recursive(scalars, lambda children: st.one_of(st.lists(children, max_size=5),
                                                           st.dictionaries(keys, children, max_size=6)),
                      max_leaves=40)
VALID_APP = {"name": "app", "type": "python:3.11", "disk": 256,
             "relationships": {"database": "db:mysql"},
             "mounts": {"data": {"source": "local", "source_path": "data"}},
             "web": {"commands": {"start": "python3 web.py"}},
             "workers": {"queue": {"size": "M", "commands": {"start": "python3 w.py"}}},
             "crons": {"tick": {"spec": "*/5 * * * *", "commands": {"start": "true"}}}}
VALID_SERVICES = {"db": {"type": "mariadb:10.11", "disk": 256}}


def outcome(root: Path) -> str:
    """Load and translate; a ConfigError must name a file and a line for each problem."""
    TRIED["count"] += 1
    started = time.monotonic()
    tracemalloc.start()
    try:
        project, _ = load_project(root, name="hostile")
        plan = translate(project, ENV)
        for spec in plan.instances:
            assert ENGINE_NAME.match(spec.container) and len(spec.container) <= 63
        result = "ok"
    except ConfigError as error:
        for problem in error.problems:
            assert problem.key, problem
            assert problem.file or problem.key == "(project)", problem
            assert problem.line >= 1 or problem.key in ("(project)", "(layout)"), problem
        assert "Traceback" not in error.render()
        result = "error"
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    TRIED["peak"] = max(TRIED["peak"], peak)
    assert peak < MEMORY_BOUND, f"{peak / 2**20:.0f} MiB"
    assert time.monotonic() - started < HANG_BOUND
    return result


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    return root


@SETTINGS
@given(document=values)
def test_random_documents_as_an_app_file(tmp_path_factory, document):
    root = tmp_path_factory.mktemp("hostile")
    write(root, {".platform.app.yaml": yaml.safe_dump(document)})
    outcome(root)


@SETTINGS
@given(document=values, where=st.sampled_from([".upsun/config.yaml", ".platform/services.yaml",
                                               ".platform/routes.yaml", ".platform/applications.yaml"]))
def test_random_documents_in_every_config_file(tmp_path_factory, document, where):
    root = tmp_path_factory.mktemp("hostile")
    files = {where: yaml.safe_dump(document)}
    if not where.startswith(".upsun") and where != ".platform/applications.yaml":
        files[".platform.app.yaml"] = yaml.safe_dump(VALID_APP)
    write(root, files)
    outcome(root)


@SETTINGS
@given(path=st.lists(st.sampled_from(sorted(VALID_APP) + ["queue", "web", "commands", "start", "data", "database"]),
                     min_size=1, max_size=4), replacement=values)
def test_a_valid_config_with_one_part_replaced_by_anything(tmp_path_factory, path, replacement):
    import copy
    app = copy.deepcopy(VALID_APP)
    node = app
    for key in path[:-1]:
        child = node.get(key) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            break
        node = child
    if isinstance(node, dict):
        node[path[-1]] = replacement
    root = tmp_path_factory.mktemp("hostile")
    write(root, {".platform.app.yaml": yaml.safe_dump(app),
                 ".platform/services.yaml": yaml.safe_dump(VALID_SERVICES)})
    outcome(root)


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_random_bytes(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("hostile")
    write(root, {".platform.app.yaml": data})
    assert outcome(root) == "error"


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=70).filter(
    lambda n: n[0].isalnum())


@SETTINGS
@given(app=names, workers=st.lists(names, min_size=1, max_size=4, unique=True),
       services=st.lists(names, max_size=3, unique=True), project=st.text(min_size=1, max_size=90))
def test_engine_names_are_valid_short_and_distinct(tmp_path_factory, app, workers, services, project):
    services = [s for s in services if s != app]
    config = {"applications": {app: {"type": "python:3.11", "web": {"commands": {"start": "x"}},
                                     "relationships": {f"r{i}": f"{s}:redis" for i, s in enumerate(services)},
                                     "mounts": {f"m/{w}": {"source": "instance", "source_path": w} for w in workers},
                                     "workers": {w: {"commands": {"start": "y"}} for w in workers}}},
              "services": {s: {"type": "redis:7.2"} for s in services}}
    root = tmp_path_factory.mktemp("names")
    write(root, {".upsun/config.yaml": yaml.safe_dump(config)})
    project_name = re.sub(r"[^a-z0-9_.-]+", "-", project.lower()).strip("-._") or "p"
    loaded, _ = load_project(root, name=project_name)
    plan = translate(loaded, ENV)
    engine_names = [s.container for s in plan.instances] + [n.name for n in plan.networks] + \
        [v.name for v in plan.volumes]
    for name in engine_names:
        assert ENGINE_NAME.match(name) and len(name) <= 63, name
    assert len(set(s.container for s in plan.instances)) == len(plan.instances)
    assert len(set(v.name for v in plan.volumes)) == len(plan.volumes)


@pytest.mark.parametrize("case", ["deep_lists", "deep_maps", "alias_bomb", "huge", "non_utf8", "tab_indent",
                                  "null_bytes", "include_cycle", "include_self", "symlink_escape"])
def test_named_hostile_inputs(tmp_path, case):
    files: dict[str, str | bytes] = {}
    if case == "deep_lists":
        files[".platform.app.yaml"] = "a: " + "[" * 50_000 + "]" * 50_000
    elif case == "deep_maps":
        files[".platform.app.yaml"] = "".join(" " * i + f"k{i}:\n" for i in range(3000))
    elif case == "alias_bomb":
        lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i-1}"] * 9) + "]" for i in range(1, 10)]
        files[".platform.app.yaml"] = "\n".join(lines) + "\nname: app\n"
    elif case == "huge":
        files[".platform.app.yaml"] = "name: app\n" + "# padding\n" * 600_000
    elif case == "non_utf8":
        files[".platform.app.yaml"] = b"name: \xff\xfe app\n"
    elif case == "tab_indent":
        files[".platform.app.yaml"] = "name: app\nweb:\n\tcommands: {}\n"
    elif case == "null_bytes":
        files[".platform.app.yaml"] = "name: app\x00\ntype: python:3.11\n"
    elif case == "include_cycle":
        files[".platform.app.yaml"] = "name: app\ntype: 'python:3.11'\nworkers:\n  w: !include a.yaml\n"
        files["a.yaml"] = "commands: !include b.yaml\n"
        files["b.yaml"] = "start: !include a.yaml\n"
    elif case == "include_self":
        files[".platform.app.yaml"] = "name: app\nweb: !include .platform.app.yaml\n"
    elif case == "symlink_escape":
        files[".platform.app.yaml"] = "name: app\ntype: 'python:3.11'\nhooks:\n  build: !include {type: string, path: link}\n"
    write(tmp_path, files)
    if case == "symlink_escape":
        (tmp_path / "link").symlink_to("/etc/hostname")
    assert outcome(tmp_path) == "error"


def test_the_largest_file_allowed_loads_within_the_bounds(tmp_path):
    """Just under the size limit, 80,000 real keys: parsed, validated and planned, not refused."""
    lines = ["name: app", "type: 'python:3.11'", "web:", "  commands:", "    start: x", "variables:", "  env:"]
    lines += [f"    K{i}: 'value {i} padding padding padding'" for i in range(80_000)]
    write(tmp_path, {".platform.app.yaml": "\n".join(lines) + "\n"})
    assert (tmp_path / ".platform.app.yaml").stat().st_size < 4 * 2**20
    assert outcome(tmp_path) == "ok"


def test_validate_and_plan_never_touch_the_engine(tmp_path):
    """Loading and planning import no Docker code at all: bad input can never reach the engine."""
    script = ("import sys; from pathlib import Path\n"
              "from orchestrator.config.validate import load_project\n"
              "from orchestrator.plan import translate\n"
              f"translate(load_project(Path({str(Path(__file__).parents[2] / 'examples' / 'workers')!r}))[0], 'main')\n"
              "assert 'docker' not in sys.modules, 'docker was imported'\n"
              "print('no engine')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "no engine", result.stderr


def test_report_how_many_hostile_inputs_were_tried():
    """Runs last in this file: records the count for the note (pytest -s shows it)."""
    import resource
    resident = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB; includes C allocations (libyaml)
    print(f"\nhostile inputs tried in this run: {TRIED['count']}; "
          f"largest Python heap one of them needed: {TRIED['peak'] / 2**20:.1f} MiB; "
          f"peak resident size of the whole test process: {resident:.0f} MiB")
    assert resident < 1024
    assert TRIED["count"] > 0
