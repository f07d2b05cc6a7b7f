"""The build as the plan and the image recipe describe it: which Debian release a stand-in comes from,
which variables a build sees (and that none stays in the image), the output a failed build shows, and the
runtime contract of app instances (user, read-only root, writable dirs)."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from orchestrator.config.validate import load_project
from orchestrator.engine import BuildFailed
from orchestrator.export.compose import dockerfile
from orchestrator.images import build_context
from orchestrator.recipe import IMAGE_ENV, build_env_file, stand_in_release
from orchestrator.plan import APP_TMPFS, Environment, translate
from orchestrator.progress import Reporter

from tests.conftest import EXAMPLES

ENV = Environment("main", "production", "workers.localhost", 20000, 20001)


def _plan(tmp_path: Path, config: str):
    (tmp_path / ".platform.app.yaml").write_text(config)
    project, _ = load_project(tmp_path, name="p")
    return translate(project, ENV)


@pytest.mark.parametrize("runtime, version, expected", [
    ("python", "3.9", ("bullseye", "3.9")), ("python", "3.11", ("bookworm", "3.11")),
    ("python", "3.10", ("bookworm", "3.11")),  # as near to 3.9 as to 3.11: the newer
    ("python", "3.12", ("trixie", "3.13")), ("python", "3.14", ("trixie", "3.13")),
    ("php", "7.4", ("bullseye", "7.4")), ("php", "8.1", ("bookworm", "8.2")), ("php", "8.4", ("trixie", "8.4")),
    ("nodejs", "16", ("bookworm", "18")), ("nodejs", "22", ("trixie", "20")), ("nodejs", "10", ("bullseye", "12")),
    ("rust", "1", ("trixie", "1")),  # every release has it: the newest
])
def test_a_stand_in_comes_from_the_debian_release_nearest_the_requested_version(runtime, version, expected):
    assert stand_in_release(runtime, version) == expected


def test_the_build_sees_the_platforms_build_time_variables_and_the_image_keeps_none(tmp_path: Path):
    plan = _plan(tmp_path, "name: app\ntype: 'python:3.11'\nvariables:\n  env:\n    token: s3cr3t\n"
                           "  django:\n    debug: false\nweb:\n  commands:\n    start: sleep 1\n")
    build, web = plan.images[0], plan.instance("app")
    for name in ("PLATFORM_APPLICATION", "PLATFORM_APPLICATION_NAME", "PLATFORM_APP_DIR", "PLATFORM_CACHE_DIR",
                 "PLATFORM_PROJECT", "PLATFORM_PROJECT_ENTROPY", "PLATFORM_TREE_ID", "PLATFORM_VARIABLES"):
        assert build.build_env[name], name
    assert json.loads(base64.b64decode(build.build_env["PLATFORM_VARIABLES"])) == {"django:debug": False}
    assert build.build_env["PLATFORM_PROJECT_ENTROPY"] == web.env["PLATFORM_PROJECT_ENTROPY"]
    assert build.build_env["TOKEN"] == "s3cr3t" and "CI" not in build.build_env
    assert not {"PLATFORM_CACHE_DIR", "PLATFORM_OUTPUT_DIR", "CI"} & set(web.env)
    assert not [name for name in IMAGE_ENV if name.startswith("PLATFORM_")]
    exported = dockerfile(build)
    assert "s3cr3t" not in exported and "PLATFORM_VARIABLES" not in exported  # only inside the base64 build files


def test_the_build_variables_file_is_read_back_by_a_shell_exactly(tmp_path: Path):
    plan = _plan(tmp_path, "name: app\ntype: 'python:3.11'\nvariables:\n  env:\n    tricky: \"it's $HOME `x` \\\"q\\\"\"\n"
                           "    'bad-name': skipped\n")
    script = tmp_path / "env.sh"
    script.write_text(build_env_file(plan.images[0]))
    out = subprocess.run(["sh", "-c", f"set -a; . {script}; printf %s \"$TRICKY\""], capture_output=True, text=True)
    assert out.stdout == "it's $HOME `x` \"q\""
    assert "bad-name" not in script.read_text()


def test_the_build_context_puts_the_source_under_app_owned_by_root(tmp_path: Path):
    plan = _plan(tmp_path, "name: app\ntype: 'python:3.11'\nhooks:\n  build: echo hi\n")
    (tmp_path / "main.py").write_text("print(1)\n")
    with tarfile.open(fileobj=build_context(plan.images[0], tmp_path)) as archive:
        members = {m.name: m for m in archive.getmembers()}
    assert members["app/main.py"].uid == 0 and members["app/main.py"].uname == "root"
    assert {"app/.orchestrator/build.sh", "app/.orchestrator/build-env", "app/.orchestrator/build-hook.sh"} \
        <= set(members)


def test_app_instances_run_read_only_with_tmp_and_run_writable_and_nginx_workers_as_web():
    plan = translate(load_project(EXAMPLES / "workers")[0], ENV)
    for spec in plan.instances:
        app = spec.role in ("web", "worker")
        assert spec.read_only is app and spec.tmpfs == (APP_TMPFS if app else ())
    conf = base64.b64decode(plan.instance("app").env["ORCHESTRATOR_NGINX_CONF"]).decode()
    assert "\nuser web;\n" in conf


def test_a_failed_build_says_why_with_its_last_lines():
    error = BuildFailed("building x failed: the build exited with status 127", [f"line {n}" for n in range(40)])
    text = str(error)
    assert "status 127" in text and "    line 39" in text and "last 40 lines" in text


def test_build_output_is_shown_line_by_line_off_a_terminal():
    stream = io.StringIO()
    reporter = Reporter(stream=stream)
    with reporter.working("building"):
        reporter.detail("collecting django")
        reporter.detail("python3.10: not found")
    assert "  | collecting django\n" in stream.getvalue() and "  | python3.10: not found\n" in stream.getvalue()


def test_a_failing_environment_file_is_reported_and_the_command_still_runs_with_what_it_exported(tmp_path: Path):
    from orchestrator.catalog import templates_dir
    (tmp_path / ".environment").write_text("export EARLY=set-before\nset -e\nfalse\nexport LATE=never\n")
    result = subprocess.run(["sh", str(templates_dir() / "runtime" / "orchestrator-env"), "sh", "-c",
                             'echo "early=$EARLY late=${LATE:-unset}"'], capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "PLATFORM_APP_DIR": str(tmp_path)})
    assert (result.returncode, result.stdout) == (0, "early=set-before late=unset\n")
    assert "orchestrator: .environment exited with status 1" in result.stderr


def test_the_init_and_sv_wait_the_same_grace_as_the_engine_by_default():
    """The grace period is one fact (plan.STOP_TIMEOUT); the shell tools in the image carry it as their
    default for ORCHESTRATOR_GRACE, and must agree with it."""
    import re

    from orchestrator.catalog import templates_dir
    from orchestrator.plan import STOP_TIMEOUT
    for tool in ("orchestrator-init", "sv"):
        text = (templates_dir() / "runtime" / tool).read_text()
        assert re.findall(r'GRACE="\$\{ORCHESTRATOR_GRACE:-(\d+)\}"', text) == [str(STOP_TIMEOUT)], tool
