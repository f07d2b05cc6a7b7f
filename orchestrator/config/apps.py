"""Validate one app entry into `App`: runtime, web, workers (with the platform's inheritance), mounts,
variables, crons and hooks.

Inheritance: a worker (and the web instance, through `web.*`) takes the app's `size`,
`container_profile`, `resources`, `relationships`, `access`, `disk`, `mounts`, `additional_hosts` and
`variables` unless it sets them itself. A key that is set replaces the app's value whole (`mounts: {}`
means no mounts), except `variables`, which is replaced per prefix (`env`, `php`, ...).
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from orchestrator.catalog import PROFILES, SIZES, runtime_types
from orchestrator.config.checks import Checker, Node, plain
from orchestrator.config.model import (App, Cron, Hooks, InstanceSettings, Mount, Origin, Resources, Runtime, Web,
                                       WebLocation, Worker)
from orchestrator.config.relationships import parse_relationships
from orchestrator.crons import hash_problem

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
INSTANCE_KEYS = ("size", "container_profile", "resources", "relationships", "disk", "mounts", "variables",
                 "access", "additional_hosts", "firewall")
APP_KEYS = ("name", "type", "stack", "build", "dependencies", "runtime", "hooks", "crons", "source", "web",
            "workers", "timezone", "toolstack") + INSTANCE_KEYS
NO_EFFECT = {
    "access": "SSH access roles (every local user has the engine)",
    "firewall": "outbound firewall rules (containers have the host's egress)",
    "operations": "runtime operations (run them with `orchestrator ssh`)",
}
WORKER_FORBIDDEN = {
    "build": "a worker runs the app's image: `build` belongs to the app",
    "dependencies": "a worker runs the app's image: `dependencies` belong to the app",
    "crons": "crons run on the web instance only: define them on the app",
    "hooks": "hooks run once per app (build) or on the web instance (deploy, post_deploy): define them on the app",
    "web": "a worker takes no web traffic: remove `web`",
    "workers": "workers cannot have workers",
    "type": "a worker runs the app's runtime: remove `type`",
    "stack": "a worker runs the app's runtime: remove `stack`",
    "runtime": "a worker runs the app's runtime: remove `runtime`",
    "source": "a worker runs the app's source: remove `source`",
    "name": "the worker's name is its key under `workers`",
    "timezone": "`timezone` only affects crons, which belong to the app",
}
WEB_KEYS = ("commands", "upstream", "locations", "document_root", "passthru", "index_files", "whitelist",
            "blacklist", "expires", "move_to_root") + INSTANCE_KEYS
LOCATION_KEYS = ("root", "passthru", "index", "expires", "allow", "scripts", "headers", "rules", "request_buffering")
LOCATION_NO_EFFECT: dict[str, str] = {}  # every location key is applied by the instance's nginx (webserver.py)
RULE_KEYS = ("passthru", "allow", "expires", "scripts", "headers", "to")
MOUNT_SOURCES = {"local": "local", "instance": "instance", "tmp": "tmp", "temporary": "tmp", "storage": "storage",
                 "service": "service"}
LEGACY_MOUNT_PREFIX = "shared:files/"
CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-H()?]+$")
FLAVORS = ("none", "default", "composer", "drupal", "symfony", "drush_make")
RUNTIME_KEYS = ("extensions", "disabled_extensions", "request_terminate_timeout", "sizing_hints", "xdebug")
RUNTIME_NO_EFFECT = {"request_terminate_timeout": "PHP-FPM request timeout",
                     "sizing_hints": "PHP-FPM worker sizing hints", "xdebug": "Xdebug pool"}


# -- instance settings ----------------------------------------------------------------------------
def parse_settings(node: Node) -> tuple[InstanceSettings, set[str]]:
    """The instance keys present in `node`, and which of them were set (for inheritance)."""
    present = {key for key in INSTANCE_KEYS if isinstance(node.value, dict) and key in node.value}
    resources = None
    resources_node = node.mapping("resources")
    if resources_node is not None:
        resources_node.check_keys(("base_memory", "memory_ratio"))
        resources = Resources(resources_node.integer("base_memory", minimum=64),
                              resources_node.integer("memory_ratio", minimum=128))
    variables: dict[str, dict[str, Any]] = {}
    variables_node = node.mapping("variables")
    for prefix, entries in (variables_node.items() if variables_node else ()):
        if entries.value is None:
            variables[prefix] = {}
        elif entries.is_map():
            variables[prefix] = {name: plain(value.value) for name, value in entries.items()}
            if prefix == "env":
                for name, value in entries.items():
                    if not name or "=" in name or "\0" in name:
                        value.error(f"'{name}' is not a valid environment variable name")
    additional_hosts: dict[str, str] = {}
    hosts_node = node.mapping("additional_hosts")
    for host, address in (hosts_node.items() if hosts_node else ()):
        text = address.as_string()
        if text is not None:
            additional_hosts[host] = text
    access_node = node.mapping("access")
    disk = node.integer("disk", minimum=0)
    settings = InstanceSettings(
        size=node.choice("size", SIZES, upper=True),
        container_profile=_profile(node),
        resources=resources,
        disk=disk,
        relationships=parse_relationships(node.get("relationships")),
        mounts=parse_mounts(node.get("mounts")),
        variables=variables,
        access=plain(access_node.value) if access_node else {},
        additional_hosts=additional_hosts,
    )
    return settings, present


def _profile(node: Node) -> str | None:
    """A documented profile, or None with a warning (real configs carry undocumented ones such as LOW_MEMORY)."""
    text = node.string("container_profile")
    if text is None or text.upper() in PROFILES:
        return text.upper() if text else None
    node.child("container_profile").warn(  # type: ignore[union-attr]
        f"'{text}' is not a documented container profile; sizes use the runtime's default profile",
        f"documented profiles: {', '.join(PROFILES)}")
    return None


def inherit(base: InstanceSettings, own: InstanceSettings, present: set[str]) -> InstanceSettings:
    """`own` where the instance set a key, `base` otherwise; variables are replaced per prefix."""
    changes: dict[str, Any] = {}
    for key in ("size", "container_profile", "resources", "disk", "relationships", "mounts", "access",
                "additional_hosts"):
        if key in present:
            changes[key] = getattr(own, key)
    if "variables" in present:
        changes["variables"] = {**base.variables, **own.variables}
    return replace(base, **changes)


# -- mounts -----------------------------------------------------------------------------------------
def parse_mounts(node: Node | None) -> tuple[Mount, ...]:
    if node is None or not node.is_map():
        return ()
    mounts: list[Mount] = []
    seen: dict[str, Node] = {}
    for raw_path, entry in node.items():
        path = raw_path.strip().strip("/")
        if not path or ".." in path.split("/"):
            entry.error(f"mount path '{raw_path}' must name a directory inside the app", "e.g. `web/uploads`")
            continue
        mount = _parse_mount(path, entry)
        if mount is None:
            continue
        if path in seen:
            entry.error(f"mount path collides with '{seen[path].path}' (both are /app/{path})",
                        "give each mount its own path")
            continue
        seen[path] = entry
        mounts.append(mount)
    for mount in mounts:
        for other in mounts:
            if other is not mount and other.path.startswith(mount.path + "/") and other.source != mount.source:
                seen[other.path].warn(f"mount /app/{other.path} ({other.source}) is inside /app/{mount.path} "
                                      f"({mount.source}); the platform refuses nested mounts of different kinds",
                                      "locally both are mounted, the inner one over the outer")
    return tuple(mounts)


def warn_local_mounts_without_disk(ck: Checker, instances: list[InstanceSettings]) -> None:
    """Fixed: a `local` mount lives on the instance's disk. Web and workers inherit `disk` from the app, so
    this looks at each instance's settings after inheritance (a mount written once warns once)."""
    warned: set[Origin] = set()
    for settings in instances:
        if settings.disk is not None:
            continue
        for mount in settings.mounts:
            if mount.source == "local" and mount.origin not in warned:
                warned.add(mount.origin)
                ck.warn(mount.origin.file, mount.origin.line, mount.origin.key,
                        "a `local` mount needs `disk` on the platform; locally it is a volume all the same",
                        "set `disk` (MB) on the app or worker")


