"""What each CLI command does, end to end: load -> plan -> images -> observe -> decide -> apply.

These functions hold the sequence of a command; the decisions live in `controller.decide`, the
engine calls in `engine`, and printing in `cli`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from orchestrator import source
from orchestrator.catalog import templates_dir
from orchestrator.config.model import Project
from orchestrator.config.validate import load_project
from orchestrator.controller import (APP_ENV, Action, Deployer, decide, described, observe, project_lock,
                                     run_parallel)
from orchestrator.engine import ContainerState, Engine
from orchestrator.errors import OrchestratorError
from orchestrator.failures import crash_of, runs
from orchestrator.gitinfo import current_branch
from orchestrator.images import ImageResolver, build_app_image, load_image_map, php_extension_problems
from orchestrator.plan import LABEL, Plan, environment_for, translate
from orchestrator.router import LocalRoute
from orchestrator.sizing import local_sizes
from orchestrator.progress import Reporter
from orchestrator.state import credentials, forget_credentials, state_dir


@dataclass(frozen=True)
class Target:
    """Which project and environment a command acts on."""

    root: Path
    layout: str = "auto"
    project: str | None = None
    environment: str | None = None
    environment_type: str | None = None
    domain: str | None = None
    router_port: int | None = None
    sizes: tuple[str, ...] = ()  # `--size INSTANCE=SIZE` items (over $ORCHESTRATOR_SIZES)


def _templates_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((templates_dir() / "runtime").iterdir()):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def make_plan(target: Target, with_sources: bool = True, stored_credentials: bool = True
              ) -> tuple[Project, Plan, list]:
    """Load, validate and translate. `stored_credentials=False` uses stand-in passwords derived from the
    project name, for output that must be the same on every machine (the exported Compose files)."""
    project, warnings = load_project(target.root, target.layout, target.project)
    branch = target.environment or current_branch(target.root)
    environment = environment_for(branch, target.domain, project.name, target.environment_type, target.router_port)
    digests = None
    if with_sources:
        templates = _templates_digest()
        digests = {app.name: hashlib.sha256((source.digest(target.root / app.source_root) + templates).encode())
                   .hexdigest() for app in project.apps}
    secrets = credentials(project) if stored_credentials else None
    sizes = local_sizes(target.sizes, os.environ)
    return project, translate(project, environment, secrets, source_digests=digests, sizes=sizes), warnings


def project_name(target: Target) -> str:
    """The project's name without reading sources (commands that only look at what runs)."""
    if target.project:
        return target.project
    return load_project(target.root, target.layout)[0].name


@dataclass
class UpResult:
    actions: list[Action]
    plan: Plan
    notes: list[str]
    states: list[ContainerState]  # what runs once the deploy is done (empty for a dry run)
    routes: list[RouteCheck] = field(default_factory=list)
    local_ca: Path | None = None  # where the CA of the HTTPS routes was written, when it was new
    crashes: list[str] = field(default_factory=list)  # app instances this deploy started that crashed since


@dataclass(frozen=True)
class RouteCheck:
    """A route, its local URL, and what it answered through the router after the deploy."""

    route: LocalRoute
    ports: tuple[int, int]  # the router's (http, https) ports
    status: int | None  # None: not asked (a redirect); 0: no answer
    problem: str = ""  # why the route does not answer, with the web instance's last log lines


ROUTE_TIMEOUT = float(os.environ.get("ORCHESTRATOR_ROUTE_TIMEOUT", "30"))
# how long an app instance this deploy started must have run before `up` says it did not crash on start
SETTLE_SECONDS = float(os.environ.get("ORCHESTRATOR_SETTLE_SECONDS", "2"))
LOCAL_CA_FILE = "local-ca.crt"


