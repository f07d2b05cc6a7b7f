"""Validate `services` entries into `Service`, including each type's endpoints and `configuration`.

Endpoints matter beyond the service itself: a relationship names one, so a MariaDB or PostgreSQL
service's `configuration.endpoints` (with the schemas they may touch) is checked here and kept.
"""

from __future__ import annotations

import difflib
import re

from orchestrator.catalog import PROFILES, SIZES, ServiceType, service_types
from orchestrator.config.checks import Node, plain
from orchestrator.config.relationships import parse_relationships
from orchestrator.config.model import Endpoint, Service

SERVICE_KEYS = ("type", "disk", "size", "container_profile", "configuration", "relationships")
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MYSQL_PRIVILEGES = ("ro", "rw", "admin", "replication", "replication-admin")
POSTGRESQL_PRIVILEGES = ("ro", "rw", "admin")
REDIS_POLICIES = ("allkeys-lru", "noeviction", "allkeys-lfu", "volatile-lru", "volatile-lfu",
                  "allkeys-random", "volatile-random", "volatile-ttl")


def parse_type(node: Node, known: dict) -> tuple[str, str] | None:
    """`name:version` -> (name, version), checked against the catalogue."""
    text = node.as_string()
    if text is None:
        return None
    name, sep, version = text.partition(":")
    if not sep or not version:
        node.error(f"'{text}' must be written `type:version`", "e.g. `mariadb:11.4`")
        return None
    if name not in known:
        close = difflib.get_close_matches(name, known, n=1)  # `postgres-replica`, as a docs example writes it
        node.error(f"unknown service type '{name}'",
                   (f"did you mean '{close[0]}'? " if close else "") + f"known types: {', '.join(sorted(known))}")
        return None
    if version not in known[name].versions:
        node.error(f"unknown version '{version}' of {name}", f"known versions: {', '.join(known[name].versions)}")
        return None
    return name, version


def validate_service(name: str, node: Node) -> Service | None:
    if not NAME_PATTERN.match(name):
        node.error(f"service name '{name}' must be lowercase letters, digits, '-' or '_'")
    if not node.is_map(allow_null=False):
        return None
    node.check_keys(SERVICE_KEYS)
    type_node = node.child("type")
    if type_node is None or type_node.value is None:
        node.missing("type", "e.g. `type: mariadb:11.4`")
        return None
    parsed = parse_type(type_node, service_types())
    if parsed is None:
        return None
    type_name, version = parsed
    catalog = service_types()[type_name]
    disk = node.integer("disk", minimum=0)
    if disk is not None and catalog.disk == "none":
        node.child("disk").error(f"{type_name} keeps its data in memory and takes no disk",  # type: ignore[union-attr]
                                 "remove `disk`, or use the -persistent type")
    size = node.choice("size", SIZES, upper=True)
    profile = node.choice("container_profile", PROFILES, upper=True)
    configuration = node.mapping("configuration")
    endpoints = _endpoints(type_name, catalog, configuration)
    relationships = parse_relationships(node.get("relationships"))
    return Service(name=name, type=type_name, version=version, disk=disk, size=size, container_profile=profile,
                   configuration=plain(configuration.value) if configuration else {},
                   endpoints=endpoints, relationships=relationships, origin=node.origin,
                   replica=bool(catalog.replica_of))


def _endpoints(type_name: str, catalog: ServiceType, configuration: Node | None) -> tuple[Endpoint, ...]:
    if configuration is not None:
        configuration.check_keys(catalog.local_configuration,
                                 no_effect={key: f"{type_name} `{key}`" for key in catalog.accepted_configuration})
    family = catalog.family
    replica = bool(catalog.replica_of)
    if family == "mysql":
        return _database_endpoints(configuration, "schemas", "default_schema", MYSQL_PRIVILEGES,
                                   catalog.endpoint or "mysql", replica)
    if family == "postgresql":
        return _database_endpoints(configuration, "databases", "default_database", POSTGRESQL_PRIVILEGES,
                                   catalog.endpoint or "postgresql", replica)
    if configuration is not None:
        if family == "redis":
            configuration.choice("maxmemory_policy", REDIS_POLICIES)
        elif family == "rabbitmq":
            configuration.string_list("vhosts")
        elif family == "solr":
            return _solr_endpoints(configuration)
        elif family == "vault":
            endpoints = configuration.mapping("endpoints")
            return tuple(Endpoint(name, None) for name, _ in (endpoints.items() if endpoints else ()))
        elif family == "varnish":
            configuration.string("vcl", required=True)
        elif family == "search":
            auth = configuration.mapping("authentication")
            if auth is not None:
                auth.check_keys(("enabled",))
                auth.boolean("enabled")
            configuration.string_list("plugins")
    return tuple(Endpoint(name, None) for name in catalog.endpoints)