def _parse_mount(path: str, entry: Node) -> Mount | None:
    value = entry.value
    if isinstance(value, str):
        if not value.startswith(LEGACY_MOUNT_PREFIX):
            entry.error(f"legacy mount '{value}' must start with `{LEGACY_MOUNT_PREFIX}`",
                        "or use {source: local, source_path: ...}")
            return None
        return Mount(path, "local", value[len(LEGACY_MOUNT_PREFIX):].strip("/"), None, entry.origin)
    if not entry.is_map(allow_null=False):
        return None
    entry.check_keys(("source", "source_path", "service"))
    source_node = entry.child("source")
    source = entry.string("source", required=True)
    if source is None:
        return None
    if source not in MOUNT_SOURCES:
        assert source_node is not None
        source_node.error(f"unknown mount source '{source}'", f"sources: {', '.join(MOUNT_SOURCES)}")
        return None
    kind = MOUNT_SOURCES[source]
    source_path_node = entry.child("source_path")
    source_path = path if source_path_node is None or source_path_node.value is None else \
        (entry.string("source_path", numbers_ok=True) or "").strip("/")
    service = entry.string("service")
    if kind == "service" and not service:
        entry.error("a `service` mount needs `service:` naming a network-storage service")
        return None
    return Mount(path, kind, source_path, service, entry.origin)