def check_routes(engine: Engine, plan: Plan, states: list[ContainerState], since: float | None = None
                 ) -> list[RouteCheck]:
    """Request every upstream route through the router (each waited for, at most ROUTE_TIMEOUT seconds, all
    at once); a route that does not answer says which instance should have, and its last log lines (with
    its exit status and run time when it crashed since `since`, the deploy's start)."""
    from orchestrator import probe
    ports = (plan.environment.http_port, plan.environment.https_port)
    if not ports[0] or not any(s.role == "router" for s in plan.instances):
        return []
    routes = list(plan.routes)
    webs = {s.labels.get(f"{LABEL}.app"): s for s in states if s.labels.get(f"{LABEL}.role") == "web"}

    def crashed(web: ContainerState | None) -> Callable[[], bool]:
        """Whether the web instance behind a route has exited or restarted since the deploy: then the route
        will not answer however long `up` waits."""
        def check() -> bool:
            state = engine.inspect(web.id) if web is not None else None
            return state is None or state.status in ("exited", "dead", "restarting") \
                or state.restart_count > web.restart_count
        return check

    def check(route: LocalRoute) -> RouteCheck:
        if route.type != "upstream":
            return RouteCheck(route, ports, None)
        web = webs.get(route.upstream)
        answer = probe.wait_for_answer(route.local_url, ROUTE_TIMEOUT, hopeless=crashed(web))
        if 0 < answer.status < 500:
            return RouteCheck(route, ports, answer.status)
        why = answer.error or f"status {answer.status}"
        if web is None:
            return RouteCheck(route, ports, answer.status, f"{why}; app {route.upstream} has no running web instance")
        if crashed(web)():
            crash = crash_of(engine, web.id, f"web instance {web.labels.get(f'{LABEL}.instance')}",
                             since or time.time() - 600)
            if crash is not None:
                return RouteCheck(route, ports, answer.status, f"{why}; {crash.text()}")
        tail = b"".join(engine.logs(web.id, tail=15)).decode("utf-8", "replace").rstrip()
        from orchestrator.secrets import mask_text
        tail = mask_text(tail, secrets_in(engine, [web]))
        return RouteCheck(route, ports, answer.status, f"{why}; the last log lines of web instance "
                          f"{web.labels.get(f'{LABEL}.instance')}:\n" + "\n".join("    " + line for line in tail.splitlines()))

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(routes)))) as pool:
        return list(pool.map(check, routes))


def export_local_ca(engine: Engine, states: list[ContainerState]) -> Path | None:
    """Copy the machine's local CA certificate (made by the first router) to the state directory, so a
    user can trust it; the path when the file is new or changed, else None."""
    router = next((s for s in states if s.labels.get(f"{LABEL}.role") == "router" and s.status == "running"), None)
    if router is None:
        return None
    for _ in range(20):  # the router makes the CA as it starts
        status, output, _ = engine.exec(router.id, ["cat", "/ca/ca.crt"], workdir="/")
        if status == 0 and output.startswith(b"-----BEGIN"):
            break
        time.sleep(0.25)
    else:
        return None
    path = state_dir() / LOCAL_CA_FILE
    if path.exists() and path.read_bytes() == output:
        return None
    path.write_bytes(output)
    path.chmod(0o644)
    return path


