"""`PLATFORM_RELATIONSHIPS` and the per-relationship env vars, in the platform's exact shape.

Each relationship becomes a list with one endpoint object whose keys follow the platform's (service,
type, rel, scheme, host, hostname, ip, instance_ips, port, username, password, path, query, fragment,
cluster, public, host_mapped, epoch); families that have no credentials or path (memcached, kafka,
plain HTTP services) leave those keys out, as the platform does. Passwords come from `credentials`, a
mapping the caller owns, so translation stays pure.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any, Mapping

from orchestrator.catalog import service_types
from orchestrator.config.model import App, Endpoint, Relationship, Service
from orchestrator.webserver import WEB_PORT

APP_PORT = 8888  # where the app itself listens ($PORT), behind its web server (WEB_PORT, which other
                 # apps reach over an `app:http` relationship)
Credentials = Mapping[tuple[str, str], str]
_NO_CREDENTIALS = {"memcached", "kafka", "http", "varnish"}
_NO_PATH = {"memcached", "kafka", "http", "varnish"}
_SHORT_TAIL = {"memcached", "kafka", "mongodb"}  # the platform sends these without fragment/public/host_mapped


def derived_password(project: str, service: str, endpoint: str) -> str:
    """A stable stand-in password for a service endpoint when the caller keeps no stored secrets."""
    return hashlib.sha256(f"orchestrator:{project}:{service}:{endpoint}".encode()).hexdigest()[:20]


def uses_default_endpoint(service: Service) -> bool:
    """True when the config defines no schemas, databases or endpoints: the platform's default endpoint
    (e.g. MariaDB's `user` with an empty password) is the only one."""
    return not any(service.configuration.get(key) for key in ("endpoints", "schemas", "databases"))


def _credentials_for(service: Service, endpoint: Endpoint, is_default: bool, password: str) -> dict[str, Any]:
    family = service_types()[service.type].family
    if family == "mysql":
        if is_default:
            return {"username": "user", "password": "", "path": endpoint.schema or "main",
                    "query": {"is_master": True}}
        return {"username": endpoint.name, "password": password, "path": endpoint.schema or "main",
                "query": {"is_master": True}}
    if family == "postgresql":
        return {"username": "main" if is_default else endpoint.name, "password": password,
                "path": endpoint.schema or "main", "query": {"is_master": True}}
    if service.type in ("rabbitmq",):
        return {"username": "guest", "password": password, "path": None, "query": []}
    if service.type.startswith("mongodb"):
        return {"username": "main", "password": password, "path": "main", "query": {"is_master": True}}
    if service.type == "influxdb":
        return {"username": "admin", "password": password, "path": None,
                "query": {"org": "main", "bucket": "main", "api_token": password}}
    if service.type == "vault-kms":
        return {"username": "", "password": password, "path": "/", "query": []}
    if service.type in ("opensearch", "elasticsearch", "elasticsearch-enterprise"):
        auth = bool((service.configuration.get("authentication") or {}).get("enabled")) or \
            service.type == "elasticsearch-enterprise"
        return {"username": service.type.split("-")[0] if auth else None, "password": password if auth else None,
                "path": None, "query": []}
    if service.type == "solr":
        return {"username": None, "password": None, "path": endpoint.schema or "solr/collection1", "query": []}
    if service.type == "mercure":
        return {"username": None, "password": password, "path": None, "query": []}
    if service.type == "clickhouse":
        return {"username": "main", "password": password, "path": "main", "query": []}
    return {"username": None, "password": None, "path": None, "query": []}


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
    endpoints = {e.name: e for e in target.endpoints}
    wanted = rel.endpoint or (target.endpoints[0].name if target.endpoints else "")
    replica = wanted.endswith("-replica") and wanted not in endpoints
    endpoint = endpoints.get(wanted[: -len("-replica")] if replica else wanted, Endpoint(wanted, None))
    is_default = uses_default_endpoint(target)
    result: dict[str, Any] = {"service": target.name, "type": f"{target.type}:{target.version}", "rel": wanted,
                              "scheme": catalog.scheme, "host": host, "hostname": _hostname(target.name, project),
                              "ip": None, "instance_ips": [], "port": catalog.port}
    if catalog.family not in _NO_CREDENTIALS:
        password = _password(target, endpoint.name, project, credentials)
        extra = _credentials_for(target, endpoint, is_default, password)
        if (replica or target.replica) and isinstance(extra.get("query"), dict):
            extra["query"] = {"is_master": False}
        if catalog.family in _NO_PATH:
            extra.pop("path", None)
        result.update(extra)
    if catalog.family in _SHORT_TAIL:
        result.update({"cluster": common_tail["cluster"], "epoch": common_tail["epoch"]})
    else:
        result.update(common_tail)
    if target.type == "gotenberg":
        result["url"] = f"http://{host}:{catalog.port}"
    return result


def _password(service: Service, endpoint: str, project: str, credentials: Credentials) -> str:
    """An endpoint's password; a replica's endpoints are its primary's users, so they have their passwords."""
    owner = service.credentials_owner
    return credentials.get((owner, endpoint)) or derived_password(project, owner, endpoint)


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
    """The credentials a service's image expects, matching what its default endpoint's relationship says.

    `services` (the project's, by name) tells a primary which replicas stream from it, since it creates
    the users their endpoints name, and tells a replica its primary."""
    if not service.endpoints:
        return {}
    if service.replica:
        return replica_env(service, project, credentials, services or {})
    replicas = tuple(s for s in (services or {}).values() if s.primary is not None and s.primary.service == service.name)
    endpoint = service.endpoints[0]
    password = _password(service, endpoint.name, project, credentials)
    is_default = uses_default_endpoint(service)
    shape = _credentials_for(service, endpoint, is_default, password)
    values = {"username": shape.get("username") or "", "password": shape.get("password") or "",
              "path": shape.get("path") or "main"}
    env = {name: template.format(**values) for name, template in service_types()[service.type].env}
    if service.type in ("mariadb", "mysql", "oracle-mysql"):
        env["ORCHESTRATOR_INIT_SQL"] = mysql_init_sql(service, project, credentials)
        if any(e.can_replicate for e in service.endpoints):  # replicas read its binary log
            env["ORCHESTRATOR_BINARY_LOG"] = "1"
    elif service.type == "postgresql" and not is_default:
        env["ORCHESTRATOR_INIT_SQL"] = postgresql_init_sql(service, project, credentials, replicas)
    if service.type == "postgresql" and service.configuration.get("extensions"):
        env["ORCHESTRATOR_EXTENSIONS"] = " ".join(str(e) for e in service.configuration["extensions"])
    if service.type == "rabbitmq" and service.configuration.get("vhosts"):
        env["ORCHESTRATOR_VHOSTS"] = " ".join(str(v) for v in service.configuration["vhosts"])
    return env


def replica_env(replica: Service, project: str, credentials: Credentials,
                services: Mapping[str, Service]) -> dict[str, str]:
    """What a replica's stand-in needs to stream from its primary: the `primary` relationship's host, the
    user and password of the primary's replication endpoint, and a name of its own on the primary (its
    PostgreSQL replication slot, its MariaDB server id). A MariaDB replica also makes its own users (a
    copy of the primary's schemas carries none) and copies only the schemas that user may read."""
    rel = replica.primary
    primary = services.get(rel.service) if rel is not None else None
    if rel is None or primary is None:  # validation refuses a replica without a primary
        return {}
    endpoint = next((e for e in primary.endpoints if e.name == rel.endpoint), primary.endpoints[0])
    name = re.sub(r"[^a-z0-9_]", "_", replica.name.lower())
    env = {"ORCHESTRATOR_PRIMARY_HOST": f"{rel.name}.internal",
           "ORCHESTRATOR_PRIMARY_PORT": str(service_types()[replica.type].port),
           "ORCHESTRATOR_PRIMARY_USER": endpoint.name,
           "ORCHESTRATOR_PRIMARY_PASSWORD": _password(primary, endpoint.name, project, credentials)}
    if service_types()[replica.type].family == "mysql":
        env["ORCHESTRATOR_INIT_SQL"] = mysql_init_sql(replica, project, credentials)
        env["ORCHESTRATOR_REPLICA_SCHEMAS"] = " ".join(sorted(endpoint.privileges))
        env["ORCHESTRATOR_SERVER_ID"] = str(2 + int(hashlib.sha256(name.encode()).hexdigest()[:7], 16))
    else:
        env["ORCHESTRATOR_REPLICA_SLOT"] = f"replica_{name}"
    return env


def replica_users(primary: Service, replicas: tuple[Service, ...]) -> tuple[Endpoint, ...]:
    """The users a primary creates for its replicas: an endpoint of a replica is the primary's user of the
    same name (a streamed copy has only the primary's users), so each name the primary lacks becomes a
    read-only user of the schemas that endpoint names."""
    own = {e.name for e in primary.endpoints}
    schemas: dict[str, dict[str, str]] = {}
    for replica in replicas:
        for endpoint in replica.endpoints:
            if endpoint.name not in own:
                named = ([endpoint.schema] if endpoint.schema else []) + list(endpoint.privileges)
                schemas.setdefault(endpoint.name, {}).update({schema: "ro" for schema in named or ["main"]})
    return tuple(Endpoint(name, next(iter(levels)), levels) for name, levels in sorted(schemas.items()))


MYSQL_GRANTS = {
    "ro": "SELECT, SHOW VIEW",
    "rw": "SELECT, INSERT, UPDATE, DELETE, CREATE TEMPORARY TABLES, LOCK TABLES, EXECUTE, SHOW VIEW",
    "admin": "ALL PRIVILEGES",
}


def _sql_text(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


def mysql_init_sql(service: Service, project: str, credentials: Credentials) -> str:
    """Idempotent SQL that makes a MariaDB/MySQL server match the service's schemas and endpoints:
    each endpoint is a user (its name; `user` with an empty password for the default endpoint) with the
    privileges its config grants. Run at every start, so a changed config is applied on the next deploy."""
    schemas = service.configuration.get("schemas") or ["main"]
    is_default = uses_default_endpoint(service)
    lines = [f"CREATE DATABASE IF NOT EXISTS `{schema}`;" for schema in schemas]
    for endpoint in service.endpoints:
        if is_default:
            user, password = "user", ""
        else:
            user = endpoint.name
            password = _password(service, endpoint.name, project, credentials)
        lines.append(f"CREATE USER IF NOT EXISTS {_sql_text(user)}@'%' IDENTIFIED BY {_sql_text(password)};")
        lines.append(f"ALTER USER {_sql_text(user)}@'%' IDENTIFIED BY {_sql_text(password)};")
        for schema, level in endpoint.privileges.items():
            if level in MYSQL_GRANTS:
                lines.append(f"GRANT {MYSQL_GRANTS[level]} ON `{schema}`.* TO {_sql_text(user)}@'%';")
            else:  # replication, replication-admin: read and lock the schema (a replica's first copy), stream the log
                lines.append(f"GRANT SELECT, LOCK TABLES, SHOW VIEW ON `{schema}`.* TO {_sql_text(user)}@'%';")
                lines.append(f"GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO {_sql_text(user)}@'%';")
    return "\n".join(lines) + "\n"


POSTGRESQL_GRANTS = {
    "ro": ("SELECT", "USAGE, SELECT"),
    "rw": ("SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER", "USAGE, SELECT, UPDATE"),
    "admin": ("ALL PRIVILEGES", "ALL PRIVILEGES"),
}


def postgresql_init_sql(service: Service, project: str, credentials: Credentials,
                        replicas: tuple[Service, ...] = ()) -> str:
    """A psql script, applied at every start (it is idempotent), that makes every database of `databases`
    and a login role per endpoint with the privileges its config grants, including the users of the
    replicas that stream from it (replica_users)."""
    def ident(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'
    databases = service.configuration.get("databases") or ["main"]
    endpoints = service.endpoints + replica_users(service, replicas)
    lines = []
    for database in databases:
        lines.append(f"SELECT 'CREATE DATABASE {ident(database)}' WHERE NOT EXISTS "
                     f"(SELECT FROM pg_database WHERE datname = {_sql_text(database)})\\gexec")
    for endpoint in endpoints:
        password = _password(service, endpoint.name, project, credentials)
        lines.append(f"SELECT 'CREATE ROLE {ident(endpoint.name)} LOGIN' WHERE NOT EXISTS "
                     f"(SELECT FROM pg_roles WHERE rolname = {_sql_text(endpoint.name)})\\gexec")
        lines.append(f"ALTER ROLE {ident(endpoint.name)} LOGIN {'' if endpoint.replication else 'NO'}REPLICATION "
                     f"PASSWORD {_sql_text(password)};")
    for database in databases:
        lines.append(f"\\connect {ident(database)}")
        for endpoint in endpoints:
            level = endpoint.privileges.get(database)
            if level not in POSTGRESQL_GRANTS:
                continue
            tables, sequences = POSTGRESQL_GRANTS[level]
            role = ident(endpoint.name)
            lines.append(f"GRANT CONNECT ON DATABASE {ident(database)} TO {role};")
            lines.append(f"GRANT {'ALL' if level == 'admin' else 'USAGE'} ON SCHEMA public TO {role};")
            lines.append(f"GRANT {tables} ON ALL TABLES IN SCHEMA public TO {role};")
            lines.append(f"GRANT {sequences} ON ALL SEQUENCES IN SCHEMA public TO {role};")
            creators = [ident(e.name) for e in service.endpoints if e.privileges.get(database) in ("rw", "admin")]
            for creator in ["postgres"] + creators:  # tables any writer creates later are granted too
                lines.append(f"ALTER DEFAULT PRIVILEGES FOR ROLE {creator} IN SCHEMA public "
                             f"GRANT {tables} ON TABLES TO {role};")
            if level == "admin":
                lines.append(f"GRANT ALL PRIVILEGES ON DATABASE {ident(database)} TO {role};")
    return "\n".join(lines) + "\n"
