"""The platform's web layer, for real: a router serving routes.yaml at a stable local address, and nginx in
front of every web instance applying `web.locations`. One project (tests/engine/projects/routes) with four
apps: a static site that only sleeps, a Python app on a unix socket, one on 127.0.0.1:$PORT, and a PHP app
without a start command (PHP-FPM)."""

from __future__ import annotations

import json
import os

import pytest

from orchestrator.router import default_ports
from orchestrator.state import state_dir
from tests.engine.conftest import PROJECTS, get, route_url

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def routes(deploy):
    deployment = deploy(PROJECTS / "routes")
    deployment.first_up = deployment.ok("up", timeout=900)  # builds the PHP stand-in where none is cached
    return deployment


def test_up_prints_every_route_with_the_status_it_answered(routes):
    out = routes.first_up.stdout
    for url, app in ((route_url(routes), "site"), (route_url(routes, "/api/"), "api"),
                     (route_url(routes, host="local."), "local"), (route_url(routes, host="php."), "php")):
        assert f"route {url} -> app {app}: 200" in out, out
    assert f"route {route_url(routes, host='www.')} -> redirect to {route_url(routes)}" in out, out
    assert "warning" not in routes.first_up.stderr, routes.first_up.stderr


def test_a_static_site_that_only_sleeps_is_served_by_its_nginx_with_expires_and_headers(routes):
    answer = get(route_url(routes))
    assert (answer.status, answer.body) == (200, b"<h1>site</h1>\n")
    css = get(route_url(routes, "/static/style.css"))
    assert css.status == 200 and css.body == b"body { color: teal; }\n"
    assert css.headers["cache-control"] == "max-age=7200" and css.headers["x-served-by"] == "site-static"
    assert "expires" in css.headers
    assert get(route_url(routes, "/missing.html")).status == 404
    assert "cache-control" not in answer.headers  # `expires` belongs to /static only


def test_an_app_on_a_unix_socket_answers_under_its_path_with_the_hosts_and_scheme_it_was_asked(routes):
    answer = get(route_url(routes, "/api/things?x=1"))
    assert answer.status == 200, answer
    body = json.loads(answer.body)
    assert body["path"] == "/api/things?x=1" and body["proto"] == "https"
    assert body["host"] == f"{routes.name}.localhost:{default_ports(routes.name)[1]}"


def test_an_app_listening_on_loopback_only_is_reached_through_its_web_server(routes):
    answer = get(route_url(routes, host="local."))
    assert (answer.status, answer.body) == (200, b"local app on 127.0.0.1:8888\n")


def test_php_without_a_start_command_runs_on_php_fpm_with_the_locations_rules(routes):
    front = get(route_url(routes, "/blog/2026/hello?page=2", host="php."))
    assert front.status == 200, front
    body = json.loads(front.body)
    assert body == {"front": True, "uri": "/blog/2026/hello?page=2", "script": "/index.php",
                    "memory_limit": "99M", "sapi": "fpm-fcgi", "apcu": True, "calendar": False}
    cli = routes.ok("ssh", "--app", "php", "--", "php", "-r", "echo ini_get('memory_limit');").stdout
    assert cli == "99M"  # `variables.php` reach every PHP of the container, the CLI's too
    direct = get(route_url(routes, "/direct.php", host="php."))
    assert direct.status == 200 and direct.body.startswith(b"direct 8.")
    assert get(route_url(routes, "/keys.secret", host="php.")).status == 403  # a rule with allow: false
    assert get(route_url(routes, "/uploads/note.txt", host="php.")).body == b"uploaded file\n"
    script = get(route_url(routes, "/uploads/shell.php", host="php."))
    assert script.status == 403 and b"ran an uploaded script" not in script.body  # scripts: false
    assert get(route_url(routes, "/private/data.txt", host="php.")).status == 404  # allow: false, no passthru


def test_redirects_www_and_the_http_twin_of_every_https_route(routes):
    www = get(route_url(routes, "/anything", host="www."))
    assert www.status == 301 and www.headers["location"] == route_url(routes)
    twin = get(route_url(routes, "/api/x?y=1", scheme="http"))
    assert twin.status == 301 and twin.headers["location"] == route_url(routes, "/api/x?y=1")


def test_https_is_verified_by_the_local_ca_that_up_exported(routes):
    ca = state_dir() / "local-ca.crt"
    assert ca.is_file()
    answer = get(route_url(routes, "/api/ca"), ca_file=str(ca))
    assert answer.status == 200, answer.error
    assert get(route_url(routes, host="php."), ca_file=str(ca)).status == 200


def test_the_address_survives_a_redeploy_and_down_and_up(routes):
    ports = default_ports(routes.name)
    routes.edit('        memory_limit: 99M', '        memory_limit: 98M', file=".upsun/config.yaml")
    routes.ok("up")
    assert json.loads(get(route_url(routes, "/", host="php.")).body)["memory_limit"] == "98M"
    router = routes.container("router").attrs["NetworkSettings"]["Ports"]
    assert {int(router["80/tcp"][0]["HostPort"]), int(router["443/tcp"][0]["HostPort"])} == set(ports)
    routes.ok("down")
    again = routes.ok("up").stdout
    assert f"route {route_url(routes, '/api/')} -> app api: 200" in again, again
    assert get(route_url(routes, "/api/after")).status == 200


def test_a_route_whose_app_does_not_answer_is_a_warning_naming_it_with_its_logs(routes):
    routes.edit("        start: python3 server.py\n      locations:", "        start: python3 -c 'import missing_module'\n"
                "      locations:", file=".upsun/config.yaml")
    routes.env = {**os.environ, "ORCHESTRATOR_ROUTE_TIMEOUT": "8"}
    try:
        result = routes.cli("up", timeout=600)
    finally:
        routes.env = None
    assert result.returncode == 0, result.stderr  # the deploy itself worked, as on the platform
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning: route")]
    assert warning and route_url(routes, "/api/") in warning[0], result.stderr
    assert "web instance api" in result.stderr and "missing_module" in result.stderr, result.stderr
