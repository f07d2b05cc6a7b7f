"""Raw config -> `Project`, or one `ConfigError` listing every problem.

Order matters only for cross-references: services first (their endpoints), then apps (their names are
relationship targets too), then relationships, mounts that name services, and routes.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.config.apps import parse_app
from orchestrator.config.checks import Checker, Node, join_key
from orchestrator.config.loader import RawConfig, load
from orchestrator.identity import InstanceRef
from orchestrator.config.model import App, Project, Service
from orchestrator.config.relationships import APP_ENDPOINT, check_targets
from orchestrator.config.replicas import check_replicas
from orchestrator.config.routes import default_route, parse_routes
from orchestrator.config.services import validate_service
from orchestrator.errors import ConfigError, ConfigProblem
from orchestrator.names import project_name


def validate(raw: RawConfig, project_name: str) -> tuple[Project, list[ConfigProblem]]:
    """Validate `raw`; returns the project and its warnings, or raises ConfigError with every problem."""
    ck = Checker(problems=list(raw.problems), warnings=list(raw.warnings))
    is_platform = raw.layout == "platform"

    services: dict[str, Service] = {}
    for entry in raw.services:
        service = validate_service(entry.name, Node(ck, entry.data, entry.file, entry.line, entry.key_prefix))
        if service is not None:
            services[service.name] = service

    app_names = {entry.name for entry in raw.apps if entry.name} | {
        str(entry.data.get("name")) for entry in raw.apps if isinstance(entry.data, dict) and entry.data.get("name")}
    apps: list[App] = []
    first_seen: dict[str, App] = {}
    for entry in raw.apps:
        node = Node(ck, entry.data, entry.file, entry.line, entry.key_prefix)
        app = parse_app(entry.name, node, entry.default_root, is_platform, flat_file=entry.key_prefix == "")
        if app is None:
            continue
        if app.name in first_seen:
            other = first_seen[app.name].origin
            ck.error(entry.file, entry.line, entry.key_prefix or "name",
                     f"a second app named '{app.name}' (the first is in {other.file}:{other.line})",
                     "app names must be unique in a project")
            continue
        if app.name in services:
            ck.error(entry.file, entry.line, entry.key_prefix or "name",
                     f"app '{app.name}' has the name of a service ({services[app.name].origin.file}:"
                     f"{services[app.name].origin.line})", "apps and services share one namespace: rename one")
        first_seen[app.name] = app
        apps.append(app)

    if not raw.apps and not ck.problems:
        where = raw.files[0] if raw.files else ""
        ck.error(where, 1 if where else 0, "applications", "no application is defined",
                 "a project needs at least one app: `applications:` (Upsun) or a .platform.app.yaml")
    _check_relationships(ck, apps, services, app_names)
    _check_mount_targets(ck, apps, services, app_names)

    route_entries = [(entry.name, Node(ck, entry.data, entry.file, entry.line,
                                       f"routes.{_quote(entry.name)}" if raw.layout == "upsun" else _quote(entry.name)))
                     for entry in raw.routes]
    routes = parse_routes(route_entries, [a.name for a in apps], services)
    defaulted = not raw.routes and bool(apps)
    if defaulted:
        routes = (default_route(apps[0].name),)

    if ck.problems:
        raise ConfigError(ck.problems)
    project = Project(root=str(raw.root), name=project_name, layout=raw.layout, apps=tuple(apps),
                      services=tuple(services.values()), routes=routes, routes_defaulted=defaulted)
    return project, ck.warnings


def _quote(key: str) -> str:
    return join_key("", key)


def _instances(app: App):
    yield app.name, app.settings
    yield f"{app.name} (web)", app.web.settings
    for worker in app.workers:
        yield f"worker {InstanceRef.of_worker(app.name, worker.name).name}", worker.settings


def _check_relationships(ck: Checker, apps: list[App], services: dict[str, Service], app_names: set[str]) -> None:
    checked: set[tuple[str, int, str]] = set()
    edges: dict[str, set[str]] = {app.name: set() for app in apps}
    for app in apps:
        for owner, settings in _instances(app):
            fresh = tuple(r for r in settings.relationships
                          if (r.origin.file, r.origin.line, r.origin.key) not in checked)
            checked.update((r.origin.file, r.origin.line, r.origin.key) for r in fresh)
            check_targets(fresh, f"app '{owner}'", ck, services, app_names)
            edges[app.name].update(r.service for r in settings.relationships
                                   if r.service in app_names and r.endpoint == APP_ENDPOINT)
    for service in services.values():
        if not service.replica:  # a replica's one relationship, to its primary, is checked by check_replicas
            check_targets(service.relationships, f"service '{service.name}'", ck, {}, app_names)
    check_replicas(ck, services)
    cycle = _find_cycle(edges)
    if cycle:
        first = next(a for a in apps if a.name == cycle[0])
        ck.error(first.origin.file, first.origin.line, f"{first.origin.key or first.name}.relationships",
                 f"apps depend on each other in a cycle: {' -> '.join(cycle)}",
                 "the platform refuses relationship cycles between apps")


def _find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for target in sorted(edges.get(name, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return None

    for name in sorted(edges):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return None


def _check_mount_targets(ck: Checker, apps: list[App], services: dict[str, Service], app_names: set[str]) -> None:
    storage = sorted(name for name, s in services.items() if s.type == "network-storage")
    seen: set[tuple[str, int, str]] = set()
    for app in apps:
        for _, settings in _instances(app):
            for mount in settings.mounts:
                where = (mount.origin.file, mount.origin.line, mount.origin.key)
                if where in seen:
                    continue
                seen.add(where)
                if mount.source == "service" and mount.service not in storage:
                    ck.error(*where, f"mount names service '{mount.service}', which is not a network-storage service",
                             f"network-storage services: {', '.join(storage) or '(none)'}")
                if mount.source == "storage" and mount.service and mount.service not in app_names:
                    ck.error(*where, f"storage mount shares the storage of app '{mount.service}', which does not exist",
                             f"apps: {', '.join(sorted(app_names))}")


def load_project(root: Path, layout: str = "auto", name: str | None = None) -> tuple[Project, list[ConfigProblem]]:
    """Load and validate the project in `root`: the one entry point for everything config."""
    raw = load(root, layout)
    return validate(raw, name or project_name(root))
