"""`PLATFORM_RELATIONSHIPS` and the per-relationship env vars, in the platform's exact shape.

Each relationship becomes a list with one endpoint object whose keys follow the platform's (service,
type, rel, scheme, host, hostname, ip, instance_ips, port, username, password, path, query, fragment,
cluster, public, host_mapped, epoch). What depends on the kind of service (the credentials' shape, the
keys some families leave out, a service's own first-start env) is asked of its family
(`service_families`), so this module only assembles. Passwords come from `credentials`, a mapping the
caller owns, so translation stays pure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from orchestrator.catalog import service_types
from orchestrator.config.model import App, Endpoint, Relationship, Service
from orchestrator.service_families import (
    Credentials,
    derived_password,
    family_of,
    password_of,
    uses_default_endpoint,
)
from orchestrator.webserver import WEB_PORT

__all__ = [
    "APP_PORT",
    "Credentials",
    "derived_password",
    "encode",
    "endpoint_object",
    "env_prefix",
    "password_of",
    "relationship_env",
    "relationships_json",
    "replica_env",
    "service_env",
    "url_of",
    "uses_default_endpoint",
]

APP_PORT = 8888  # where the app itself listens ($PORT), behind its web server (WEB_PORT, which other
                 # apps reach over an `app:http` relationship)


def endpoint_object(rel: Relationship, target: Service | App, project: str, environment: str,
                    credentials: Credentials) -> dict[str, Any]:
    """The one endpoint object the platform lists under `rel.name`."""
    host = f"{rel.name}.internal"
    common_tail = {"fragment": None, "cluster": f"{project}-{environment}", "public": False,
                   "host_mapped": False, "epoch": 0}
    if isinstance(target, App):
        return {"service": target.name, "type": f"{target.runtime.name}:{target.runtime.version}", "rel": "http",
                "scheme": "http", "host": host, "hostname": _hostname(target.name, project),
                "ip": None, "instance_ips": [], "port": WEB_PORT, "username": None, "password": None,
                "path": None, "query": [], **common_tail}
    catalog = service_types()[target.type]
    family = family_of(target.type)
    wanted, endpoint, replica = _named_endpoint(rel, target)
    result: dict[str, Any] = {"service": target.name, "type": f"{target.type}:{target.version}", "rel": wanted,
                              "scheme": catalog.scheme, "host": host, "hostname": _hostname(target.name, project),
                              "ip": None, "instance_ips": [], "port": catalog.port}
    if family.has_credentials:
        password = password_of(target, endpoint.name, project, credentials)
        extra = family.credentials(target, endpoint, uses_default_endpoint(target), password)
        if (replica or target.replica) and isinstance(extra.get("query"), dict):
            extra["query"] = {"is_master": False}
        if not family.has_path:
            extra.pop("path", None)
        result.update(extra)
    if family.short_tail:
        result.update({"cluster": common_tail["cluster"], "epoch": common_tail["epoch"]})
    else:
        result.update(common_tail)
    result.update(family.extra_fields(host, catalog.port))
    return result


def _named_endpoint(rel: Relationship, target: Service) -> tuple[str, Endpoint, bool]:
    """The endpoint name a relationship asks for (the target's first when it names none), the endpoint
    it opens, and whether it asks for `<endpoint>-replica`, the read-only side of an endpoint."""
    endpoints = {e.name: e for e in target.endpoints}
    wanted = rel.endpoint or (target.endpoints[0].name if target.endpoints else "")
    replica = wanted.endswith("-replica") and wanted not in endpoints
    endpoint = endpoints.get(wanted[: -len("-replica")] if replica else wanted, Endpoint(wanted, None))
    return wanted, endpoint, replica


def _hostname(name: str, project: str) -> str:
    digest = hashlib.sha256(f"{project}:{name}".encode()).hexdigest()[:26]
    return f"{digest}.{name}.service._.local"


def relationships_json(relationships: tuple[Relationship, ...], services: dict[str, Service], apps: dict[str, App],
                       project: str, environment: str, credentials: Credentials) -> dict[str, list[dict[str, Any]]]:
    result: dict[str, list[dict[str, Any]]] = {}
    for rel in relationships:
        target: Service | App | None = services.get(rel.service) or apps.get(rel.service)
        if target is not None:
            result[rel.name] = [endpoint_object(rel, target, project, environment, credentials)]
    return result


def encode(value: Any) -> str:
    """base64 of compact JSON, as the platform encodes its PLATFORM_* objects."""
    return base64.b64encode(json.dumps(value, separators=(",", ":")).encode("utf-8")).decode("ascii")


def url_of(endpoint: dict[str, Any]) -> str:
    userinfo = ""
    if endpoint.get("username"):
        userinfo = endpoint["username"] + (f":{endpoint['password']}" if endpoint.get("password") else "") + "@"
    path = f"/{endpoint['path']}" if endpoint.get("path") else ""
    return f"{endpoint['scheme']}://{userinfo}{endpoint['host']}:{endpoint['port']}{path}"


def env_prefix(name: str) -> str:
    return re.sub(r"[^0-9A-Z_]", "_", name.upper())


def relationship_env(relationships: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """`<REL>_HOST`, `_PORT`, `_URL`, ... for each relationship, as Upsun sets them."""
    env: dict[str, str] = {}
    for name, endpoints in relationships.items():
        endpoint = endpoints[0]
        prefix = env_prefix(name)
        for key, value in endpoint.items():
            env[f"{prefix}_{key.upper()}"] = _env_text(value)
        if endpoint.get("path") is not None:
            env[f"{prefix}_NAME"] = str(endpoint["path"])
        env[f"{prefix}_URL"] = url_of(endpoint)
    return env


def _env_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return repr(value)
    return str(value)


def service_env(service: Service, project: str, credentials: Credentials,
                services: Mapping[str, Service] | None = None) -> dict[str, str]:
    """The credentials a service's image expects, matching what its default endpoint's relationship says,
    and what its family adds (users and schemas as SQL, extensions, vhosts).

    `services` (the project's, by name) tells a primary which replicas stream from it, since it creates
    the users their endpoints name, and tells a replica its primary."""
    if not service.endpoints:
        return {}
    if service.replica:
        return replica_env(service, project, credentials, services or {})
    replicas = tuple(s for s in (services or {}).values()
                     if s.primary is not None and s.primary.service == service.name)
    endpoint = service.endpoints[0]
    family = family_of(service.type)
    password = password_of(service, endpoint.name, project, credentials)
    shape = family.credentials(service, endpoint, uses_default_endpoint(service), password)
    values = {"username": shape.get("username") or "", "password": shape.get("password") or "",
              "path": shape.get("path") or "main"}
    env = {name: template.format(**values) for name, template in service_types()[service.type].env}
    env.update(family.server_env(service, project, credentials, replicas))
    return env


def replica_env(replica: Service, project: str, credentials: Credentials,
                services: Mapping[str, Service]) -> dict[str, str]:
    """What a replica's stand-in needs to stream from its primary: the `primary` relationship's host, the
    user and password of the primary's replication endpoint, and what its family adds (a PostgreSQL
    replication slot; a MariaDB server id, users and the schemas to copy)."""
    rel = replica.primary
    primary = services.get(rel.service) if rel is not None else None
    if rel is None or primary is None:  # validation refuses a replica without a primary
        return {}
    endpoint = next((e for e in primary.endpoints if e.name == rel.endpoint), primary.endpoints[0])
    env = {"ORCHESTRATOR_PRIMARY_HOST": f"{rel.name}.internal",
           "ORCHESTRATOR_PRIMARY_PORT": str(service_types()[replica.type].port),
           "ORCHESTRATOR_PRIMARY_USER": endpoint.name,
           "ORCHESTRATOR_PRIMARY_PASSWORD": password_of(primary, endpoint.name, project, credentials)}
    env.update(family_of(replica.type).replica_env(replica, endpoint, project, credentials))
    return env
