"""`translate(project, environment) -> Plan`: the whole deployment as plain data, with no engine involved.

One image per app (web and every worker run it, each with its own command, env, mounts and limits),
one container spec per instance and per service, the networks that make relationships the only way
to reach a service, and the volumes behind mounts. Pure and deterministic: the same project and
environment give byte-identical `Plan.to_json()`.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from orchestrator import identity, names
from orchestrator.catalog import limits, runtime_types, service_types
from orchestrator.errors import OrchestratorError
from orchestrator.identity import InstanceRef
from orchestrator.config.model import App, InstanceSettings, Mount, Project, Relationship, Service
from orchestrator.platform_env import APP_DIR, Commands, Environment, build_env, runtime_env
from orchestrator.platform_routes import routes_json
from orchestrator.relationships import (APP_PORT, Credentials, service_env)
from orchestrator.sizing import refuse_unknown
from orchestrator.router import (CA_VOLUME, LocalRoute, default_ports, local_routes, router_config, tls_names,
                                 web_alias)
from orchestrator.webserver import Upstream, nginx_config

STOP_TIMEOUT = 15
RESTART_POLICY = "unless-stopped"
STOP_SIGNAL = "SIGTERM"
UNIX_SOCKET = "/run/app.sock"
APP_USER = "web"  # the unprivileged user app instances, their hooks, crons and ssh sessions run as
APP_TMPFS = ("/tmp", "/run")  # what an app may write besides its mounts (the root filesystem is read-only)
PRODUCTION_BRANCHES = ("main", "master", "production")


@dataclass(frozen=True)
class ImageBuild:
    app: str
    image: str
    context: str  # the app's source root, relative to the project root
    runtime: str
    version: str
    base_image: str | None
    build_hook: str | None
    flavor: str | None
    dependencies: dict[str, dict[str, str]]
    stack_packages: tuple[str, ...]
    build_env: dict[str, str]
    tree_id: str
    runtime_options: dict[str, Any] = field(default_factory=dict)  # `runtime`: PHP extensions to add or disable
    cache_volume: str = ""  # PLATFORM_CACHE_DIR: a volume of the app's kept from one build to the next
    cache_labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    internal: bool
    purpose: str
    labels: dict[str, str]


@dataclass(frozen=True)
class VolumeSpec:
    name: str
    scope: str  # instance | app | service
    labels: dict[str, str]


@dataclass(frozen=True)
class MountSpec:
    target: str
    source: str  # the platform's mount source (local, instance, tmp, storage, service) or "data"
    volume: str | None  # None: an anonymous volume that lives and dies with the container (tmp)


@dataclass(frozen=True)
class NetworkAttachment:
    network: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PortSpec:
    container_port: int
    host_ip: str = "127.0.0.1"
    host_port: int | None = None  # None: the engine picks a free port


@dataclass(frozen=True)
class Healthcheck:
    """When a service counts as up: a shell command the engine runs in it, and how often and how long."""

    test: str
    interval: int = 1  # seconds
    timeout: int = 5
    retries: int = 3
    start_period: int = 120


@dataclass(frozen=True)
class RelationshipRef:
    """One relationship of an instance: its name, and the service (or app) and endpoint it reaches."""

    name: str
    service: str
    endpoint: str

    def text(self) -> str:
        """`database -> mariadb:mysql`, as the plan's JSON and `plan` show it."""
        return f"{self.name} -> {self.service}:{self.endpoint}"


@dataclass(frozen=True)
class ContainerSpec:
    """Everything the engine needs to run one instance, decided here once: the controller creates the
    container from it and the Compose export writes it out, each field for field, neither adding any."""

    name: str  # instance name: "app" (web), "app--queue" (worker), "mariadb" (service)
    container: str  # engine container name
    app: str
    role: str  # web | worker | service
    image: str
    command: str | None  # the platform's start command (PLATFORM_APP_COMMAND), as `plan` shows it
    env: dict[str, str]
    mounts: tuple[MountSpec, ...]
    networks: tuple[NetworkAttachment, ...]
    cpus: float
    memory_mb: int
    ports: tuple[PortSpec, ...] = ()
    extra_hosts: dict[str, str] = field(default_factory=dict)
    relationships: tuple[RelationshipRef, ...] = ()
    size: str = "AUTO"
    healthcheck: Healthcheck | None = None
    hooks: dict[str, str] = field(default_factory=dict)  # web only: deploy and post_deploy
    restart: str = RESTART_POLICY
    stop_signal: str = STOP_SIGNAL
    stop_timeout: int = STOP_TIMEOUT
    labels: dict[str, str] = field(default_factory=dict)
    read_only: bool = False  # apps: a read-only root filesystem, as on the platform
    tmpfs: tuple[str, ...] = ()  # writable in-memory dirs beside the mounts (apps: /tmp and /run)
    entrypoint: tuple[str, ...] = ()  # () : the image's own
    argv: tuple[str, ...] = ()  # the container's command; () : the image's own
    working_dir: str = ""  # "": the image's own
    init: bool = True  # the engine's tiny init as PID 1 reaps zombies and forwards signals
    config_hash: str = ""

    @property
    def ref(self) -> InstanceRef:
        return InstanceRef.named(self.app, self.name, self.role)


