"""PLATFORM_RELATIONSHIPS of every service family equals a fixture written from the platform reference's shape."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from orchestrator.config.validate import load_project
from orchestrator.plan import Environment, translate

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "relationships.json").read_text())
CONFIG = """\
applications:
  app:
    type: "python:3.12"
    web: {commands: {start: python3 web.py}}
    relationships:
      database: "db:mysql"
      oracle: "oracle:mysql"
      reports: {service: reporting, endpoint: reporter}
      pg: "pg:postgresql"
      cache: "cache:redis"
      sessions: "sessions:redis"
      kv: "kv:valkey"
      memc: "memc:memcached"
      mq: "mq:rabbitmq"
      search: "os:opensearch"
      es: "es:elasticsearch"
      solr: "solr:main"
      mongo: "mongo:mongodb"
      kafka: "kafka:kafka"
      influx: "influx:influxdb"
      chrome: "chrome:http"
      pdf: "pdf:http"
services:
  db: {type: "mariadb:11.4"}
  oracle: {type: "oracle-mysql:8.0"}
  reporting:
    type: "mariadb:11.4"
    configuration:
      schemas: [analytics]
      endpoints:
        reporter: {default_schema: analytics, privileges: {analytics: ro}}
  pg: {type: "postgresql:17"}
  cache: {type: "redis:7.2"}
  sessions: {type: "redis-persistent:7.2"}
  kv: {type: "valkey:8.0"}
  memc: {type: "memcached:1.6"}
  mq: {type: "rabbitmq:4.1"}
  os: {type: "opensearch:3"}
  es: {type: "elasticsearch:7.10"}
  solr:
    type: "solr:9.9"
    configuration:
      cores: {mainindex: {}}
      endpoints: {main: {core: mainindex}}
  mongo: {type: "mongodb-enterprise:7.0"}
  kafka: {type: "kafka:3.7"}
  influx: {type: "influxdb:2.7"}
  chrome: {type: "chrome-headless:120"}
  pdf: {type: "gotenberg:8"}
"""


@pytest.fixture(scope="module")
def relationships(tmp_path_factory):
    root = tmp_path_factory.mktemp("proj")
    (root / ".upsun").mkdir()
    (root / ".upsun" / "config.yaml").write_text(CONFIG)
    project, _ = load_project(root, name="proj")
    plan = translate(project, Environment("main", "production", "proj.localhost"))
    return json.loads(base64.b64decode(plan.instance("app").env["PLATFORM_RELATIONSHIPS"]))


def normalised(endpoint: dict) -> dict:
    result = dict(endpoint)
    result["hostname"] = "<hostname>"
    if result.get("password"):
        result["password"] = "<generated>"
    if isinstance(result.get("query"), dict) and result["query"].get("api_token"):
        result["query"] = {**result["query"], "api_token": "<generated>"}
    return result


@pytest.mark.parametrize("name", [k for k in FIXTURE if not k.startswith("_")])
def test_relationship_json_matches_the_reference_shape(relationships, name):
    assert [normalised(e) for e in relationships[name]] == [FIXTURE[name]]
    assert list(relationships[name][0]) == list(FIXTURE[name])  # key order too
