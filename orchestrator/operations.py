"""What each CLI command does, end to end: load -> plan -> images -> observe -> decide -> apply.

These functions hold the sequence of a command; the decisions live in `controller.decide`, the
engine calls in `engine`, and printing in `cli`.
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

from orchestrator import deployment, identity, source
from orchestrator.catalog import templates_dir
from orchestrator.config.checks import ConfigProblem
from orchestrator.config.model import Project
from orchestrator.config.validate import load_project
from orchestrator.controller import NEXT_SUFFIX, STARTING, Action, Deployer, decide, described
from orchestrator.deployment import project_lock
from orchestrator.engine import ContainerState, Engine
from orchestrator.errors import OrchestratorError
from orchestrator.failures import crash_of
from orchestrator.gitinfo import current_branch
from orchestrator.images import ImageResolver, build_app_image, load_image_map, prune_app_images
from orchestrator.instance_state import InstanceDetail, instance_details
from orchestrator.logs import secrets_in
from orchestrator.names import project_name as directory_project_name
from orchestrator.observed import HOLD_POLICY, Observed, listed, observe
from orchestrator.parallel import run_parallel
from orchestrator.identity import InstanceRef
from orchestrator.plan import (RESTART_POLICY, STOP_TIMEOUT, ContainerSpec, Environment, Plan, environment_for,
                               translate)
from orchestrator.progress import Reporter
from orchestrator.recipe import APP_ENV, php_extension_problems
from orchestrator.router import LocalRoute
from orchestrator.sizing import local_sizes
from orchestrator.state import forget_legacy_credentials, legacy_credentials, state_dir


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
    adopt: bool = False  # act on (and move here) a deployment of this name made from another directory


def _templates_digest() -> str:
    h = hashlib.sha256()
    for path in sorted((templates_dir() / "runtime").iterdir()):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


class PlannedProject(NamedTuple):
    """What `make_plan` gives: the validated config, its Plan, and the config's warnings."""

    project: Project
    plan: Plan
    warnings: list[ConfigProblem]


def make_plan(target: Target, with_sources: bool = True, engine: Engine | None = None) -> PlannedProject:
    """Load, validate and translate. The passwords are the deployment's, read (never made) from `engine`
    when it is given; without one they are stand-ins derived from the project name, so `plan`, `validate`
    and `compose` never reach the engine nor write anything."""
    project, warnings = load_project(target.root, target.layout, target.project)
    environment = _environment(target, project)
    secrets = _credentials(engine, project, environment, False) if engine is not None else None
    return PlannedProject(project, _translate(target, project, environment, secrets, with_sources), warnings)


def _environment(target: Target, project: Project) -> Environment:
    branch = target.environment or current_branch(target.root)
    return environment_for(branch, target.domain, project.name, target.environment_type, target.router_port)


def _translate(target: Target, project: Project, environment: Environment, secrets: dict | None,
               with_sources: bool) -> Plan:
    digests = None
    if with_sources:
        templates = _templates_digest()
        digests = {app.name: hashlib.sha256((source.digest(target.root / app.source_root) + templates).encode())
                   .hexdigest() for app in project.apps}
    return translate(project, environment, secrets, source_digests=digests, sizes=local_sizes(target.sizes, os.environ))


def _credentials(engine: Engine, project: Project, environment: Environment, create: bool) -> dict | None:
    """The deployment's passwords (see `deployment.credentials`); an earlier version's, kept in this user's
    state directory, move into the deployment as it gets its own."""
    def data_volumes() -> list[str]:  # the data volumes of services that have passwords (a replica: its primary's)
        owners = {s.credentials_owner for s in project.services if s.endpoints}
        with_passwords = {s.name for s in project.services if s.credentials_owner in owners}
        return [mount.volume for spec in translate(project, environment).instances
                if spec.role == "service" and spec.app in with_passwords
                for mount in spec.mounts if mount.source == "data" and mount.volume]

    legacy = legacy_credentials(project.name)
    found = deployment.credentials(engine, project, create, legacy, data_volumes)
    if create and legacy:
        forget_legacy_credentials(project.name)
    return found


def project_name(target: Target) -> str:
    """The project's name without reading the config (commands that only look at what runs work even while
    the config has a mistake): `--project`, else the directory's name."""
    return target.project or directory_project_name(target.root)


