"""What each kind of service means for its credentials and for its own container, in one object per kind.

The platform groups service types into families (MariaDB, MySQL and Oracle MySQL behave alike; so do
the search engines) and a family decides the shape of a relationship's credentials, which keys the
relationship leaves out, and what the service's container must be told at its first start (users and
schemas as SQL, extensions, vhosts) or, for a replica, to stream from its primary. Kept here, one object
per family, a new service type is a catalogue entry that names its family, plus an override only where
the type really differs from its family; `relationships` asks the family instead of branching on
`service.type`. Every password goes through `password_of`, so a replica's users and its primary's agree.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from orchestrator.catalog import service_types
from orchestrator.config.model import Endpoint, Service

Credentials = Mapping[tuple[str, str], str]  # (credentials owner, endpoint name) -> stored password


def derived_password(project: str, service: str, endpoint: str) -> str:
    """A stable stand-in password for a service endpoint when the caller keeps no stored secrets."""
    return hashlib.sha256(f"orchestrator:{project}:{service}:{endpoint}".encode()).hexdigest()[:20]


def password_of(service: Service, endpoint: str, project: str, credentials: Credentials) -> str:
    """An endpoint's password: the stored one, else the derived one. A replica's endpoints are its
    primary's users, so both are looked up under the primary's name (`credentials_owner`)."""
    owner = service.credentials_owner
    return credentials.get((owner, endpoint)) or derived_password(project, owner, endpoint)


def uses_default_endpoint(service: Service) -> bool:
    """True when the config defines no schemas, databases or endpoints: the platform's default endpoint
    (e.g. MariaDB's `user` with an empty password) is the only one."""
    return not any(service.configuration.get(key) for key in ("endpoints", "schemas", "databases"))


def _replica_name(replica: Service) -> str:
    """The replica's name as an SQL-safe word, for the names it holds on its primary."""
    return re.sub(r"[^a-z0-9_]", "_", replica.name.lower())


@dataclass(frozen=True)
class ServiceFamily:
    """The rules of one kind of service. The fields describe the common case (fixed credentials, one
    list setting or two passed as env); a family whose rules depend on the endpoint or the config is a
    subclass that overrides the method concerned."""

    has_credentials: bool = True  # its relationship lists username, password, path and query
    has_path: bool = True  # ... and, of those, path
    short_tail: bool = False  # the platform sends it without fragment, public and host_mapped
    advertises_url: bool = False  # its relationship carries a ready-made `url`
    username: str | None = None
    sends_password: bool = False
    path: str | None = None  # the path, or with `path_from_schema` the one used when the endpoint names none
    path_from_schema: bool = False
    master_query: bool = False  # its query is `{"is_master": true}` (false through a replica) instead of []
    listed_settings: tuple[tuple[str, str], ...] = ()  # (config key, env var): a list passed space-separated

    def credentials(self, service: Service, endpoint: Endpoint, is_default: bool, password: str) -> dict[str, Any]:
        """The username, password, path and query a relationship to `endpoint` lists."""
        return {"username": self.username, "password": password if self.sends_password else None,
                "path": (endpoint.schema or self.path) if self.path_from_schema else self.path,
                "query": {"is_master": True} if self.master_query else []}

    def extra_fields(self, host: str, port: int | None) -> dict[str, Any]:
        """Keys the relationship adds after the common ones."""
        return {"url": f"http://{host}:{port}"} if self.advertises_url else {}

    def server_env(self, service: Service, project: str, credentials: Credentials,
                   replicas: tuple[Service, ...]) -> dict[str, str]:
        """What a primary's container needs besides its image's own env: here, its listed settings."""
        return {env: " ".join(str(value) for value in service.configuration[key])
                for key, env in self.listed_settings if service.configuration.get(key)}

    def replica_env(self, replica: Service, endpoint: Endpoint, project: str,
                    credentials: Credentials) -> dict[str, str]:
        """What a replica of this family needs, besides its primary's address and replication user, to
        stream from it (`endpoint` is the primary's replication endpoint)."""
        return {}


def _mysql_login(endpoint: Endpoint, is_default: bool, password: str) -> tuple[str, str]:
    """The MySQL user an endpoint is: the platform's default endpoint is `user` with an empty password."""
    return ("user", "") if is_default else (endpoint.name, password)


@dataclass(frozen=True)
class MysqlFamily(ServiceFamily):
    """MariaDB, MySQL and Oracle MySQL: a user per endpoint, made by SQL the container runs at each start."""

    def credentials(self, service: Service, endpoint: Endpoint, is_default: bool, password: str) -> dict[str, Any]:
        username, password = _mysql_login(endpoint, is_default, password)
        return {**super().credentials(service, endpoint, is_default, password),
                "username": username, "password": password}

    def server_env(self, service: Service, project: str, credentials: Credentials,
                   replicas: tuple[Service, ...]) -> dict[str, str]:
        env = {"ORCHESTRATOR_INIT_SQL": mysql_init_sql(service, project, credentials)}
        if any(e.can_replicate for e in service.endpoints):  # replicas read its binary log
            env["ORCHESTRATOR_BINARY_LOG"] = "1"
        return env

    def replica_env(self, replica: Service, endpoint: Endpoint, project: str,
                    credentials: Credentials) -> dict[str, str]:
        """A copy of the primary's schemas carries no users, so the replica makes its own; it copies only
        the schemas its replication user may read, and needs a server id of its own."""
        server_id = 2 + int(hashlib.sha256(_replica_name(replica).encode()).hexdigest()[:7], 16)
        return {"ORCHESTRATOR_INIT_SQL": mysql_init_sql(replica, project, credentials),
                "ORCHESTRATOR_REPLICA_SCHEMAS": " ".join(sorted(endpoint.privileges)),
                "ORCHESTRATOR_SERVER_ID": str(server_id)}


@dataclass(frozen=True)
class PostgresqlFamily(ServiceFamily):
    """PostgreSQL: a login role per endpoint (`main` for the default one); replicas stream from a slot."""

    def credentials(self, service: Service, endpoint: Endpoint, is_default: bool, password: str) -> dict[str, Any]:
        return {**super().credentials(service, endpoint, is_default, password),
                "username": "main" if is_default else endpoint.name}

    def server_env(self, service: Service, project: str, credentials: Credentials,
                   replicas: tuple[Service, ...]) -> dict[str, str]:
        """The image makes the default endpoint's role itself; any other endpoint needs the init SQL."""
        env = {}
        if not uses_default_endpoint(service):
            env["ORCHESTRATOR_INIT_SQL"] = postgresql_init_sql(service, project, credentials, replicas)
        return {**env, **super().server_env(service, project, credentials, replicas)}

    def replica_env(self, replica: Service, endpoint: Endpoint, project: str,
                    credentials: Credentials) -> dict[str, str]:
        return {"ORCHESTRATOR_REPLICA_SLOT": f"replica_{_replica_name(replica)}"}


@dataclass(frozen=True)
class InfluxdbFamily(ServiceFamily):
    """InfluxDB 2: the password doubles as the API token of the `main` org and bucket."""

    def credentials(self, service: Service, endpoint: Endpoint, is_default: bool, password: str) -> dict[str, Any]:
        return {**super().credentials(service, endpoint, is_default, password),
                "query": {"org": "main", "bucket": "main", "api_token": password}}


@dataclass(frozen=True)
class SearchFamily(ServiceFamily):
    """Elasticsearch and OpenSearch: credentials only with authentication on, the user named after the
    engine (the type's first word)."""

    always_authenticated: bool = False  # Elasticsearch Enterprise cannot turn authentication off

    def credentials(self, service: Service, endpoint: Endpoint, is_default: bool, password: str) -> dict[str, Any]:
        enabled = bool((service.configuration.get("authentication") or {}).get("enabled"))
        auth = enabled or self.always_authenticated
        return {**super().credentials(service, endpoint, is_default, password),
                "username": service.type.split("-")[0] if auth else None, "password": password if auth else None}


_WITHOUT_CREDENTIALS = ServiceFamily(has_credentials=False, has_path=False)

FAMILIES: dict[str, ServiceFamily] = {  # by the catalogue's `family`
    "mysql": MysqlFamily(sends_password=True, path="main", path_from_schema=True, master_query=True),
    "postgresql": PostgresqlFamily(sends_password=True, path="main", path_from_schema=True, master_query=True,
                                   listed_settings=(("extensions", "ORCHESTRATOR_EXTENSIONS"),)),
    "mongodb": ServiceFamily(short_tail=True, username="main", sends_password=True, path="main", master_query=True),
    "rabbitmq": ServiceFamily(username="guest", sends_password=True,
                              listed_settings=(("vhosts", "ORCHESTRATOR_VHOSTS"),)),
    "influxdb": InfluxdbFamily(username="admin", sends_password=True),
    "vault": ServiceFamily(username="", sends_password=True, path="/"),
    "search": SearchFamily(),
    "solr": ServiceFamily(path="solr/collection1", path_from_schema=True),
    "mercure": ServiceFamily(sends_password=True),
    "clickhouse": ServiceFamily(username="main", sends_password=True, path="main"),
    "memcached": ServiceFamily(has_credentials=False, has_path=False, short_tail=True),
    "kafka": ServiceFamily(has_credentials=False, has_path=False, short_tail=True),
    "http": _WITHOUT_CREDENTIALS,
    "varnish": _WITHOUT_CREDENTIALS,
}
TYPE_OVERRIDES: dict[str, ServiceFamily] = {  # types that differ from their family
    "elasticsearch-enterprise": SearchFamily(always_authenticated=True),
    "gotenberg": ServiceFamily(has_credentials=False, has_path=False, advertises_url=True),
}
_PLAIN = ServiceFamily()  # redis, network storage: credentials all empty


@cache
def service_families() -> dict[str, ServiceFamily]:
    """Each service type of the catalogue with its family's rules."""
    return {name: TYPE_OVERRIDES.get(name) or FAMILIES.get(entry.family, _PLAIN)
            for name, entry in service_types().items()}


def family_of(service_type: str) -> ServiceFamily:
    """The rules of a catalogue service type (KeyError for a type the catalogue lacks)."""
    return service_families()[service_type]


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
        user, password = _mysql_login(endpoint, is_default, password_of(service, endpoint.name, project, credentials))
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
        password = password_of(service, endpoint.name, project, credentials)
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