def _database_endpoints(configuration: Node | None, schemas_key: str, default_key: str,
                        privileges_allowed: tuple[str, ...], default_endpoint: str,
                        replica: bool = False) -> tuple[Endpoint, ...]:
    """MariaDB/PostgreSQL: schemas plus endpoints with privileges; defining either disables the defaults.

    A replica holds its primary's schemas: without its own list, the schemas its endpoints name are
    checked against the primary's once every service is known (config/validate.py)."""
    schemas = configuration.string_list(schemas_key) if configuration else None
    endpoints_node = configuration.mapping("endpoints") if configuration else None
    if configuration is not None and configuration.value and "extensions" in configuration.value:
        configuration.string_list("extensions")
    if schemas is None and endpoints_node is None:
        return (Endpoint(default_endpoint, "main", {"main": "admin"}),)
    schema_list = schemas if schemas is not None else ("main",)
    if endpoints_node is None:
        return (Endpoint(default_endpoint, schema_list[0] if schema_list else None,
                         {schema_list[0]: "admin"} if schema_list else {}),)
    own_schemas = schemas is not None or not replica  # else: the primary's, checked later
    flag = "replication" if schemas_key == "databases" and not replica else None  # PostgreSQL's replication flag
    result = []
    for name, endpoint in endpoints_node.items():
        if not endpoint.is_map(allow_null=False):
            continue
        endpoint.check_keys((default_key, "privileges") + ((flag,) if flag else ()))
        replication = bool(endpoint.boolean(flag)) if flag else False
        default = endpoint.string(default_key)
        privileges: dict[str, str] = {}
        privileges_node = endpoint.mapping("privileges")
        for schema, level in (privileges_node.items() if privileges_node else ()):
            if own_schemas and schema not in schema_list:
                level.error(f"grants privileges on '{schema}', which is not in `{schemas_key}`",
                            f"{schemas_key}: {', '.join(schema_list) or '(none)'}; add it there or fix the name")
            text = level.as_string()
            if text is not None and text not in privileges_allowed:
                level.error(f"'{text}' is not one of: {', '.join(privileges_allowed)}")
            elif text is not None:
                privileges[schema] = text
        if own_schemas and default is not None and default not in schema_list:
            endpoint.child(default_key).error(  # type: ignore[union-attr]
                f"'{default}' is not in `{schemas_key}`", f"{schemas_key}: {', '.join(schema_list) or '(none)'}")
        result.append(Endpoint(name, default, privileges, replication))
    return tuple(result)


def _solr_endpoints(configuration: Node) -> tuple[Endpoint, ...]:
    cores = configuration.mapping("cores")
    core_names = [name for name, _ in cores.items()] if cores else []
    for _, core_node in (cores.items() if cores else ()):
        if core_node.is_map():
            core_node.check_keys(("conf_dir", "core_properties"))
    endpoints = configuration.mapping("endpoints")
    if endpoints is None:
        return (Endpoint("solr", f"solr/{core_names[0] if core_names else 'collection1'}"),)
    result = []
    for name, endpoint in endpoints.items():
        if not endpoint.is_map(allow_null=False):
            continue
        endpoint.check_keys(("core",))
        core = endpoint.string("core")
        if core is not None and core_names and core not in core_names:
            endpoint.child("core").error(f"core '{core}' is not defined in `cores`",  # type: ignore[union-attr]
                                         f"cores: {', '.join(core_names)}")
        result.append(Endpoint(name, f"solr/{core}" if core else None))
    return tuple(result)