# -- runtime ------------------------------------------------------------------------------------------
def parse_runtime(node: Node) -> Runtime | None:
    type_node = node.get("type")
    stack_node = node.get("stack")
    toolstack = node.get("toolstack")
    if type_node is None and toolstack is not None:
        type_node = toolstack
    known = runtime_types()
    if type_node is None and stack_node is None:
        node.missing("type", f"e.g. `type: python:3.12`; runtimes: {', '.join(sorted(known))}")
        return None
    name = version = None
    if type_node is not None:
        text = type_node.as_string()
        if text is None:
            return None
        name, sep, version = text.partition(":")
        if not sep or not version:
            type_node.error(f"'{text}' must be written `runtime:version`", "e.g. `python:3.12`")
            return None
        if name not in known:
            type_node.error(f"unknown runtime '{name}'", f"runtimes: {', '.join(sorted(known))}")
            return None
        if toolstack is not None and type_node is toolstack:
            version = _toolstack_version(name)
        elif version not in known[name].versions:
            type_node.error(f"unknown version '{version}' of {name}", f"versions: {', '.join(known[name].versions)}")
            return None
    if stack_node is None:
        if name == "composable":
            node.error("a `composable` app needs `stack`", "e.g. stack: {runtimes: [\"python@3.13\"]}")
            return None
        return Runtime(name, version)  # type: ignore[arg-type]
    if name not in (None, "composable"):
        stack_node.error(f"`stack` is for composable apps, not `type: {name}:{version}`",
                         "use `type: composable:26.05`, or drop `stack`")
        return None
    runtimes, packages = _parse_stack(stack_node)
    first = runtimes[0] if runtimes else ("composable", version or "26.05")
    if len(runtimes) > 1 or packages:
        extra = [f"{n}@{v}" for n, v in runtimes[1:]] + packages
        stack_node.warn(f"locally the image is built on the first runtime ({first[0]} {first[1]}); "
                        f"not installed: {', '.join(extra)}",
                        "install them in the build hook, or map an image that has them with --images")
    return Runtime(first[0], first[1], True, tuple(runtimes), tuple(packages))


def _toolstack_version(name: str) -> str:
    return runtime_types()[name].versions[0]


