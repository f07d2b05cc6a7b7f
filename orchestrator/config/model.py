"""The validated project, in the platform's own words.

Everything here is frozen: validation builds it once, with inheritance already applied (a worker's
`settings` are what that worker really runs with), and the translator only reads it. Mapping-valued
fields hold plain dicts that nobody mutates after validation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Origin:
    """Where a piece of config was written, for messages."""

    file: str
    line: int
    key: str = ""


@dataclass(frozen=True)
class Relationship:
    """`name: service:endpoint`; `endpoint` None means the target's default endpoint."""

    name: str
    service: str
    endpoint: str | None
    origin: Origin


@dataclass(frozen=True)
class Mount:
    """A writable path under the app dir. `path` has no leading or trailing slash."""

    path: str
    source: str  # local | instance | tmp | storage | service
    source_path: str
    service: str | None
    origin: Origin


@dataclass(frozen=True)
class Resources:
    """Fixed `resources`: memory = base_memory + memory_ratio x CPU."""

    base_memory: int | None
    memory_ratio: int | None


@dataclass(frozen=True)
class InstanceSettings:
    """The keys an instance (web or worker) may override; for a worker these are already inherited."""

    size: str | None = None
    container_profile: str | None = None
    resources: Resources | None = None
    disk: int | None = None
    relationships: tuple[Relationship, ...] = ()
    mounts: tuple[Mount, ...] = ()
    variables: dict[str, dict[str, Any]] = field(default_factory=dict)
    access: dict[str, Any] = field(default_factory=dict)
    additional_hosts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class WebLocation:
    path: str
    root: str | None
    passthru: bool | str
    allow: bool
    index: tuple[str, ...] | None
    expires: str | int | None
    scripts: bool | None
    headers: dict[str, str]
    rules: dict[str, Any]
    request_buffering: dict[str, Any] | None


@dataclass(frozen=True)
class Web:
    start: str | None
    pre_start: str | None
    post_start: str | None
    socket_family: str  # tcp | unix
    protocol: str  # http | fastcgi
    locations: tuple[WebLocation, ...]
    settings: InstanceSettings


@dataclass(frozen=True)
class Worker:
    name: str
    start: str
    pre_start: str | None
    post_start: str | None
    settings: InstanceSettings
    origin: Origin


@dataclass(frozen=True)
class Cron:
    name: str
    spec: str
    start: str
    stop: str | None
    shutdown_timeout: int
    timeout: int
    origin: Origin


@dataclass(frozen=True)
class Hooks:
    build: str | None = None
    deploy: str | None = None
    post_deploy: str | None = None


@dataclass(frozen=True)
class Runtime:
    """The app's language runtime: `type: python:3.12`, or the first runtime of a composable `stack`."""

    name: str
    version: str
    composable: bool = False
    stack_runtimes: tuple[tuple[str, str], ...] = ()  # (name, version) for composable apps
    stack_packages: tuple[str, ...] = ()


@dataclass(frozen=True)
class App:
    name: str
    runtime: Runtime
    source_root: str  # relative to the project root, "" for the root itself
    build_flavor: str | None
    dependencies: dict[str, dict[str, str]]
    runtime_options: dict[str, Any]
    hooks: Hooks
    crons: tuple[Cron, ...]
    web: Web
    workers: tuple[Worker, ...]
    settings: InstanceSettings
    timezone: str | None
    raw: dict[str, Any]  # the app's config as written (includes resolved), for PLATFORM_APPLICATION
    origin: Origin


@dataclass(frozen=True)
class Endpoint:
    """A service endpoint a relationship can name; `schema` is the database/path it opens."""

    name: str
    schema: str | None
    privileges: dict[str, str] = field(default_factory=dict)
    replication: bool = False  # PostgreSQL `replication: true`: its role may stream the whole server

    @property
    def can_replicate(self) -> bool:
        """Whether a replica may stream from the primary as this endpoint's user (MariaDB grants it as a
        privilege level on a schema, PostgreSQL as a flag of the endpoint)."""
        return self.replication or any(level.startswith("replication") for level in self.privileges.values())


PRIMARY_RELATIONSHIP = "primary"  # the only name a replica's relationship to its primary may have


@dataclass(frozen=True)
class Service:
    name: str
    type: str
    version: str
    disk: int | None
    size: str | None
    container_profile: str | None
    configuration: dict[str, Any]
    endpoints: tuple[Endpoint, ...]
    relationships: tuple[Relationship, ...]
    origin: Origin
    replica: bool = False  # a read-only replica (`postgresql-replica`, `mariadb-replica`)

    @property
    def primary(self) -> Relationship | None:
        """A replica's relationship to the primary it streams from."""
        return next((r for r in self.relationships if r.name == PRIMARY_RELATIONSHIP), None) if self.replica else None

    @property
    def credentials_owner(self) -> str:
        """Whose stored passwords this service's endpoints use: a replica copies its primary's users, so an
        endpoint of a replica is the primary's user of the same name."""
        primary = self.primary
        return primary.service if primary is not None else self.name


@dataclass(frozen=True)
class Route:
    url: str  # the template as written, normalised to end with "/"
    type: str  # upstream | redirect | proxy
    upstream: str | None  # app or service name, without ":http"
    to: str | None
    id: str | None
    primary: bool | None
    attributes: dict[str, Any]
    cache: dict[str, Any]
    ssi: dict[str, Any]
    redirects: dict[str, Any]
    tls: dict[str, Any]
    origin: Origin


@dataclass(frozen=True)
class Project:
    """A whole validated project: what `translate` turns into a Plan."""

    root: str
    name: str
    layout: str
    apps: tuple[App, ...]
    services: tuple[Service, ...]
    routes: tuple[Route, ...]
    routes_defaulted: bool
