"""A web instance without `web.commands.start`, served as on the platform: nginx applies the locations,
PHP-FPM runs PHP apps (files from the root location as they are, PHP run, other paths to `passthru`), and a
static site is served by nginx alone."""

from __future__ import annotations

import json

import pytest

from tests.engine.conftest import PROJECTS, get as get_url, route_url

pytestmark = pytest.mark.engine


def get(deployment, instance: str, path: str, timeout: float = 60.0) -> tuple[int, str]:
    """Status and body of GET `path` on the project's default route (the one app of these projects)."""
    answer = get_url(route_url(deployment, path), timeout)
    return answer.status, answer.body.decode()


@pytest.fixture(scope="module")
def php(deploy):
    deployment = deploy(PROJECTS / "phpsite")
    deployment.ok("up", timeout=900)  # builds the PHP stand-in on a machine without a registry
    return deployment


def test_php_files_run_static_files_are_sent_and_other_paths_reach_the_front_controller(php):
    assert get(php, "site", "/hello.txt") == (200, "plain text, served as it is\n")
    status, body = get(php, "site", "/direct.php")
    assert status == 200 and body.startswith("direct 8.")
    status, body = get(php, "site", "/blog/2026/hello?page=2")
    assert status == 200
    assert json.loads(body) == {"front": True, "uri": "/blog/2026/hello?page=2", "script": "/index.php", "app": "site"}
    assert json.loads(get(php, "site", "/")[1])["front"] is True


def test_a_symlink_in_the_web_root_is_followed_as_nginx_does(php):
    assert get(php, "site", "/files/note.txt") == (200, "kept outside the web root, linked in\n")


def test_a_nul_byte_in_the_path_is_a_bad_request(php):
    assert get(php, "site", "/x%00.php")[0] == 400


def test_nothing_outside_the_web_root_is_served(php):
    status, body = get(php, "site", "/../secret.php")
    assert "outside the web root" not in body
    status, body = get(php, "site", "/%2e%2e/secret.php")
    assert "outside the web root" not in body


def test_a_static_site_serves_its_files_and_404s_the_rest(deploy):
    docs = deploy(PROJECTS / "staticsite")
    docs.ok("up", timeout=900)
    assert get(docs, "docs", "/") == (200, "<h1>docs</h1>\n")
    assert get(docs, "docs", "/missing.html")[0] == 404