def up(target: Target, reporter: Reporter, images_file: str | None = None, dry_run: bool = False) -> UpResult:
    project, plan, _ = make_plan(target)
    engine = Engine()
    services = {s.name: s for s in project.services}
    with project_lock(plan.project, reporter.step):
        before = engine.containers(plan.project)
        observed = observe(before)
        if dry_run:
            ids = {build.image: engine.image_id(build.image) for build in plan.images}
            return UpResult(decide(plan, observed, ids), plan, [f"build image {b.image} for app {b.app}"
                                                                for b in plan.images if not ids[b.image]], [])
        problems = [problem for build in plan.images for problem in php_extension_problems(build)]
        if problems:
            raise OrchestratorError("; ".join(problems) + "; nothing was changed")
        resolver = ImageResolver(engine, reporter, load_image_map(images_file))
        refs: dict[str, str] = {}
        ids: dict[str, str | None] = {}
        for spec in plan.instances:
            if spec.role == "service" and spec.image not in refs:
                service = services[spec.app]
                resolved = resolver.service_image(service.type, service.version, spec.image)
                refs[spec.image], ids[spec.image] = resolved.ref, engine.image_id(resolved.ref)
            elif spec.role == "router" and spec.image not in refs:
                resolved = resolver.router_image()
                refs[spec.image], ids[spec.image] = resolved.ref, engine.image_id(resolved.ref)
        for build in plan.images:
            ids[build.image] = build_app_image(engine, resolver, build, target.root, reporter, plan.project)
            refs[build.image] = build.image
        actions = decide(plan, observed, ids)
        deployer = Deployer(engine, reporter.step)
        deployer.apply(plan, actions, refs)
        applied = time.monotonic()
    # after a deploy that changed nothing, what was observed is what runs: no second look
    unchanged = all(a.kind == "keep" for a in actions) and len(observed) == len(actions)
    states = sorted(before if unchanged else engine.containers(plan.project), key=_order)
    local_ca = export_local_ca(engine, states) if any(a.kind != "keep" for a in actions if a.role == "router") \
        or not (state_dir() / LOCAL_CA_FILE).exists() else None
    routes = check_routes(engine, plan, states, deployer.started_at)
    told = {check.route.upstream for check in routes if check.problem}  # a crashed web is in its route's warning
    crashes = started_crashes(engine, actions, states, deployer.started_at, deployer.started, applied, told)
    return UpResult(actions, plan, resolver.notes, states, routes, local_ca, crashes)


def started_crashes(engine: Engine, actions: list[Action], states: list[ContainerState], since: float,
                    started_at: dict[str, float], applied: float, told: set[str]) -> list[str]:
    """The app instances this deploy started that have crashed since (a worker whose command exits at once
    fails no deploy, as on the platform, but says why here), each as a crash report. Each has had at least
    SETTLE_SECONDS (after the deploy, the route checks usually took that long already)."""
    started = [a for a in actions if a.kind in ("create", "recreate", "start") and a.role in ("web", "worker")
               and not (a.role == "web" and a.spec is not None and a.spec.app in told)]
    by_instance = {s.labels.get(f"{LABEL}.instance"): s for s in states}
    if not started:
        return []
    last_start = max(started_at.get(a.instance, applied) for a in started)  # a web started before its hook ran
    time.sleep(max(0.0, last_start + SETTLE_SECONDS - time.monotonic()))  # has had its time already
    found = [crash_of(engine, by_instance[a.instance].id, described(a), since) for a in started
             if a.instance in by_instance]
    return [crash.text() for crash in found if crash is not None]


def prepare_images(target: Target, reporter: Reporter, images_file: str | None = None) -> list[str]:
    """Resolve (and build where needed) every base and service image the project uses, ahead of `up`."""
    project, plan, _ = make_plan(target, with_sources=False)
    engine = Engine()
    resolver = ImageResolver(engine, reporter, load_image_map(images_file))
    done = []
    for build in plan.images:
        done.append(f"app {build.app}: base {resolver.runtime_base(build.runtime, build.version, build.base_image).ref}")
    for service in project.services:
        spec = next((s for s in plan.instances if s.name == service.name), None)
        if spec is not None:
            done.append(f"service {service.name}: {resolver.service_image(service.type, service.version, spec.image).ref}")
    if any(spec.role == "router" for spec in plan.instances):
        done.append(f"router: {resolver.router_image().ref}")
    return done  # the notes were said as each image was chosen


def containers(target: Target) -> tuple[Engine, list[ContainerState]]:
    engine = Engine()
    return engine, sorted(engine.containers(project_name(target)), key=_order)


def _order(state: ContainerState) -> tuple:
    role = state.labels.get(f"{LABEL}.role", "")
    return ({"service": 0, "web": 1, "worker": 2, "router": 3}.get(role, 4), state.labels.get(f"{LABEL}.instance", ""))


