"""Relationship syntax and targets.

Three spellings mean the same thing: `name: "service:endpoint"`, `name: {service, endpoint}`, and a
bare `name:` (the service called `name`, at its default endpoint). The map form without `service`
(`name: {}`, `name: {endpoint: e}`) names the target called `name` too. The target may be a service or,
with endpoint `http`, another app. Targets are checked once all services and apps are known.
"""

from __future__ import annotations

import re

from orchestrator.config.checks import Checker, Node
from orchestrator.config.model import Relationship, Service

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
APP_ENDPOINT = "http"
REPLICA_SUFFIX = "-replica"


def parse_relationships(node: Node | None) -> tuple[Relationship, ...]:
    if node is None or not node.is_map():
        return ()
    result = []
    service: str | None
    endpoint: str | None
    for name, entry in node.items():
        if not NAME_PATTERN.match(name):
            entry.error(f"relationship name '{name}' must be letters, digits, '-' or '_'",
                        "it becomes the host name <name>.internal")
            continue
        value = entry.value
        if value is None:
            result.append(Relationship(name, name, None, entry.origin))
        elif isinstance(value, str):
            service, _, endpoint = value.partition(":")
            if not service:
                entry.error(f"'{value}' must be written `service:endpoint`")
                continue
            result.append(Relationship(name, service, endpoint or None, entry.origin))
        elif isinstance(value, dict):
            entry.check_keys(("service", "endpoint"))
            service = _mapped_service(name, entry)
            endpoint = entry.string("endpoint")
            if service:
                result.append(Relationship(name, service, endpoint, entry.origin))
        else:
            entry.error("must be `service:endpoint`, a {service, endpoint} mapping, or empty")
    return tuple(result)


def _mapped_service(name: str, entry: Node) -> str | None:
    """The map form's target: `service` when written, else the service or app named like the relationship,
    as for the bare `name:` form (real projects write `database: {}` or `database: {endpoint: mysql}`)."""
    written = entry.child("service")
    if written is None or written.value is None:
        return name
    service = written.as_string()
    if service == "":
        written.error("must name a service or app",
                      "or leave `service` out to mean the one called like the relationship")
    return service or None


def check_targets(relationships: tuple[Relationship, ...], owner: str, ck: Checker,
                  services: dict[str, Service], app_names: set[str]) -> None:
    """Report relationships to a missing service or app, or to an endpoint the target does not have."""
    for rel in relationships:
        where = (rel.origin.file, rel.origin.line, rel.origin.key)
        if rel.service in services:
            service = services[rel.service]
            names = [e.name for e in service.endpoints]
            if rel.endpoint is None and not names:
                ck.error(*where, f"{owner} names service '{rel.service}' ({service.type}) without an endpoint, "
                              "and that type has no default endpoint",
                              "write `service:endpoint`" + (f"; endpoints: {', '.join(names)}" if names else ""))
            elif rel.endpoint is not None and rel.endpoint not in names:
                base = rel.endpoint[: -len(REPLICA_SUFFIX)] if rel.endpoint.endswith(REPLICA_SUFFIX) else None
                if base in names:
                    continue  # a replica endpoint; locally it reaches the same server
                ck.error(*where, f"service '{rel.service}' has no endpoint '{rel.endpoint}'",
                              f"endpoints of {rel.service}: {', '.join(names) or '(none)'}")
        elif rel.service in app_names:
            if rel.endpoint != APP_ENDPOINT:
                ck.error(*where, f"app '{rel.service}' is reached through endpoint 'http'"
                              + ("" if rel.endpoint is None else f", not '{rel.endpoint}'"),
                              f"write `{rel.name}: \"{rel.service}:http\"`")
        else:
            known = sorted(services) + sorted(app_names)
            ck.error(*where, f"relationship to '{rel.service}', which is neither a service nor an app",
                          f"services and apps: {', '.join(known) or '(none)'}")