@dataclass(frozen=True)
class Plan:
    project: str
    environment: Environment
    images: tuple[ImageBuild, ...]
    networks: tuple[NetworkSpec, ...]
    volumes: tuple[VolumeSpec, ...]
    instances: tuple[ContainerSpec, ...]
    routes: tuple[LocalRoute, ...] = ()  # what the router serves, with each route's local URL

    def to_dict(self) -> dict[str, Any]:
        """The public JSON contract (see the README): instances first-class, everything else alongside."""
        instances = []
        for spec in self.instances:
            item = asdict(spec)
            item["networks"] = [a.network for a in spec.networks]
            item["aliases"] = {a.network: list(a.aliases) for a in spec.networks if a.aliases}
            item["relationships"] = [r.text() for r in spec.relationships]
            instances.append(item)
        return {
            "project": self.project,
            "environment": asdict(self.environment),
            "instances": instances,
            "images": [asdict(i) for i in self.images],
            "networks": [asdict(n) for n in self.networks],
            "volumes": [asdict(v) for v in self.volumes],
            "routes": [asdict(r) for r in self.routes],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False, ensure_ascii=False) + "\n"

    def instance(self, name: str) -> ContainerSpec:
        return next(spec for spec in self.instances if spec.name == name)


APP_INIT = "/usr/local/bin/orchestrator-init"  # every app container's entrypoint (templates/runtime)
IDLE_COMMAND = "sleep infinity"  # what a worker-less web instance without a start command runs under the init
PHP_FPM = "orchestrator-php-fpm"  # templates/runtime/orchestrator-php-fpm: a PHP web instance without a start command
ROUTER_IMAGE = "orchestrator/router"  # resolved to the local router image (templates/router) at deploy time