def resolve_instance(workers_by_app: dict[str, list[str]], app: str | None, worker: str | None) -> str:
    """The instance that --app/--worker name (`app` or `app--worker`); the one app when --app is left out.
    Every command that picks one instance resolves it here, so they all say the same about a bad name."""
    apps = sorted(workers_by_app)
    if not apps:
        raise OrchestratorError("nothing runs for this project; run `orchestrator up` first")
    owner = app or (apps[0] if len(apps) == 1 else None)
    if owner is None:
        raise OrchestratorError(f"several apps ({', '.join(apps)}): say which with --app")
    if owner not in workers_by_app:
        raise OrchestratorError(f"no app {owner}; apps: {', '.join(apps)}")
    if worker and worker not in workers_by_app[owner]:
        known = ", ".join(sorted(workers_by_app[owner])) or "(none)"
        raise OrchestratorError(f"app {owner} has no worker {worker}; workers: {known}")
    return f"{owner}--{worker}" if worker else owner


def _workers_by_app(states: list[ContainerState]) -> dict[str, list[str]]:
    """App name -> its workers' names, from the labels of the project's containers."""
    found: dict[str, list[str]] = {}
    for state in states:
        role, owner = state.labels.get(f"{LABEL}.role"), state.labels.get(f"{LABEL}.app", "")
        if role in ("web", "worker"):
            workers = found.setdefault(owner, [])
            if role == "worker":
                workers.append(state.labels.get(f"{LABEL}.instance", "").split("--", 1)[-1])
    return found


def select(states: list[ContainerState], app: str | None, worker: str | None) -> list[ContainerState]:
    """The containers named by --app/--worker (all app and worker instances when neither is given)."""
    if worker:
        wanted = resolve_instance(_workers_by_app(states), app, worker)
        return [s for s in states if s.labels.get(f"{LABEL}.instance") == wanted]
    if app:
        chosen = [s for s in states if s.labels.get(f"{LABEL}.app") == app]
        if not chosen:
            apps = ", ".join(sorted(_workers_by_app(states))) or "(nothing)"
            raise OrchestratorError(f"no app or service {app}; running: {apps}")
        return chosen
    return states


def down(target: Target, reporter: Reporter, volumes: bool = False) -> int:
    engine = Engine()
    name = project_name(target)
    with project_lock(name, reporter.step):
        states = engine.containers(name)
        if states:
            reporter.step(f"stopping {len(states)} container(s)")
        _parallel(lambda s: (engine.stop(s.id, 15), engine.remove(s.id)), states)  # each removed as soon as it stops
        for network in engine.networks(name):
            engine.remove_network(network)
        removed = 0
        for volume in engine.volumes(name) if volumes else []:
            engine.remove_volume(volume["name"])
            removed += 1
        if volumes:
            forget_credentials(name)
            reporter.step(f"removed {removed} volume(s) and the project's generated credentials")
        return len(states)


def _parallel(function: Callable, items: list) -> None:
    errors = [e for e in run_parallel(function, items, limit=len(items)) if e]
    if errors:
        raise OrchestratorError(str(errors[0]))


def stop(target: Target, app: str | None, worker: str | None) -> list[str]:
    engine, states = containers(target)
    chosen = select(states, app, worker)
    _parallel(lambda s: engine.stop(s.id, 15), chosen)
    return [s.labels.get(f"{LABEL}.instance", s.name) for s in chosen]


def start(target: Target, app: str | None, worker: str | None) -> list[str]:
    engine, states = containers(target)
    chosen = select(states, app, worker)
    _parallel(lambda s: engine.start(s.id), chosen)
    return [s.labels.get(f"{LABEL}.instance", s.name) for s in chosen]