def deployment_engine(target: Target, say: Callable[[str], None] = lambda _: None, move: bool = False
                      ) -> tuple[Engine, str]:
    """The engine and project name of a command that acts on a deployment, once it is sure the deployment is
    this directory's (see `deployment.check_home`). `move`: with `--adopt`, make this directory the
    deployment's home (only commands that hold the project's lock do)."""
    engine = Engine()
    name = project_name(target)
    deployment.check_home(engine, name, target.root, target.adopt, say=say, move=move)
    return engine, name


@dataclass
class UpResult:
    actions: list[Action]
    plan: Plan
    notes: list[str]
    states: list[Observed]  # what runs once the deploy is done (empty for a dry run)
    routes: list[RouteCheck] = field(default_factory=list)
    local_ca: Path | None = None  # where the CA of the HTTPS routes was written, when it was new
    crashes: list[str] = field(default_factory=list)  # app instances this deploy started that crashed since
    details: dict[str, InstanceDetail] = field(default_factory=dict)  # of `states`, for the summary (as `ps`)


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


def check_routes(engine: Engine, plan: Plan, states: list[Observed], since: float | None = None
                 ) -> list[RouteCheck]:
    """Request every upstream route through the router (each waited for, at most ROUTE_TIMEOUT seconds, all
    at once); a route that does not answer says which instance should have, and its last log lines (with
    its exit status and run time when it crashed since `since`, the deploy's start)."""
    from orchestrator import probe
    ports = (plan.environment.http_port, plan.environment.https_port)
    if not ports[0] or not any(s.role == "router" for s in plan.instances):
        return []
    routes = list(plan.routes)
    webs: dict[str | None, Observed] = {s.app: s for s in states if s.role == "web"}

    def crashed(web: Observed | None) -> Callable[[], bool]:
        """Whether the web instance behind a route has exited or restarted since the deploy: then the route
        will not answer however long `up` waits."""
        def check() -> bool:
            state = engine.inspect(web.id) if web is not None else None
            return web is None or state is None or state.status in ("exited", "dead", "restarting") \
                or state.restart_count > web.engine_state.restart_count
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
            crash = crash_of(engine, web.id, f"web instance {web.instance}",
                             since or time.time() - 600)
            if crash is not None:
                return RouteCheck(route, ports, answer.status, f"{why}; {crash.text()}")
        tail = b"".join(engine.logs(web.id, tail=15)).decode("utf-8", "replace").rstrip()
        from orchestrator.secrets import mask_text
        tail = mask_text(tail, secrets_in(engine, [web]))
        return RouteCheck(route, ports, answer.status, f"{why}; the last log lines of web instance "
                          f"{web.instance}:\n" + "\n".join("    " + line for line in tail.splitlines()))

    with ThreadPoolExecutor(max_workers=max(1, min(8, len(routes)))) as pool:
        return list(pool.map(check, routes))


def export_local_ca(engine: Engine, states: list[Observed]) -> Path | None:
    """Copy the machine's local CA certificate (made by the first router) to the state directory, so a
    user can trust it; the path when the file is new or changed, else None."""
    router = next((s for s in states if s.role == "router" and s.status == "running"), None)
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
    project, _ = load_project(target.root, target.layout, target.project)  # a config mistake: nothing touched
    engine = Engine()
    services = {s.name: s for s in project.services}
    with nullcontext() if dry_run else project_lock(project.name, reporter.step):  # a dry run writes nothing
        deployment.check_home(engine, project.name, target.root, target.adopt, create=not dry_run,
                              say=reporter.step, deploying=True, move=not dry_run)
        environment = _environment(target, project)
        plan = deployment.with_home(_translate(target, project, environment,
                                               _credentials(engine, project, environment, not dry_run), True),
                                    target.root)
        observed = observe(engine.containers(plan.project))
        if dry_run:
            ids = {build.image: engine.image_id(build.image) for build in plan.images}
            return UpResult(decide(plan, observed, ids), plan, [f"build image {b.image} for app {b.app}"
                                                                for b in plan.images if not ids[b.image]], [])
        problems = [problem for build in plan.images for problem in php_extension_problems(build)]
        if problems:
            raise OrchestratorError("; ".join(problems) + "; nothing was changed")
        resolver = ImageResolver(engine, reporter, load_image_map(images_file))
        refs: dict[str, str] = {}
        ids = {}
        from orchestrator.interrupts import handled
        with handled() as interrupts:  # Ctrl-C/SIGTERM: a build stops; a deploy ends its step, then rolls back
            for spec in plan.instances:  # stand-in images may be built here (minutes, the first time)
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
            deployer = Deployer(engine, reporter.step, interrupts=interrupts)
            deployer.apply(plan, actions, refs)
        if any(a.kind in ("create", "recreate") for a in actions):  # only a new container can leave an image
            prune_app_images(engine, plan.project)  # each app's running image and the previous one stay
        applied = time.monotonic()
    # after a deploy that changed nothing, what was observed is what runs: no second look
    unchanged = all(a.kind == "keep" for a in actions) and len(observed) == len(actions)
    states = sorted(observed, key=Observed.order) if unchanged else listed(engine.containers(plan.project))
    local_ca = export_local_ca(engine, states) if any(a.kind != "keep" for a in actions if a.role == "router") \
        or not (state_dir() / LOCAL_CA_FILE).exists() else None
    routes = check_routes(engine, plan, states, deployer.started_at)
    told = {check.route.upstream for check in routes if check.problem}  # a crashed web is in its route's warning
    crashes = started_crashes(engine, actions, states, deployer.started_at, deployer.started, applied, told)
    try:
        details = instance_details(engine, states)
    except Exception:  # a summary of what was done: the engine's own state then, as it was observed
        details = {}
    return UpResult(actions, plan, resolver.notes, states, routes, local_ca, crashes, details)


