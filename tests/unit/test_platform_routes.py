"""PLATFORM_ROUTES and the router's config from routes.yaml: which route serves a URL, and where redirects go."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from orchestrator.config.validate import load_project
from orchestrator.plan import Environment, translate

ENV = Environment("main", "production", "shop.localhost", 20000, 20001)
APP = "name: app\ntype: 'python:3.11'\nweb:\n  commands:\n    start: python3 web.py\n"


def plan_of(tmp_path: Path, routes: str):
    (tmp_path / ".platform").mkdir(exist_ok=True)
    (tmp_path / ".platform" / "routes.yaml").write_text(routes)
    (tmp_path / ".platform.app.yaml").write_text(APP)
    project, _ = load_project(tmp_path, name="shop")
    return translate(project, ENV)


def platform_routes(plan) -> dict:
    return json.loads(base64.b64decode(plan.instance("app").env["PLATFORM_ROUTES"]))


def router_conf(plan) -> str:
    return base64.b64decode(plan.instance("router").env["ORCHESTRATOR_ROUTER_CONF"]).decode()


DEFAULT_UPSTREAM = '"https://{default}/": {type: upstream, upstream: "app:http"}\n'
ALL_REDIRECT = '"https://{all}/": {type: redirect, to: "https://www.{default}/"}\n'


@pytest.mark.parametrize("routes", [DEFAULT_UPSTREAM + ALL_REDIRECT, ALL_REDIRECT + DEFAULT_UPSTREAM],
                         ids=["default-first", "all-first"])
def test_the_default_route_beats_the_all_route_for_the_same_url_whatever_the_order(tmp_path, routes):
    plan = plan_of(tmp_path, routes)
    served = platform_routes(plan)["https://shop.localhost/"]
    assert (served["type"], served["upstream"], served["primary"], served["original_url"]) == \
        ("upstream", "app", True, "https://{default}/")
    assert [(r.url, r.type, r.upstream) for r in plan.routes if r.url.startswith("https://")] == \
        [("https://shop.localhost/", "upstream", "app")]
    config = router_conf(plan)
    assert "set $upstream2 web-app;" in config and "www.shop.localhost" not in config


def test_an_all_route_alone_still_serves_its_url(tmp_path):
    served = platform_routes(plan_of(tmp_path, '"https://{all}/": {type: upstream, upstream: "app:http"}\n'))
    assert served["https://shop.localhost/"]["primary"] is True


def test_a_redirect_to_another_site_is_kept_as_written(tmp_path):
    plan = plan_of(tmp_path, DEFAULT_UPSTREAM +
                   '"https://code.{default}/": {type: redirect, to: "https://github.com/example/shop"}\n'
                   '"https://docs.{default}/": {type: redirect, to: "https://docs.example.org/guide/"}\n')
    routes = platform_routes(plan)
    assert routes["https://code.shop.localhost/"]["to"] == "https://github.com/example/shop"
    assert routes["https://docs.shop.localhost/"]["to"] == "https://docs.example.org/guide/"
    config = router_conf(plan)
    assert 'return 301 "https://github.com/example/shop";' in config
    assert 'return 301 "https://docs.example.org/guide/";' in config
    assert "github.com.shop.localhost" not in config and "docs.example.org.shop.localhost" not in config


def test_a_redirect_to_a_template_or_to_a_host_the_project_routes_stays_in_the_environment(tmp_path):
    plan = plan_of(tmp_path, '"https://www.example.com/": {type: upstream, upstream: "app:http"}\n'
                             '"https://example.com/": {type: redirect, to: "https://www.example.com/"}\n'
                             '"https://old.{default}/": {type: redirect, to: "https://{default}/new/"}\n')
    routes = platform_routes(plan)
    assert routes["https://example.com.shop.localhost/"]["to"] == "https://www.example.com.shop.localhost/"
    assert routes["https://old.shop.localhost/"]["to"] == "https://shop.localhost/new/"
    assert 'return 301 "https://shop.localhost:20001/new/";' in router_conf(plan)