def restart(target: Target, app: str | None, worker: str | None) -> list[str]:
    engine, states = containers(target)
    chosen = select(states, app, worker)
    _parallel(lambda s: engine.stop(s.id, 15), chosen)
    _parallel(lambda s: engine.start(s.id), chosen)
    return [s.labels.get(f"{LABEL}.instance", s.name) for s in chosen]


def uptime(state: ContainerState, now: datetime | None = None) -> str:
    if state.status != "running" or not state.started_at:
        return "-"
    started = datetime.fromisoformat(state.started_at[:26].rstrip("Z") + "+00:00")
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - started).total_seconds()))
    if seconds >= 86400:
        return f"{seconds // 86400}d{(seconds % 86400) // 3600}h"
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60}s"
    return f"{seconds}s"


def last_exit_codes(engine: Engine, states: list[ContainerState]) -> dict[str, int]:
    """The exit code of each instance's last run. The engine forgets it when the restart policy starts
    the container again, so for a restarted container it is read from what the init kept, else from the
    engine's events (its last `die`)."""
    return {state.id: _restarted_exit(engine, state) if state.status == "running" and state.restart_count
            else state.exit_code for state in states}


EXIT_EVENTS_SECONDS = 3600  # how far back the engine's events are asked for a restarted container's last exit


def _restarted_exit(engine: Engine, state: ContainerState) -> int:
    """The last exit of a container the restart policy started again: the init's file (app containers
    whose /run outlives a restart), else the engine's last `die` event of it (services too)."""
    if state.labels.get(f"{LABEL}.role") != "service":
        kept = (engine.read_file(state.id, "/run/orchestrator/last-exit") or b"").strip()
        if kept.isdigit():
            return int(kept)
    now = time.time()
    ended = [run for run in runs(engine.container_events(state.id, now - EXIT_EVENTS_SECONDS, now))
             if run.exit_code is not None]
    return ended[-1].exit_code if ended else state.exit_code


def secrets_in(engine: Engine, chosen: list[ContainerState]) -> set[str]:
    """Every secret value in the environment of the chosen containers, to mask in their log lines."""
    from orchestrator.secrets import secret_values
    found: set[str] = set()
    for state in chosen:
        found |= secret_values(engine.container_env(state.id))
    return found


def stream_logs(engine: Engine, chosen: list[ContainerState], follow: bool, since: int | None,
                emit: Callable[[str, str], None]) -> None:
    """Every chosen instance's log lines, each passed to `emit(instance, line)`; follows them all at once."""
    def pump(state: ContainerState) -> None:
        instance = state.labels.get(f"{LABEL}.instance", state.name)
        buffer = b""
        for chunk in engine.logs(state.id, follow=follow, since=since):
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                emit(instance, line.decode("utf-8", "replace"))
        if buffer:
            emit(instance, buffer.decode("utf-8", "replace"))

    threads = [threading.Thread(target=pump, args=(state,), daemon=True) for state in chosen]
    for thread in threads:
        thread.start()
    try:
        while any(t.is_alive() for t in threads):
            time.sleep(0.1)
    except KeyboardInterrupt:
        return


def relationships(target: Target, app: str | None, worker: str | None, show_secrets: bool) -> dict[str, list[dict]]:
    """The decoded PLATFORM_RELATIONSHIPS of one instance (the web instance unless --worker), passwords
    and API tokens masked unless asked for."""
    import base64
    import json
    from orchestrator.secrets import mask_relationships
    _, plan, _ = make_plan(target, with_sources=False)
    workers_by_app = {s.app: [w.name.split("--", 1)[1] for w in plan.instances if w.role == "worker" and w.app == s.app]
                      for s in plan.instances if s.role == "web"}
    spec = plan.instance(resolve_instance(workers_by_app, app, worker))
    decoded = json.loads(base64.b64decode(spec.env["PLATFORM_RELATIONSHIPS"]))
    return decoded if show_secrets else mask_relationships(decoded)