def started_crashes(engine: Engine, actions: list[Action], states: list[Observed], since: float,
                    started_at: dict[str, float], applied: float, told: set[str | None]) -> list[str]:
    """The app instances this deploy started that have crashed since (a worker whose command exits at once
    fails no deploy, as on the platform, but says why here), each as a crash report. Each has had at least
    SETTLE_SECONDS (after the deploy, the route checks usually took that long already)."""
    started = [a for a in actions if a.kind in STARTING and a.role in identity.APP_ROLES
               and not (a.role == "web" and a.spec is not None and a.spec.app in told)]
    by_instance = {s.instance: s for s in states}
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
        done.append(f"app {build.app}: "
                    f"base {resolver.runtime_base(build.runtime, build.version, build.base_image).ref}")
    for service in project.services:
        spec = next((s for s in plan.instances if s.name == service.name), None)
        if spec is not None:
            done.append(f"service {service.name}: "
                        f"{resolver.service_image(service.type, service.version, spec.image).ref}")
    if any(spec.role == "router" for spec in plan.instances):
        done.append(f"router: {resolver.router_image().ref}")
    return done  # the notes were said as each image was chosen


def containers(target: Target) -> tuple[Engine, list[Observed]]:
    """The deployment's containers, read through their labels, in the order `ps` lists them."""
    engine, name = deployment_engine(target)
    return engine, listed(engine.containers(name))


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
    return identity.worker_instance(owner, worker)


def _workers_by_app(refs: Iterable[InstanceRef]) -> dict[str, list[str]]:
    """App name -> its workers' names, from the instances of the project's containers or of its plan."""
    found: dict[str, list[str]] = {}
    for ref in refs:
        if ref.role in identity.APP_ROLES:
            workers = found.setdefault(ref.app, [])
            if ref.worker is not None:
                workers.append(ref.worker)
    return found


def _refs(items: Iterable[Observed | ContainerSpec]) -> list[InstanceRef]:
    return [item.ref for item in items]


def select(states: list[Observed], app: str | None, worker: str | None) -> list[Observed]:
    """The containers named by --app/--worker (all app and worker instances when neither is given)."""
    if worker:
        wanted = resolve_instance(_workers_by_app(_refs(states)), app, worker)
        return [s for s in states if s.instance == wanted]
    if app:
        chosen = [s for s in states if s.app == app]
        if not chosen:
            apps = ", ".join(sorted(_workers_by_app(_refs(states)))) or "(nothing)"
            raise OrchestratorError(f"no app or service {app}; running: {apps}")
        return chosen
    return states


def down(target: Target, reporter: Reporter, volumes: bool = False) -> int:
    name = project_name(target)
    with project_lock(name, reporter.step):
        engine, _ = deployment_engine(target, say=reporter.step, move=True)
        states = engine.containers(name)
        if states:
            reporter.step(f"stopping {len(states)} container(s)")

        def stop_and_remove(s: ContainerState) -> None:  # each removed as soon as it stops
            engine.stop(s.id, STOP_TIMEOUT)
            engine.remove(s.id)

        _parallel(stop_and_remove, states)
        for network in engine.networks(name):
            engine.remove_network(network)
        removed = 0
        for volume in engine.volumes(name) if volumes else []:
            engine.remove_volume(volume["name"])
            removed += 1
        if volumes:
            forget_legacy_credentials(name)
            prune_app_images(engine, name, keep_previous=False)  # the app images too (none a container uses)
            reporter.step(f"removed {removed} volume(s) and the project's generated credentials")
        return len(states)