def _parse_stack(node: Node) -> tuple[list[tuple[str, str]], list[str]]:
    """`stack` as a list (runtimes `name@version` and packages mixed) or {runtimes, packages}."""
    runtimes: list[tuple[str, str]] = []
    packages: list[str] = []
    if isinstance(node.value, dict):
        node.check_keys(("runtimes", "packages"))
        runtimes_node, packages_node = node.get("runtimes"), node.get("packages")
        entries = list(runtimes_node.elements()) if runtimes_node else []
        package_entries = list(packages_node.elements()) if packages_node else []
    elif isinstance(node.value, list):
        entries, package_entries = list(node.elements()), []
    else:
        node.error("must be a list or a {runtimes, packages} mapping")
        return runtimes, packages
    known = runtime_types()
    for entry in entries + package_entries:
        value = entry.value
        if isinstance(value, dict):
            keys = list(value)
            label = str(keys[0]) if len(keys) == 1 else (str(value.get("package")) if "package" in value else "")
            if not label:
                entry.error("a stack entry mapping is `name@version: {options}` or `{package, channel}`")
                continue
        elif isinstance(value, str):
            label = value
        else:
            entry.error(f"must be a string, not a {type(value).__name__}")
            continue
        name, at, version = label.partition("@")
        if at and name in known:
            if version not in known[name].versions:
                entry.error(f"unknown version '{version}' of {name}", f"versions: {', '.join(known[name].versions)}")
                continue
            runtimes.append((name, version))
        else:
            packages.append(label)
    return runtimes, packages


# -- web, workers, crons, hooks -------------------------------------------------------------------------
def parse_web(node: Node | None, app_settings: InstanceSettings, runtime: Runtime) -> Web:
    if node is None or not node.is_map():
        return Web(None, None, None, "unix" if runtime.name == "php" else "tcp",
                   "fastcgi" if runtime.name == "php" else "http", (), app_settings)
    node.check_keys(WEB_KEYS, no_effect={**NO_EFFECT, "move_to_root": "legacy web.move_to_root"})
    commands = node.mapping("commands")
    if commands is not None:
        commands.check_keys(("start", "pre_start", "post_start"))
    upstream = node.mapping("upstream")
    php = runtime.name == "php"
    socket_family, protocol = ("unix" if php else "tcp"), ("fastcgi" if php else "http")
    if upstream is not None:
        upstream.check_keys(("socket_family", "protocol"))
        socket_family = upstream.choice("socket_family", ("tcp", "unix")) or socket_family
        protocol = upstream.choice("protocol", ("http", "fastcgi")) or protocol
    locations = _parse_locations(node)
    own, present = parse_settings(node)
    return Web(
        start=commands.string("start") if commands else None,
        pre_start=commands.string("pre_start") if commands else None,
        post_start=commands.string("post_start") if commands else None,
        socket_family=socket_family, protocol=protocol, locations=locations,
        settings=inherit(app_settings, own, present),
    )