LOGIN_SHELL = ("cd /app 2>/dev/null; if command -v bash >/dev/null 2>&1; then exec orchestrator-env bash -l; "
               "else exec orchestrator-env sh -l; fi")  # orchestrator-env: the app's user and .environment


def instance_container(target: Target, app: str | None, worker: str | None) -> ContainerState:
    """The running container of the named app's web instance or worker; errors list what exists."""
    _, states = containers(target)
    wanted = resolve_instance(_workers_by_app(states), app, worker)
    chosen = [s for s in states if s.labels.get(f"{LABEL}.instance") == wanted]
    if not chosen:  # its web instance is gone while workers remain
        raise OrchestratorError(f"{wanted} does not run; `orchestrator up` first")
    if chosen[0].status != "running":
        raise OrchestratorError(f"{wanted} is {chosen[0].status}; `orchestrator start` it first")
    return chosen[0]


def run_command(target: Target, app: str | None, worker: str | None, command: list[str],
                on_stdout: Callable[[bytes], None], on_stderr: Callable[[bytes], None]) -> int:
    state = instance_container(target, app, worker)
    if state.labels.get(f"{LABEL}.role") in ("web", "worker"):  # as an ssh login: the app's user, .environment
        return Engine().exec_stream(state.id, [APP_ENV, *command], on_stdout, on_stderr)
    return Engine().exec_stream(state.id, command, on_stdout, on_stderr)


@dataclass(frozen=True)
class CronInfo:
    app: str
    name: str
    spec: str
    runs_as: str
    next_run: str
    last_run: str


def cron_list(target: Target) -> list[CronInfo]:
    from orchestrator.crons import next_run, normalise
    project, _, _ = make_plan(target, with_sources=False)
    engine, states = containers(target)
    running = {s.labels.get(f"{LABEL}.app"): s for s in states
               if s.labels.get(f"{LABEL}.role") == "web" and s.status == "running"}
    now = datetime.now(timezone.utc)
    result = []
    for app in project.apps:
        for cron in app.crons:
            last = "-"
            state = running.get(app.name)
            if state is not None:
                code, out, _ = engine.exec(state.id, ["cat", f"/run/orchestrator/cron/{cron.name}.last"])
                if code == 0:
                    when, _, status = out.decode().strip().partition(" ")
                    last = f"{when} (exit {status})"
            upcoming = next_run(cron, app, now)
            result.append(CronInfo(app.name, cron.name, cron.spec, normalise(cron.spec, f"{app.name}:{cron.name}"),
                                   upcoming.strftime("%Y-%m-%dT%H:%M:%SZ") if upcoming else "-", last))
    return result


def cron_run(target: Target, app: str | None, name: str, on_stdout: Callable[[bytes], None],
             on_stderr: Callable[[bytes], None]) -> int:
    state = instance_container(target, app, None)
    project, _ = load_project(target.root, target.layout, target.project)
    owner = state.labels.get(f"{LABEL}.app")
    known = [cron.name for a in project.apps if a.name == owner for cron in a.crons]
    if name not in known:
        raise OrchestratorError(f"no cron {name}; crons: {', '.join(known) or '(none)'}")
    return Engine().exec_stream(state.id, ["orchestrator-cron", "run", name], on_stdout, on_stderr)


def compose_export(target: Target, output: Path | None, endpoint_mode: str):
    """The project as a Compose export whose relative paths suit a file written to `output`."""
    from orchestrator.export import compose as exporter
    _, plan, _ = make_plan(target, stored_credentials=False)
    where = output.parent if output else Path.cwd()
    return exporter.export(plan, target.root, where, output.stem if output else plan.project, endpoint_mode)


def compose(target: Target, output: Path | None, endpoint_mode: str) -> tuple[str, list[Path]]:
    """The Compose YAML (stdout), or the file and the Dockerfiles it builds from, written."""
    from orchestrator.export import compose as exporter
    result = compose_export(target, output, endpoint_mode)
    if output is None:
        return result.yaml(), []
    return "", exporter.write(result, output)
