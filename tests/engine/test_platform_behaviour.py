"""What the platform does around an app, on the real engine: build-time variables that stay out of the
image, the platform images' tools, a build cache kept across builds, a failed build that shows why and
changes nothing, `.environment` sourced for every kind of command, post_start before the deploy hook, and
instances that run as `web` on a read-only filesystem where only the mounts and /tmp are writable."""

from __future__ import annotations

import pytest

from tests.engine.conftest import PROJECTS, env_of, get, route_url, wait_for

pytestmark = pytest.mark.engine
EXPECTED = "sourced-for-app"


@pytest.fixture(scope="module")
def platformlike(deploy):
    deployment = deploy(PROJECTS / "platformlike")
    result = deployment.ok("up")
    deployment.__dict__["first_up"] = result.stdout + result.stderr
    return deployment


def _ssh(deployment, *command: str, worker: str | None = None):
    return deployment.cli("ssh", *(["--worker", worker] if worker else []), "--", *command)


def test_the_build_sees_the_build_time_variables_and_the_tools_of_the_platforms_images(platformlike):
    assert "build: variables=set application=set entropy=set greeting=hello" in platformlike.first_up
    assert "is missing" not in platformlike.first_up


def test_build_time_variables_stay_out_of_the_image_and_the_instances(platformlike):
    container = platformlike.container("app")
    image_env = container.image.attrs["Config"]["Env"]
    assert [e for e in image_env if e.startswith(("PLATFORM_", "CI="))] == []
    env = env_of(container)
    assert not {"PLATFORM_CACHE_DIR", "PLATFORM_OUTPUT_DIR", "CI"} & set(env)
    assert env["PLATFORM_PROJECT_ENTROPY"] and env["GREETING"] == "hello"


def test_environment_is_sourced_for_the_start_command_worker_cron_hook_and_ssh(platformlike):
    assert wait_for(lambda: _ssh(platformlike, "cat", "data/web.txt").stdout.strip() == EXPECTED)
    assert wait_for(lambda: _ssh(platformlike, "cat", "data/worker.txt", worker="worker").stdout.strip() == EXPECTED)
    platformlike.ok("cron run env")
    assert _ssh(platformlike, "cat", "data/cron.txt").stdout.strip() == EXPECTED
    assert f"deploy: {EXPECTED} as web" in platformlike.first_up
    assert _ssh(platformlike, "printenv", "FROM_ENVIRONMENT").stdout.strip() == EXPECTED


def test_post_start_has_run_before_the_deploy_hook(platformlike):
    assert "post_start done" in platformlike.first_up


@pytest.mark.parametrize("worker", [None, "worker"])
def test_instances_run_as_web_on_a_read_only_root_with_writable_mounts_and_tmp(platformlike, worker):
    assert _ssh(platformlike, "id", "-un", worker=worker).stdout.strip() == "web"
    command = _ssh(platformlike, "sh", "-c", "ps -o user= -p $(cat /run/orchestrator/app.pid)", worker=worker)
    assert command.stdout.strip() == "web"
    refused = _ssh(platformlike, "touch", "/app/new-file", worker=worker)
    assert refused.returncode != 0 and "Read-only file system" in refused.stderr
    written = _ssh(platformlike, "sh", "-c", "touch data/ok /tmp/ok && echo written >/dev/stderr", worker=worker)
    assert (written.returncode, written.stderr.strip()) == (0, "written")


def test_the_build_cache_is_kept_and_a_failed_build_shows_why_and_changes_nothing(platformlike):
    platformlike.edit("v1", "v2", "version.txt")
    rebuilt = platformlike.ok("up")
    assert "build: the cache kept v1" in rebuilt.stdout + rebuilt.stderr
    before = platformlike.ids()
    (platformlike.dir / "fail-build").write_text("")
    platformlike.edit('"python:3.11"', '"python:3.10"')  # no such stand-in: the note comes before the build
    failed = platformlike.cli("up")
    assert failed.returncode != 0
    note = failed.stderr.find("note: python:3.10:")
    assert 0 <= note < failed.stderr.find("build: failing on purpose, as fail-build asks")
    assert "--images" in failed.stderr[note:].splitlines()[0]
    error = failed.stderr.rfind("exited with status 3")  # the error itself shows the build's last lines
    assert 0 < error < failed.stderr.rfind("build: failing on purpose, as fail-build asks")
    assert platformlike.ids() == before
    assert get(route_url(platformlike, "/index.html", scheme="http")).status == 200