def _parse_locations(web: Node) -> tuple[WebLocation, ...]:
    legacy = [key for key in ("document_root", "passthru", "index_files", "whitelist", "blacklist", "expires")
              if isinstance(web.value, dict) and key in web.value]
    locations_node = web.mapping("locations")
    if legacy and locations_node is not None:
        web.child(legacy[0]).error("legacy `web` key cannot be combined with `web.locations`",  # type: ignore[union-attr]
                                   "move it into `locations: {\"/\": ...}`")
    if legacy and locations_node is None:
        root = web.string("document_root")
        passthru_node = web.get("passthru")
        index = web.string_list("index_files")
        return (WebLocation("/", (root or "").strip("/") or None,
                            passthru_node.value if passthru_node and isinstance(passthru_node.value, (bool, str))
                            else False,
                            True, index, web.string("expires", numbers_ok=True), None, {}, {}, None),)
    result = []
    for path, location in (locations_node.items() if locations_node else ()):
        if not path.startswith("/"):
            location.error(f"location '{path}' must start with '/'")
        if location.value is None:
            result.append(WebLocation(path, None, False, True, None, None, None, {}, {}, None))
            continue
        if not location.is_map():
            continue
        location.check_keys([k for k in LOCATION_KEYS if k not in LOCATION_NO_EFFECT], no_effect=LOCATION_NO_EFFECT)
        passthru_node = location.get("passthru")
        passthru: bool | str = False
        if passthru_node is not None:
            if isinstance(passthru_node.value, (bool, str)):
                passthru = passthru_node.value
            else:
                passthru_node.error("must be true, false or a path such as /index.php")
        rules = location.mapping("rules")
        for _, rule in (rules.items() if rules else ()):
            if rule.is_map():
                rule.check_keys(RULE_KEYS, forbidden={k: f"`{k}` is not allowed inside `rules`"
                                                      for k in ("root", "index", "rules", "request_buffering")})
        headers = location.mapping("headers")
        buffering = location.mapping("request_buffering")
        if buffering is not None:
            buffering.check_keys(("enabled", "max_request_size"))
        index_node = location.child("index")
        index = None if index_node is None or index_node.value is None else location.string_list("index")
        result.append(WebLocation(
            path=path, root=location.string("root"), passthru=passthru,
            allow=allow if (allow := location.boolean("allow")) is not None else True,
            index=index, expires=location.string("expires", numbers_ok=True), scripts=location.boolean("scripts"),
            headers=plain(headers.value) if headers else {}, rules=plain(rules.value) if rules else {},
            request_buffering=plain(buffering.value) if buffering else None))
    return tuple(result)


def parse_workers(node: Node | None, app_settings: InstanceSettings) -> tuple[Worker, ...]:
    if node is None or not node.is_map():
        return ()
    workers = []
    for name, entry in node.items():
        if not NAME_PATTERN.match(name):
            entry.error(f"worker name '{name}' must be lowercase letters, digits, '-' or '_'")
        if not entry.is_map(allow_null=False):
            continue
        entry.check_keys(("commands",) + INSTANCE_KEYS, no_effect=NO_EFFECT, forbidden=WORKER_FORBIDDEN)
        commands = entry.get("commands")
        start = None
        pre_start = post_start = None
        if commands is None:
            entry.missing("commands",
                          "`commands.start` is required: a worker runs its own start command, e.g. `python worker.py`")
        elif commands.is_map(allow_null=False):
            commands.check_keys(("start", "pre_start", "post_start"))
            start = commands.string("start", required=True)
            pre_start, post_start = commands.string("pre_start"), commands.string("post_start")
        own, present = parse_settings(entry)
        if start is not None:
            workers.append(Worker(name, start, pre_start, post_start, inherit(app_settings, own, present),
                                  entry.origin))
    return tuple(workers)


def parse_crons(node: Node | None) -> tuple[Cron, ...]:
    if node is None or not node.is_map():
        return ()
    crons = []
    for name, entry in node.items():
        if not entry.is_map(allow_null=False):
            continue
        entry.check_keys(("spec", "commands", "cmd", "shutdown_timeout", "timeout"))
        spec = entry.string("spec", required=True)
        if spec is not None:
            fields = spec.split()
            if len(fields) != 5 or not all(CRON_FIELD.match(f) for f in fields):
                entry.child("spec").error(f"'{spec}' is not a 5-field cron spec",  # type: ignore[union-attr]
                                          "minute hour day-of-month month day-of-week, e.g. `*/20 * * * *`")
                spec = None
            elif problem := hash_problem(spec):
                entry.child("spec").error(f"'{spec}': {problem}",  # type: ignore[union-attr]
                                          "H(low-high) takes a range within the field's values, e.g. `H(0-29) * * * *`")
                spec = None
        commands = entry.mapping("commands")
        start = stop = None
        if commands is not None:
            commands.check_keys(("start", "stop"))
            start, stop = commands.string("start", required=True), commands.string("stop")
        elif entry.get("cmd") is not None:
            start = entry.string("cmd")
        else:
            entry.missing("commands", "`commands.start` is required, e.g. commands: {start: \"php cron.php\"}")
        timeout = entry.integer("timeout", minimum=1)
        shutdown = entry.integer("shutdown_timeout", minimum=0)
        if spec and start:
            crons.append(Cron(name, spec, start, stop, 10 if shutdown is None else shutdown,
                              86400 if timeout is None else timeout, entry.origin))
    return tuple(crons)


