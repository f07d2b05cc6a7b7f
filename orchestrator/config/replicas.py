"""Read-only replicas (`postgresql-replica`, `mariadb-replica`): each streams from one primary service.

A replica names its primary with exactly one relationship, `primary: <service>:<endpoint>`, and that
endpoint must be allowed to replicate. It runs the primary's version (a streamed copy of a server is only
readable by the same major version) and holds the primary's schemas, so every schema it names must be one
of the primary's. These checks need every service, so they run after each service was validated alone.
"""

from __future__ import annotations

from orchestrator.catalog import service_types
from orchestrator.config.checks import Checker
from orchestrator.config.model import (
    PRIMARY_RELATIONSHIP,
    Endpoint,
    Relationship,
    Service,
)

SCHEMA_KEYS = ("databases", "schemas")


def check_replicas(ck: Checker, services: dict[str, Service]) -> None:
    for service in services.values():
        if service.replica:
            _check_replica(ck, service, services)


def _check_replica(ck: Checker, replica: Service, services: dict[str, Service]) -> None:
    origin = replica.origin
    for relationship in replica.relationships:
        if relationship.name != PRIMARY_RELATIONSHIP:
            ck.error(relationship.origin.file, relationship.origin.line, relationship.origin.key,
                     f"{replica.type} service '{replica.name}' has one relationship, `{PRIMARY_RELATIONSHIP}`, "
                     f"not '{relationship.name}'", f"name it `{PRIMARY_RELATIONSHIP}`: the replica streams from it")
    rel = replica.primary
    if rel is None:
        ck.error(origin.file, origin.line, f"{origin.key}.relationships",
                 f"{replica.type} service '{replica.name}' has no `{PRIMARY_RELATIONSHIP}` relationship to stream from",
                 f"add `relationships: {{{PRIMARY_RELATIONSHIP}: '<service>:<endpoint>'}}` naming the primary's "
                 "endpoint that may replicate")
        return
    primary = _primary_service(ck, replica, rel, services)
    if primary is None:
        return
    endpoint = _check_endpoint(ck, replica, rel, primary)
    if primary.version != replica.version:
        ck.error(origin.file, origin.line, f"{origin.key}.type",
                 f"{replica.type}:{replica.version} must run the version of its primary '{primary.name}' "
                 f"({primary.type}:{primary.version})", f"write `type: {replica.type}:{primary.version}`")
    if endpoint is not None:
        _check_schemas(ck, replica, primary, endpoint)


def _primary_service(ck: Checker, replica: Service, rel: Relationship, services: dict[str, Service]) -> Service | None:
    """The service `rel` names, if it is of a type the replica can stream from (else the error, once)."""
    kinds = service_types()[replica.type].replica_of
    where = (rel.origin.file, rel.origin.line, rel.origin.key)
    target = services.get(rel.service)
    if target is None or target.type not in kinds:
        candidates = sorted(s.name for s in services.values() if s.type in kinds)
        what = "no service" if target is None else f"a {target.type} service"
        ck.error(*where, f"'{rel.service}' is {what}; a {replica.type} streams from a {' or '.join(kinds)} service",
                 f"{' or '.join(kinds)} services: {', '.join(candidates) or '(none)'}")
        return None
    return target


def _check_endpoint(ck: Checker, replica: Service, rel: Relationship, primary: Service) -> Endpoint | None:
    """The primary's endpoint `rel` names, if it may replicate (else the error)."""
    where = (rel.origin.file, rel.origin.line, rel.origin.key)
    endpoints = {e.name: e for e in primary.endpoints}
    name = rel.endpoint or (primary.endpoints[0].name if primary.endpoints else "")
    endpoint = endpoints.get(name)
    if endpoint is None:
        ck.error(*where, f"service '{primary.name}' has no endpoint '{name}'",
                 f"endpoints of {primary.name}: {', '.join(endpoints) or '(none)'}")
        return None
    if not endpoint.can_replicate:
        ck.error(*where, f"endpoint '{name}' of '{primary.name}' may not replicate, so '{replica.name}' cannot "
                         "stream from it", _replication_hint(primary, endpoint))
        return None
    return endpoint


def _replication_hint(primary: Service, endpoint: Endpoint) -> str:
    if service_types()[primary.type].family == "postgresql":
        return f"give it `replication: true` under {primary.name}'s configuration.endpoints.{endpoint.name}"
    schema = endpoint.schema or next(iter(endpoint.privileges), "main")
    return (f"grant it the `replication` privilege under {primary.name}'s configuration.endpoints.{endpoint.name}: "
            f"`privileges: {{{schema}: replication}}`")


def copied_schemas(primary: Service, endpoint: Endpoint) -> list[str]:
    """What a replica of `primary` holds when it streams as `endpoint`'s user: a PostgreSQL replica copies
    the whole server (every database of `databases`, else `main`); a MariaDB replica copies the schemas
    that user may read."""
    if service_types()[primary.type].family == "mysql":
        return sorted(endpoint.privileges)
    for key in SCHEMA_KEYS:
        if primary.configuration.get(key) is not None:
            return [str(name) for name in primary.configuration[key]]
    return ["main"]


def _check_schemas(ck: Checker, replica: Service, primary: Service, endpoint: Endpoint) -> None:
    held = copied_schemas(primary, endpoint)
    named = [str(name) for key in SCHEMA_KEYS for name in replica.configuration.get(key) or ()]
    for own in replica.endpoints:
        named += ([own.schema] if own.schema else []) + list(own.privileges)
    missing = sorted(set(named) - set(held))
    if missing:
        origin = replica.origin
        ck.error(origin.file, origin.line, f"{origin.key}.configuration",
                 f"'{replica.name}' names {', '.join(repr(m) for m in missing)}, which its primary "
                 f"'{primary.name}' does not copy to it", f"it copies: {', '.join(held) or '(nothing)'}")