def _parallel(function: Callable, items: list) -> None:
    errors = [e for e in run_parallel(function, items, limit=len(items)) if e]
    if errors:
        raise OrchestratorError(str(errors[0]))


def lifecycle(verb: str, target: Target, app: str | None, worker: str | None,
              say: Callable[[str], None] | None = None) -> list[str]:
    """`stop`, `start` or `restart` the chosen instances, one command at a time per project like every
    command that changes one (an `up` that is deploying finishes first; under the lock, `--adopt` moves
    the deployment's home here). `stop` holds them stopped: their restart policy becomes `no`, which `up`
    reads as "keep it stopped" (an instance stopped any other way is started again by `up`) until `start`
    or `restart` sets it back. Neither starts an instance an interrupted deploy left with two copies."""
    import sys
    say = say or (lambda text: print(text, file=sys.stderr))
    with project_lock(project_name(target), say):
        engine, name = deployment_engine(target, say=say, move=True)
        states = listed(engine.containers(name))
        chosen = select(states, app, worker)

        def hold(state: Observed) -> None:
            engine.set_restart_policy(state.id, HOLD_POLICY)
            engine.stop(state.id, STOP_TIMEOUT)

        def release(state: Observed) -> None:  # no longer held: crashes are restarted again
            engine.set_restart_policy(state.id, RESTART_POLICY)
            engine.start(state.id)

        if verb == "stop":
            _parallel(hold, chosen)
        else:
            chosen = _without_interrupted_instances(chosen, states, verb, say)
            if verb == "restart":
                _parallel(lambda s: engine.stop(s.id, STOP_TIMEOUT), chosen)
            _parallel(release, chosen)
        return [s.instance or s.name for s in chosen]


def interrupted_instances(states: list[Observed]) -> set[str]:
    """The instances an interrupted deploy left with two copies: the old one and its `-next`."""
    return {s.instance or s.name for s in states if s.name.endswith(NEXT_SUFFIX)}


def _without_interrupted_instances(chosen: list[Observed], states: list[Observed], verb: str,
                                   say: Callable[[str], None]) -> list[Observed]:
    """The chosen containers but those of an instance with two copies: starting either could run two copies
    of it on the same volumes, and only `up` settles which one stays. Says which it leaves alone."""
    doubled = interrupted_instances(states)
    kept = []
    for state in chosen:
        instance = state.instance or "?"
        if instance in doubled:
            say(f"not {verb}ing {state.name}: a deploy of {instance} was interrupted and left two copies of it; "
                "`orchestrator up` finishes that deploy")
        else:
            kept.append(state)
    return kept


def relationships(target: Target, app: str | None, worker: str | None, show_secrets: bool) -> dict[str, list[dict]]:
    """The decoded PLATFORM_RELATIONSHIPS of one instance (the web instance unless --worker), passwords
    and API tokens masked unless asked for."""
    import base64
    import json
    from orchestrator.secrets import mask_relationships
    engine, _ = deployment_engine(target)
    plan = make_plan(target, with_sources=False, engine=engine).plan
    spec = plan.instance(resolve_instance(_workers_by_app(_refs(plan.instances)), app, worker))
    decoded = json.loads(base64.b64decode(spec.env["PLATFORM_RELATIONSHIPS"]))
    return decoded if show_secrets else mask_relationships(decoded)


def instance_container(target: Target, app: str | None, worker: str | None) -> Observed:
    """The running container of the named app's web instance or worker; errors list what exists."""
    _, states = containers(target)
    wanted = resolve_instance(_workers_by_app(_refs(states)), app, worker)
    # after an interrupted deploy an instance can have two copies: the one that runs, the instance's own
    # before its `-next` copy, is the one a shell belongs in
    chosen = sorted((s for s in states if s.instance == wanted),
                    key=lambda s: (s.status != "running", s.name.endswith(NEXT_SUFFIX)))
    if not chosen:  # its web instance is gone while workers remain
        raise OrchestratorError(f"{wanted} does not run; `orchestrator up` first")
    if chosen[0].status != "running":
        raise OrchestratorError(f"{wanted} is {chosen[0].status}; `orchestrator start` it first")
    return chosen[0]