def parse_hooks(node: Node | None) -> Hooks:
    if node is None or not node.is_map():
        return Hooks()
    node.check_keys(("build", "deploy", "post_deploy"))
    return Hooks(node.string("build"), node.string("deploy"), node.string("post_deploy"))


# -- the app --------------------------------------------------------------------------------------
def parse_app(name: str, node: Node, default_root: str, is_platform: bool, flat_file: bool) -> App | None:
    if not node.is_map(allow_null=False):
        return None
    node.check_keys(APP_KEYS, no_effect=NO_EFFECT)
    declared = node.string("name")
    if flat_file and not declared:
        node.missing("name", "every app needs a name, e.g. `name: app`")
        return None
    if declared and name and declared != name:
        node.child("name").error(f"name '{declared}' differs from the key '{name}' it is defined under")  # type: ignore[union-attr]
    name = name or declared or ""
    if not NAME_PATTERN.match(name):
        (node.child("name") or node).error(f"app name '{name}' must be lowercase letters, digits, '-' or '_'")
    runtime = parse_runtime(node)
    source = node.mapping("source")
    source_root = default_root
    if source is not None:
        source.check_keys(("root",), no_effect={"operations": "source operations (they update code on the platform)"})
        root = source.string("root")
        if root is not None:
            source_root = root.strip().strip("/")
            if ".." in source_root.split("/"):
                source.child("root").error("`source.root` must stay inside the project")  # type: ignore[union-attr]
    settings, _ = parse_settings(node)
    build = node.mapping("build")
    flavor = None
    if build is not None:
        build.check_keys(("flavor", "caches"))
        flavor = build.string("flavor")
        if flavor is not None and flavor not in FLAVORS:
            build.child("flavor").warn(f"unknown build flavor '{flavor}'; no flavor step runs locally",  # type: ignore[union-attr]
                                       f"flavors: {', '.join(FLAVORS)}")
    toolstack = node.string("toolstack")
    if toolstack and ":" in toolstack and flavor is None:
        flavor = toolstack.split(":", 1)[1]
    dependencies = _parse_dependencies(node.mapping("dependencies"))
    runtime_node = node.mapping("runtime")
    if runtime_node is not None:
        runtime_node.check_keys(("extensions", "disabled_extensions"), no_effect=RUNTIME_NO_EFFECT)
    if runtime is None:
        return None
    if runtime.composable:
        for key in ("build", "dependencies"):
            ignored = node.get(key)
            if ignored is not None and ignored.value:
                ignored.warn(f"`{key}` is replaced by `stack` in composable apps; ignored")
    web = parse_web(node.get("web"), settings, runtime)
    workers = parse_workers(node.get("workers"), settings)
    if is_platform:
        warn_local_mounts_without_disk(node.ck, [web.settings] + [w.settings for w in workers])
    return App(name=name, runtime=runtime, source_root=source_root, build_flavor=flavor, dependencies=dependencies,
               runtime_options=plain(runtime_node.value) if runtime_node else {},
               hooks=parse_hooks(node.get("hooks")), crons=parse_crons(node.get("crons")),
               web=web, workers=workers, settings=settings, timezone=node.string("timezone"),
               raw=plain(node.value), origin=node.origin)


def _parse_dependencies(node: Node | None) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {}
    for language, packages in (node.items() if node else ()):
        if packages.value is None:
            continue
        if packages.is_map():
            result[language] = {}
            for package, constraint in packages.items():
                text = constraint.as_string(numbers_ok=True) if constraint.value is not None else "*"
                if text is not None:
                    result[language][package] = text
    return result