def _digest(value: Any, length: int = 40) -> str:
    return hashlib.sha1(json.dumps(value, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:length]


@dataclass
class _Builder:
    """Accumulates networks and volumes (deduplicated, in first-use order) while instances are translated."""

    project: Project
    environment: Environment
    credentials: Credentials
    networks: dict[str, NetworkSpec] = field(default_factory=dict)
    volumes: dict[str, VolumeSpec] = field(default_factory=dict)
    sizes: dict[str, str] = field(default_factory=dict)  # instance -> size given locally (`--size`)

    @property
    def p(self) -> str:
        return self.project.name

    def network(self, name: str, internal: bool, purpose: str) -> str:
        self.networks.setdefault(name, NetworkSpec(name, internal, purpose, identity.network_labels(self.p)))
        return name

    def volume(self, name: str, scope: str, labels: dict[str, str]) -> str:
        self.volumes.setdefault(name, VolumeSpec(name, scope, identity.volume_labels(labels, scope)))
        return name

    def egress_network(self) -> str:
        return self.network(names.join(self.p, "egress"), False, "outbound traffic and published ports of apps")

    def service_network(self, service: str) -> str:
        return self.network(names.join(self.p, "svc", names.safe(service)), True, f"reach service {service}")

    def app_network(self, app: str) -> str:
        return self.network(names.join(self.p, "app", names.safe(app)), True, f"reach app {app} over http")


def _mount_specs(b: _Builder, app: App, instance: str, mounts: Iterable[Mount]) -> tuple[MountSpec, ...]:
    result = []
    for mount in sorted(mounts, key=lambda m: m.path):
        source_path = names.safe(mount.source_path or "root", 40)
        labels = identity.owner_labels(b.p, app.name, instance, "mount")
        if mount.source in ("local", "instance"):
            volume = b.volume(names.join(b.p, names.safe(instance), source_path), "instance", labels)
        elif mount.source == "tmp":
            volume = None  # an anonymous volume of the container: every new container (a redeploy) starts empty
        elif mount.source == "storage":
            owner = mount.service or app.name
            volume = b.volume(names.join(b.p, names.safe(owner), "storage", source_path), "app",
                              identity.owner_labels(b.p, owner, owner, "mount"))
        else:  # service: a network-storage service shared by every instance that names it
            owner = mount.service or ""
            volume = b.volume(names.join(b.p, names.safe(owner), source_path), "service",
                              identity.owner_labels(b.p, owner, owner, "mount"))
        result.append(MountSpec(f"{APP_DIR}/{mount.path}", mount.source, volume))
    return tuple(result)


def _relationship_networks(b: _Builder, relationships: tuple[Relationship, ...]) -> list[NetworkAttachment]:
    attachments = []
    service_names = {s.name for s in b.project.services}
    for rel in relationships:
        network = b.service_network(rel.service) if rel.service in service_names else b.app_network(rel.service)
        attachments.append(NetworkAttachment(network))
    return attachments


def _app_instance(b: _Builder, app: App, image: ImageBuild, ref: InstanceRef, command: str | None,
                  settings: InstanceSettings, pre_start: str | None, post_start: str | None) -> ContainerSpec:
    role, instance = ref.role, ref.name
    command = command if command and command.strip() else None  # `start: ""` is no start command
    php_fpm = role == "web" and command is None and app.runtime.name == "php"  # as on the platform: PHP-FPM
    env = runtime_env(b.project, b.environment, b.credentials, app, ref, settings, image.tree_id,
                      Commands(command, pre_start, post_start))
    ports: tuple[PortSpec, ...] = ()
    egress = NetworkAttachment(b.egress_network(), (web_alias(app.name),) if role == "web" else ())
    networks = [egress] + _relationship_networks(b, settings.relationships)
    hooks: dict[str, str] = {}
    if role == "web":
        hooks = {name: text for name, text in (("deploy", app.hooks.deploy), ("post_deploy", app.hooks.post_deploy))
                 if text}
        family = "unix" if php_fpm else app.web.socket_family
        protocol = "fastcgi" if php_fpm else app.web.protocol
        if family == "unix":
            env["SOCKET"] = UNIX_SOCKET
        else:
            env["PORT"] = str(APP_PORT)
        upstream = Upstream(family, protocol, APP_PORT, UNIX_SOCKET)
        config = nginx_config(app.web, upstream, php=app.runtime.name == "php", user=APP_USER)
        env["ORCHESTRATOR_NGINX_CONF"] = base64.b64encode(config.encode()).decode("ascii")
    env = dict(sorted(env.items()))
    profile = settings.container_profile or runtime_types()[app.runtime.name].profile
    if app.runtime.composable:
        profile = settings.container_profile or "HIGH_CPU"
    size = b.sizes.get(instance) or settings.size
    cpus, memory = limits(size, profile, settings.resources.base_memory if settings.resources else None,
                          settings.resources.memory_ratio if settings.resources else None, app=True)
    return ContainerSpec(
        name=instance, container=names.join(b.p, names.safe(instance)), app=app.name, role=role,
        image=image.image, command=PHP_FPM if php_fpm else command, env=env,
        mounts=_mount_specs(b, app, instance, settings.mounts),
        networks=tuple(networks), cpus=cpus, memory_mb=memory, ports=ports,
        extra_hosts=dict(sorted(settings.additional_hosts.items())),
        relationships=tuple(RelationshipRef(r.name, r.service, r.endpoint or "default")
                            for r in settings.relationships),
        entrypoint=(APP_INIT,), argv=(PHP_FPM if php_fpm else command or IDLE_COMMAND,), working_dir=APP_DIR,
        size=size or "AUTO", hooks=hooks, read_only=True, tmpfs=APP_TMPFS,
        labels={**ref.to_labels(b.p), **_size_labels(b, instance, size, profile)})


def _size_labels(b: _Builder, instance: str, size: str | None, profile: str) -> dict[str, str]:
    return identity.size_labels(size, profile, instance in b.sizes)


def _image_build(project: Project, app: App, source_digest: str) -> ImageBuild:
    runtime = runtime_types().get(app.runtime.name)
    base = runtime.image_for(app.runtime.version) if runtime else None
    inputs = {"runtime": app.runtime.name, "version": app.runtime.version, "stack": app.runtime.stack_runtimes,
              "packages": app.runtime.stack_packages, "flavor": app.build_flavor, "dependencies": app.dependencies,
              "build": app.hooks.build, "root": app.source_root, "options": app.runtime_options,
              "variables": app.settings.variables, "source": source_digest}
    tree_id = _digest(inputs)
    return ImageBuild(app=app.name, image=f"orchestrator/{project.name}-{names.safe(app.name)}:{tree_id[:12]}",
                      context=app.source_root or ".", runtime=app.runtime.name, version=app.runtime.version,
                      base_image=base, build_hook=app.hooks.build, flavor=app.build_flavor,
                      dependencies=app.dependencies, stack_packages=app.runtime.stack_packages,
                      build_env=build_env(project, app, tree_id), tree_id=tree_id,
                      runtime_options=app.runtime_options,
                      cache_volume=names.join(project.name, names.safe(app.name), "build-cache"),
                      cache_labels=identity.owner_labels(project.name, app.name, "build-cache", "build-cache"))


def _service_instance(b: _Builder, service: Service, aliases: dict[str, set[str]]) -> ContainerSpec | None:
    catalog = service_types()[service.type]
    if catalog.image is None:  # network-storage: only a shared volume
        return None
    mounts: tuple[MountSpec, ...] = ()
    if catalog.data_path and catalog.disk != "none":
        volume = b.volume(names.join(b.p, names.safe(service.name), "data"), "service",
                          identity.owner_labels(b.p, service.name, service.name, "service"))
        mounts = (MountSpec(catalog.data_path, "data", volume),)
    networks = [NetworkAttachment(b.service_network(service.name),
                                  tuple(sorted(f"{alias}.internal" for alias in aliases.get(service.name, ()))))]
    networks += _relationship_networks(b, service.relationships)
    size = b.sizes.get(service.name) or service.size
    profile = service.container_profile or catalog.profile
    cpus, memory = limits(size, profile)
    return ContainerSpec(
        name=service.name, container=names.join(b.p, names.safe(service.name)), app=service.name, role="service",
        image=catalog.image_for(service.version) or "", command=None,
        env=dict(sorted(service_env(service, b.p, b.credentials, {s.name: s for s in b.project.services}).items())),
        mounts=mounts, networks=tuple(networks),
        cpus=cpus, memory_mb=memory, size=size or "AUTO", stop_signal=catalog.stop_signal,
        healthcheck=Healthcheck(catalog.healthcheck) if catalog.healthcheck else None,
        relationships=tuple(RelationshipRef(r.name, r.service, r.endpoint or "http") for r in service.relationships),
        labels={**InstanceRef.service(service.name).to_labels(b.p), **_size_labels(b, service.name, size, profile)})


def _aliases(project: Project) -> dict[str, set[str]]:
    """Relationship names each service or app is reached by: its host names on its own network."""
    aliases: dict[str, set[str]] = {}
    for app in project.apps:
        for settings in [app.settings, app.web.settings] + [w.settings for w in app.workers]:
            for rel in settings.relationships:
                aliases.setdefault(rel.service, set()).add(rel.name)
    for service in project.services:
        for rel in service.relationships:
            aliases.setdefault(rel.service, set()).add(rel.name)
    return aliases


PROCESS_FIELDS = ("entrypoint", "argv", "working_dir", "init")  # follow from the role and the start command


def _hash_content(spec: ContainerSpec) -> dict[str, Any]:
    """What the config hash covers: every field but the labels and the hash itself. The process fields
    are left out because they follow from the role and the start command, which it covers (and a change
    of the init or the tools around it changes the image, which recreates the container too); that also
    keeps the hash of every container of an earlier version, so upgrading orchestrator recreates none."""
    content = asdict(spec)
    for key in ("labels", "config_hash", *PROCESS_FIELDS):
        content.pop(key)
    content["relationships"] = [relationship.text() for relationship in spec.relationships]
    return content


def _with_hash(spec: ContainerSpec) -> ContainerSpec:
    """Seal a spec with the hash of everything that would need a new container if it changed."""
    config_hash = _digest(_hash_content(spec), 16)
    labels = {**spec.labels, identity.CONFIG_HASH: config_hash}
    return ContainerSpec(**{**spec.__dict__, "labels": labels, "config_hash": config_hash})


def _refuse_name_clashes(specs: list[ContainerSpec]) -> None:
    seen: dict[str, str] = {}
    for spec in specs:
        for key in (spec.name, spec.container):
            if key in seen and seen[key] != spec.role + spec.app:
                raise OrchestratorError(f"instance '{spec.name}' ({spec.role}) would share the engine name '{key}' "
                                        "with another instance; rename the service or worker")
            seen[key] = spec.role + spec.app


def environment_for(branch: str, domain: str | None, project: str, env_type: str | None = None,
                    router_port: int | None = None) -> Environment:
    kind = env_type or ("production" if branch in PRODUCTION_BRANCHES else "development")
    if router_port is not None and not 1024 <= router_port <= 65534:
        raise OrchestratorError(f"--router-port {router_port}: choose a port from 1024 to 65534 (it and the next "
                                "one serve the routes)")
    http_port, https_port = (router_port, router_port + 1) if router_port else default_ports(project)
    return Environment(branch, kind, domain or f"{project}.localhost", http_port, https_port)


def _router_instance(b: _Builder, routes: tuple[LocalRoute, ...]) -> ContainerSpec | None:
    """The project's router, when it has routes and a port to serve them on."""
    env = b.environment
    if not env.http_port or not routes:
        return None
    ports = (env.http_port, env.https_port)
    config = router_config(list(routes), ports, env.domain)
    b.volumes.setdefault(CA_VOLUME, VolumeSpec(CA_VOLUME, "machine", {identity.LOCAL_CA: "1"}))
    return ContainerSpec(
        name="router", container=names.join(b.p, "router"), app="router", role="router", image=ROUTER_IMAGE,
        command=None, env={"ORCHESTRATOR_ROUTER_CONF": base64.b64encode(config.encode()).decode("ascii"),
                           "ORCHESTRATOR_TLS_NAMES": " ".join(tls_names(routes, env.domain))},
        mounts=(MountSpec("/ca", "local-ca", CA_VOLUME),), networks=(NetworkAttachment(b.egress_network()),),
        cpus=0.5, memory_mb=128, ports=(PortSpec(80, host_port=env.http_port), PortSpec(443, host_port=env.https_port)),
        labels={**InstanceRef.router().to_labels(b.p), identity.SIZE: "-"})


def translate(project: Project, environment: Environment | str, credentials: Credentials | None = None,
              source_digests: dict[str, str] | None = None, sizes: dict[str, str] | None = None) -> Plan:
    """The Plan for `project` deployed as `environment` (a branch name, or an Environment).

    `source_digests` (app name -> digest of its build inputs on disk) makes each image tag change
    exactly when the app's source does; without it the tag follows the config alone. `sizes` (instance
    -> size, from `--size`) replace the config's sizes, as `upsun resources:set` does on Upsun.
    """
    env = environment if isinstance(environment, Environment) else environment_for(environment, None, project.name,
                                                                                   "development")
    b = _Builder(project, env, credentials or {}, sizes=dict(sizes or {}))
    images = tuple(_image_build(project, app, (source_digests or {}).get(app.name, "")) for app in project.apps)
    image_of = {image.app: image for image in images}
    aliases = _aliases(project)
    specs: list[ContainerSpec] = []
    for service in sorted(project.services, key=lambda s: s.replica):  # a replica after the primary whose image it runs
        spec = _service_instance(b, service, aliases)
        if spec is not None:
            specs.append(spec)
    for app in project.apps:
        image = image_of[app.name]
        web = _app_instance(b, app, image, InstanceRef.web(app.name), app.web.start, app.web.settings,
                            app.web.pre_start, app.web.post_start)
        if app.name in aliases:  # other apps reach this one over http
            web = ContainerSpec(**{**web.__dict__, "networks": web.networks + (NetworkAttachment(
                b.app_network(app.name), tuple(sorted(f"{a}.internal" for a in aliases[app.name]))),)})
        specs.append(web)
        for worker in app.workers:
            specs.append(_app_instance(b, app, image, InstanceRef.of_worker(app.name, worker.name), worker.start,
                                       worker.settings, worker.pre_start, worker.post_start))
    routes = tuple(local_routes(routes_json(project.routes, env.domain), (env.http_port, env.https_port))) \
        if env.http_port else ()
    router = _router_instance(b, routes)
    if router is not None:
        specs.append(router)
    _refuse_name_clashes(specs)
    refuse_unknown(b.sizes, [spec.name for spec in specs if spec.role != "router"])
    specs = [_with_hash(spec) for spec in specs]
    return Plan(project=project.name, environment=env, images=images,
                networks=tuple(sorted(b.networks.values(), key=lambda n: n.name)),
                volumes=tuple(sorted(b.volumes.values(), key=lambda v: v.name)), instances=tuple(specs), routes=routes)