def run_command(target: Target, app: str | None, worker: str | None, command: list[str],
                on_stdout: Callable[[bytes], None], on_stderr: Callable[[bytes], None]) -> int:
    state = instance_container(target, app, worker)
    if state.is_app:  # as an ssh login: the app's user, .environment
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
    project = make_plan(target, with_sources=False).project
    engine, states = containers(target)
    running = {s.app: s for s in states if s.role == "web" and s.status == "running"}
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
    owner = state.app
    known = [cron.name for a in project.apps if a.name == owner for cron in a.crons]
    if name not in known:
        raise OrchestratorError(f"no cron {name}; crons: {', '.join(known) or '(none)'}")
    return Engine().exec_stream(state.id, ["orchestrator-cron", "run", name], on_stdout, on_stderr)


def compose_export(target: Target, output: Path | None, endpoint_mode: str):
    """The project as a Compose export whose relative paths suit a file written to `output`. The file is
    made from the stand-in passwords, with every secret-bearing variable left out (so it is the same at
    every export); those variables get the passwords and entropy kept beside `output` from an earlier
    export, or new random ones, for its `<stem>.secrets/` env files. Nothing is written here."""
    from dataclasses import replace
    from orchestrator.export import compose as exporter
    project, plan, _ = make_plan(target)
    kept = exporter.kept_secrets(output) if output else {}
    if _exported_before_secrets(output):  # its databases were made with the stand-in passwords: keep them
        from orchestrator.platform_env import project_entropy
        from orchestrator.relationships import derived_password
        kept = {"credentials": {s.credentials_owner: {e.name: derived_password(project.name, s.credentials_owner,
                                                                                e.name) for e in s.endpoints}
                                for s in project.services if s.endpoints},
                "entropy": project_entropy(project.name)}
    kept = exporter.fresh_secrets([(service.credentials_owner, [e.name for e in service.endpoints])
                                   for service in project.services], kept)
    credentials = {(owner, endpoint): password for owner, endpoints in kept["credentials"].items()
                   for endpoint, password in endpoints.items()}
    deployed = _translate(target, project, plan.environment, credentials, True)
    deployed = replace(deployed, instances=tuple(
        replace(spec, env={**spec.env, "PLATFORM_PROJECT_ENTROPY": kept["entropy"]})
        if "PLATFORM_PROJECT_ENTROPY" in spec.env else spec for spec in deployed.instances))
    where = output.parent if output else Path.cwd()
    return exporter.export(plan, target.root, where, output.stem if output else plan.project, endpoint_mode,
                           deployed=deployed, kept=kept)


def _exported_before_secrets(output: Path | None) -> bool:
    """`output` was written by a version that kept the passwords in the file: no secrets beside it, and the
    file reads none from elsewhere (this version's always has `env_file:` for them)."""
    if output is None:
        return False
    try:
        text = output.read_text()
    except OSError:
        return False
    from orchestrator.export import compose as exporter
    return "env_file:" not in text and not exporter.kept_secrets(output)


def compose(target: Target, output: Path | None, endpoint_mode: str) -> tuple[str, list[Path]]:
    """The Compose YAML (stdout, and nothing written: its `env_file:` entries name files that only
    `-o FILE` writes), or the file, the Dockerfiles it builds from and its secrets (0600), written."""
    import sys
    from orchestrator.export import compose as exporter
    upgraded = _exported_before_secrets(output)
    result = compose_export(target, output, endpoint_mode)
    if output is None:
        if result.secret_env:
            sys.stderr.write(f"note: no secret is printed: the services' passwords and other secret-bearing "
                             f"variables are read from {result.secrets_dir}/<service>.env (env_file), which only "
                             f"`orchestrator compose -o FILE` writes (mode 0600, random passwords kept across "
                             f"exports)\n")
        return result.yaml(), []
    written = exporter.write(result, output)
    if not result.secret_env:
        return "", written
    where = output.parent / result.secrets_dir
    note = (f"note: {output.name} was exported by an earlier version, whose passwords anyone can compute; they "
            f"are kept (moved to {where}/) so the data its services made still opens: to change them, change "
            f"them in the services and in {where}/secrets.json\n") if upgraded else ""
    return note + (f"secrets: {where}/ holds each service's passwords, PLATFORM_RELATIONSHIPS and project entropy "
            f"(random, kept by later exports), mode 0600, read through env_file: keep it private and out of "
            f"version control; {output.name} holds none\n"), written
