"""Apply a Plan to the engine: observe once, decide with a pure function, execute without deciding.

`decide(plan, observed, image_ids)` turns the plan and what runs into a list of `Action`s, each with
the reason a person would want (`recreate worker queue: env TYPE changed`); `up --dry-run` prints
exactly that list. `Deployer.apply` executes it in the platform's order: networks and volumes ->
create the new containers beside the old ones -> let a running cron on a leaving web instance end ->
stop the services and web instances that change or go (in parallel, each with its grace) -> start
services (and wait until they are healthy) -> start web -> deploy hook on web -> stop the workers that
change or go -> start workers -> remove the old containers -> post_deploy hook. Without a deploy hook
nothing needs that order: everything that changes stops in one batch, and web and workers start in
one batch once the services are healthy. If a start, a health wait or a deploy hook fails, every
change not yet committed is rolled back, so the previous containers serve again (with a deploy hook,
the workers were not even touched yet).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable

from orchestrator.engine import Engine, EngineError, is_lost
from orchestrator.errors import OrchestratorError
from orchestrator.failures import crash_of, has_crashed, hook_oom, log_tail
from orchestrator.interrupts import Interrupted, Interrupts
from orchestrator import identity
from orchestrator.identity import ROLE_ORDER
from orchestrator.observed import Observed
from orchestrator.parallel import run_parallel
from orchestrator.plan import STOP_TIMEOUT, ContainerSpec, Plan
from orchestrator.recipe import APP_ENV

NEXT_SUFFIX = "-next"
READY_FILE = "/run/orchestrator/ready"  # made by orchestrator-init once post_start has run
POST_START_TIMEOUT = 300.0
KILLED = 137  # the status of a process killed with SIGKILL: by the kernel for memory, or with its container
REASON_WAIT = 3.0  # seconds a killed hook waits for the engine to notice why
HOOK_PIDS = "/run/orchestrator/hooks"  # in a web instance: the pid of each running hook, to stop it on a second Ctrl-C
# a hook runs under a shell that keeps its pid in a file while it runs (its processes are that pid's tree)
HOOK_WRAPPER = 'f=$1; shift; { mkdir -p "${f%/*}" && echo $$ >"$f"; } 2>/dev/null; "$@"; s=$?; rm -f "$f"; exit $s'
HOOK_STOP_TIMEOUT = 10  # seconds between SIGTERM and SIGKILL for a hook stopped by a second Ctrl-C
HEALTH_TIMEOUT = float(os.environ.get("ORCHESTRATOR_HEALTH_TIMEOUT", "180"))


# -- observing: orchestrator.observed reads what runs --------------------------------------------------
def field_digests(spec: ContainerSpec) -> dict[str, str]:
    """Short digests of each part of a spec, kept as a label, so a later deploy can say what changed
    (without keeping any value, secrets included)."""
    def h(value: object) -> str:
        return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:10]
    fields = {"image": h(spec.image), "command": h(spec.command), "mounts": h(spec.mounts),
              "networks": h(spec.networks), "limits": h([spec.cpus, spec.memory_mb]), "ports": h(spec.ports),
              "extra_hosts": h(spec.extra_hosts), "lifecycle": h([spec.restart, spec.stop_signal, spec.stop_timeout]),
              "healthcheck": h(asdict(spec.healthcheck) if spec.healthcheck else None),
              "filesystem": h([spec.read_only, spec.tmpfs]),
              "process": h([spec.entrypoint, spec.argv, spec.working_dir, spec.init])}
    fields.update({f"env.{name}": h(value) for name, value in spec.env.items()})
    return fields


# -- deciding ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Action:
    kind: str  # create | recreate | start | keep | remove
    instance: str
    role: str
    reason: str
    display: str
    spec: ContainerSpec | None = None
    old: Observed | None = None

    def text(self) -> str:
        return f"{self.kind} {self.role} {self.display}: {self.reason}"


def _old(action: Action) -> Observed:
    """The container `action` replaces, stops or removes, where the steps say it has one."""
    assert action.old is not None
    return action.old


def _changes(old: dict[str, str], new: dict[str, str]) -> str:
    changed_env = sorted(k[4:] for k in set(old) | set(new) if k.startswith("env.") and old.get(k) != new.get(k))
    changed = [k for k in new if not k.startswith("env.") and k in old and old[k] != new[k]]  # (a key an
    #          earlier version did not record says nothing)
    parts = [f"{name} changed" for name in changed]
    if changed_env:
        shown = ", ".join(changed_env[:4]) + (f" and {len(changed_env) - 4} more" if len(changed_env) > 4 else "")
        parts.append(f"env {shown} changed")
    return "; ".join(parts) or "configuration changed"


def _display(plan: Plan, ref: identity.InstanceRef, name: str) -> str:
    """How messages name an instance: a worker by its own name when the project has one app."""
    if ref.name != name:  # labels that do not fit together (not ours): the name as it is
        return name
    return ref.display(single_app=len({s.app for s in plan.instances if s.role == "web"}) == 1)


def decide(plan: Plan, observed: list[Observed], image_ids: dict[str, str | None]) -> Decision:
    """What to do, per instance, to make the engine run `plan`, and (`.steps`) in which order. Pure: the
    same inputs give the same decision."""
    by_instance: dict[str, list[Observed]] = {}
    for item in observed:
        by_instance.setdefault(item.instance, []).append(item)
    actions: list[Action] = []
    for spec in sorted(plan.instances, key=lambda s: (ROLE_ORDER[s.role], s.name)):
        display = _display(plan, spec.ref, spec.name)
        found = by_instance.pop(spec.name, [])
        current = next((o for o in found if o.name == spec.container), None)
        for leftover in found:
            if leftover is not current:
                actions.append(Action("remove", spec.name, spec.role, "leftover of an interrupted deploy",
                                      leftover.name, old=leftover))
        wanted_image = image_ids.get(spec.image)
        if current is None:
            actions.append(Action("create", spec.name, spec.role, "new instance", display, spec))
        elif current.config_hash != spec.config_hash:
            actions.append(Action("recreate", spec.name, spec.role, _changes(current.fields, field_digests(spec)),
                                  display, spec, current))
        elif wanted_image and current.image_id != wanted_image:
            actions.append(Action("recreate", spec.name, spec.role, "image rebuilt", display, spec, current))
        elif current.status == "exited" and current.held:  # `orchestrator stop` holds it until `start`
            actions.append(Action("keep", spec.name, spec.role, "stopped with `orchestrator stop`; "
                                  "`orchestrator start` starts it", display, spec, current))
        elif current.status in ("created", "exited", "dead"):
            actions.append(Action("start", spec.name, spec.role, f"was {current.status}", display, spec, current))
        else:
            actions.append(Action("keep", spec.name, spec.role, f"unchanged ({current.status})", display, spec,
                                  current))
    for instance, leftovers in sorted(by_instance.items()):
        for item in leftovers:
            actions.append(Action("remove", instance, item.role or "instance", "no longer in the config",
                                  _display(plan, item.ref, instance), old=item))
    return Decision(actions)


STARTING = ("create", "recreate", "start")  # the kinds of action whose container a deploy starts


def is_next_leftover(action: Action) -> bool:
    """A `-next` copy an interrupted deploy left beside an instance (removed first, before anything else)."""
    return action.kind == "remove" and action.old is not None and action.old.name.endswith(NEXT_SUFFIX)


@dataclass(frozen=True)
class Step:
    """One step of the switch-over from the old containers to the new: a failure or a Ctrl-C between two
    steps rolls every one of them back."""

    kind: str  # stop | start | deploy-hook
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class DeploySteps:
    """A deploy in the order it is carried out; `Deployer.apply` executes this and decides nothing.

    The platform's order: networks and volumes; the leftovers of an interrupted deploy go; the new
    containers are created beside the old ones; running crons of leaving web instances end; then the
    switch-over (`switch`); then the old containers are removed and the new ones take their names; then
    post_deploy hooks run on the web instance of each app that changed."""

    leftovers: tuple[Action, ...]  # `-next` copies: stopped with their grace, then removed
    creates: tuple[Action, ...]  # create and recreate: a new container each
    draining: tuple[Action, ...]  # web instances that change or go: their running crons end first
    switch: tuple[Step, ...]
    removes: tuple[Action, ...]  # committed: the containers that go
    renames: tuple[Action, ...]  # committed: an old container goes, the new one takes its name
    post_deploy: tuple[Action, ...]


def replaces_old(action: Action) -> bool:
    """Whether a deploy stops a container of `action` for the switch-over (and a rollback starts it again):
    the old one of a recreate or a removal, but not an interrupted deploy's leftover, which goes first."""
    return action.kind in ("recreate", "remove") and action.old is not None and not is_next_leftover(action)


def _stops(actions: Iterable[Action]) -> tuple[Action, ...]:
    return tuple(a for a in actions if replaces_old(a))


def _starts(actions: Iterable[Action], roles: tuple[str, ...]) -> tuple[Action, ...]:
    return tuple(a for a in actions if a.role in roles and a.kind in STARTING)


def deploy_steps(actions: list[Action]) -> DeploySteps:
    """The order `actions` are carried out in. With a deploy hook, as on the platform: services and web
    change first, the hook runs, and only then do the workers change (so a failed hook leaves them as
    they were). Without one nothing needs that order: everything that changes stops in one batch, then
    services start (and are waited for), then web, workers and the router in one batch."""
    hooked = tuple(a for a in actions if a.role == "web" and a.kind in ("create", "recreate")
                   and a.spec is not None and "deploy" in a.spec.hooks)
    if hooked:
        workers = [a for a in actions if a.role == "worker"]
        switch = [Step("stop", _stops(a for a in actions if a.role != "worker")),
                  Step("start", _starts(actions, ("service",))), Step("start", _starts(actions, ("web",))),
                  *(Step("deploy-hook", (action,)) for action in hooked),
                  Step("stop", _stops(workers)), Step("start", _starts(actions, ("worker", "router")))]
    else:
        switch = [Step("stop", _stops(actions)), Step("start", _starts(actions, ("service",))),
                  Step("start", _starts(actions, ("web", "worker", "router")))]
    changed_apps = {a.spec.app if a.spec else _old(a).app for a in actions
                    if a.kind != "keep" and (a.spec or a.old)}
    return DeploySteps(
        leftovers=tuple(a for a in actions if is_next_leftover(a)),
        creates=tuple(a for a in actions if a.kind in ("create", "recreate")),
        draining=tuple(a for a in actions if a.role == "web" and a.kind in ("recreate", "remove") and a.old),
        switch=tuple(switch),  # empty steps too: Ctrl-C is honoured between steps, at the same points
        removes=tuple(a for a in actions if a.kind == "remove" and a.old is not None),
        renames=tuple(a for a in actions if a.kind == "recreate" and a.old is not None and a.spec is not None),
        post_deploy=tuple(a for a in actions if a.role == "web" and a.spec is not None
                          and "post_deploy" in a.spec.hooks and a.spec.app in changed_apps))


class Decision(list):
    """`decide`'s answer: the actions, one per instance (a list, as `up --dry-run` prints it), and the
    order a deploy carries them out in."""

    @property
    def steps(self) -> DeploySteps:
        return deploy_steps(self)


# -- executing --------------------------------------------------------------------------------------
class DeployFailed(OrchestratorError):
    pass


class HookFailed(DeployFailed):
    """A hook that exited non-zero: its status and output, for a message that explains it better."""

    def __init__(self, message: str, status: int, output: list[str]) -> None:
        super().__init__(message)
        self.status, self.output = status, output


def _indented(lines: list[str]) -> str:
    return "\n".join("    " + line for line in lines[-30:])


def described(action: Action) -> str:
    """How a message names an instance: `web instance app`, `worker queue`, `service mariadb`."""
    return f"web instance {action.display}" if action.role == "web" else f"{action.role} {action.display}"


@dataclass
class Deployer:
    """Executes decided actions; makes no decisions of its own."""

    engine: Engine
    say: Callable[[str], None]
    started_at: float = 0.0  # when apply began (epoch seconds): the engine's events from then tell each run
    started: dict[str, float] = field(default_factory=dict)  # instance -> when this deploy started it (monotonic)
    interrupts: Interrupts | None = None  # Ctrl-C/SIGTERM of `up`: honoured between steps (orchestrator.interrupts)

    def create(self, spec: ContainerSpec, image_ref: str, name: str) -> str:
        return self.engine.create_container(
            name=name, image=image_ref, command=list(spec.argv) or None, env=spec.env,
            labels={**spec.labels, identity.FIELDS: json.dumps(field_digests(spec), sort_keys=True)},
            mounts=[(m.volume, m.target) for m in spec.mounts],
            networks=[(a.network, a.aliases) for a in spec.networks], cpus=spec.cpus, memory_mb=spec.memory_mb,
            ports=[(p.container_port, p.host_ip, p.host_port) for p in spec.ports], extra_hosts=spec.extra_hosts,
            restart=spec.restart, stop_signal=spec.stop_signal, stop_timeout=spec.stop_timeout, init=spec.init,
            healthcheck=asdict(spec.healthcheck) if spec.healthcheck else None,
            entrypoint=list(spec.entrypoint) or None,
            working_dir=spec.working_dir or None, read_only=spec.read_only, tmpfs=spec.tmpfs)

    def apply(self, plan: Plan, actions: list[Action], image_refs: dict[str, str]) -> None:
        """Carry out `actions` in the order `deploy_steps` gives; any failure before the commit (or Ctrl-C)
        rolls everything back, so the previous containers serve again."""
        steps = deploy_steps(actions)
        self.started_at = time.time()
        if self.interrupts is not None:  # from now on Ctrl-C asks for a rollback between steps, not an abort
            self.interrupts.deploying()
        errors = run_parallel(lambda n: self.engine.ensure_network(n.name, n.internal, n.labels), list(plan.networks))
        errors += run_parallel(lambda v: self.engine.ensure_volume(v.name, v.labels), list(plan.volumes))
        if any(errors):
            raise next(e for e in errors if e)
        # 1. create the new containers beside the old ones; a failure here touches nothing that runs
        created: dict[str, str] = {}

        def make(action: Action) -> None:
            assert action.spec is not None
            name = action.spec.container + (NEXT_SUFFIX if action.kind == "recreate" else "")
            created[action.instance] = self.create(action.spec, image_refs[action.spec.image], name)

        self.remove_leftovers(plan, steps.leftovers)  # a leftover would block the name we are about to use
        errors = run_parallel(make, steps.creates)
        if any(errors) or self._interrupted():
            with self._shielded():
                for container in created.values():
                    self.engine.remove(container)
            if any(errors):
                raise DeployFailed(f"could not create containers: {next(e for e in errors if e)}; nothing was changed")
            raise Interrupted("interrupted before the previous containers were touched: they run on as they were"
                              + (" (the leftover of an earlier interrupted deploy was stopped and removed)"
                                 if steps.leftovers else ""))
        # 2. a cron running in a web instance that is about to go holds the deploy back (bounded)
        run_parallel(lambda a: self.drain_crons(_old(a).container_id), steps.draining, limit=len(steps.draining))
        # 3. the switch-over, step by step. Ctrl-C or SIGTERM (self.interrupts): the step under way ends
        #    (bounded: a stop batch waits out its grace at most; a wait for health or post_start ends at once;
        #    a deploy hook is let finish unless a second signal comes), then every change is rolled back, as
        #    for a failed step
        try:
            for step in steps.switch:
                self._check_interrupted()
                self.run_step(step, created)
        except BaseException as error:  # a failed step, Ctrl-C, an engine error: the previous containers serve again
            interrupted = isinstance(error, (KeyboardInterrupt, Interrupted))
            with self._shielded():  # no signal cuts the rollback half-way
                try:
                    self._roll_back(actions, created, "interrupted" if interrupted else "deploy failed")
                except Exception as rollback_error:
                    # an engine that is gone cannot be rolled back; the next up converges
                    self.say(f"could not restore the previous containers: {rollback_error}")
            if isinstance(error, KeyboardInterrupt):
                raise Interrupted("interrupted: the step under way was stopped and the previous containers "
                                  "restored") from error
            raise
        # 4. commit: drop the old containers, give the new ones their names (a signal now finishes the deploy:
        #    everything new runs already)
        with self._shielded():
            for action in steps.removes:
                self.engine.remove(_old(action).container_id)
            for action in steps.renames:
                assert action.spec is not None
                self.engine.remove(_old(action).container_id)
                self.engine.rename(created[action.instance], action.spec.container)
        # 5. post_deploy on the web instance of every app this deploy changed
        for action in steps.post_deploy:
            assert action.spec is not None
            if self._interrupted():
                self.say(f"interrupted: the post_deploy hook of app {action.spec.app} is not run")
                continue
            try:
                self.run_checked_hook(action, "post_deploy", action.spec.container)
            except KeyboardInterrupt as error:  # a second Ctrl-C stopped it: the deploy itself stands
                raise Interrupted(f"interrupted: the post_deploy hook of app {action.spec.app} was stopped; the "
                                  "deploy itself was completed (`orchestrator ps` shows what runs)") from error
            except DeployFailed as error:
                self.say(f"warning: {error} (the deploy itself stands, as on the platform)")

    def run_step(self, step: Step, created: dict[str, str]) -> None:
        if step.kind == "stop":
            self.stop(list(step.actions))
        elif step.kind == "start":
            self.start(list(step.actions), created)
        else:  # deploy-hook
            for action in step.actions:
                self.run_checked_hook(action, "deploy", created[action.instance])

    def _interrupted(self) -> bool:
        return self.interrupts is not None and self.interrupts.requested

    def _check_interrupted(self) -> None:
        """Between two steps: a Ctrl-C or SIGTERM received so far ends the deploy here (its rollback)."""
        if self._interrupted():
            raise Interrupted("interrupted: the deploy was rolled back; the previous containers run again")

    def _shielded(self):
        return self.interrupts.shielded() if self.interrupts is not None else nullcontext()

    def _abortable(self, at: int):
        return self.interrupts.abortable(at) if self.interrupts is not None else nullcontext()

    def remove_leftovers(self, plan: Plan, leftovers: tuple[Action, ...]) -> None:
        """The `-next` copies an interrupted deploy left: one that runs is stopped like any instance (SIGTERM,
        its grace, then SIGKILL), so a write, a hook or a recovery under way in it ends cleanly, then removed."""
        if not leftovers:
            return
        grace = {spec.name: spec.stop_timeout for spec in plan.instances}
        for action in leftovers:
            self.say(f"stopping {action.role} {action.display} ({action.reason}: {_old(action).name})")
        errors = run_parallel(lambda a: self.engine.stop(_old(a).container_id, grace.get(a.instance, STOP_TIMEOUT)),
                              leftovers, limit=len(leftovers))
        failed = [e for e in errors if e is not None]
        if failed:
            raise DeployFailed(f"could not stop the leftover of an interrupted deploy: {failed[0]}; "
                               "nothing was changed")
        for action in leftovers:
            self.engine.remove(_old(action).container_id)

    def stop(self, stopping: list[Action]) -> None:
        for action in stopping:
            self.say(f"stopping {action.role} {action.display} ({action.reason})")
        run_parallel(lambda a: self.engine.stop(_old(a).container_id, a.spec.stop_timeout if a.spec else STOP_TIMEOUT),
                     stopping, limit=len(stopping))

    def start(self, batch: list[Action], created: dict[str, str]) -> None:
        def container_of(action: Action) -> str:  # the new container, else the old one started again
            return created.get(action.instance) or _old(action).container_id

        for action in batch:
            self.say(f"starting {action.role} {action.display} ({action.kind}: {action.reason})")
        errors = run_parallel(lambda a: self.engine.start(container_of(a)), batch)
        self.started.update({a.instance: time.monotonic() for a in batch})
        failed = [(a, e) for a, e in zip(batch, errors) if e is not None]
        if failed:
            action, error = failed[0]
            raise DeployFailed(f"{action.role} {action.display} did not start: {error}")
        with self._abortable(1):  # waiting changes nothing: a Ctrl-C ends the wait at once (then the rollback)
            self.wait_post_start([a for a in batch
                                  if a.spec is not None and a.spec.env.get("PLATFORM_POST_APP_COMMAND")], container_of)
            self.wait_healthy([a for a in batch if a.spec is not None and a.spec.healthcheck], container_of)

    def run_hook(self, action: Action, hook: str, container: str) -> None:
        """Run a deploy or post_deploy hook in the web instance, as dash from /app, showing its output with
        the instance's secrets masked (as `logs` does; CI logs keep what `up` prints). A first Ctrl-C lets the
        hook finish; a second stops its processes inside the container (the engine cannot signal an exec)."""
        assert action.spec is not None
        from orchestrator.secrets import mask_text, secret_values
        secrets = secret_values(action.spec.env)
        self.say(f"running the {hook} hook of app {action.spec.app}")
        output: list[str] = []
        pending = {"out": b"", "err": b""}  # whole lines only are masked and shown: a secret split between
        #                                     two reads of the stream is still hidden

        def lines(data: bytes) -> None:
            for line in mask_text(data.decode("utf-8", "replace"), secrets).splitlines():
                output.append(line)
                self.say(f"  {hook}: {line}")

        def shower(stream: str) -> Callable[[bytes], None]:
            def show(data: bytes) -> None:
                complete, _, pending[stream] = (pending[stream] + data).rpartition(b"\n")
                if complete:
                    lines(complete)
            return show

        pid_file = f"{HOOK_PIDS}/{uuid.uuid4().hex}"
        command = ["sh", "-c", HOOK_WRAPPER, "sh", pid_file, APP_ENV, "sh", "-c", action.spec.hooks[hook]]
        try:
            with self._abortable(2):
                status = self.engine.exec_stream(container, command, shower("out"), shower("err"))
        except KeyboardInterrupt:
            self.say(f"stopping the {hook} hook of app {action.spec.app} (SIGTERM, then SIGKILL after "
                     f"{HOOK_STOP_TIMEOUT} s)")
            with self._shielded():
                self.engine.stop_process_tree(container, pid_file, HOOK_STOP_TIMEOUT)
            raise
        finally:
            for rest in pending.values():
                if rest:
                    lines(rest)
        if status != 0:
            raise HookFailed(f"the {hook} hook of app {action.spec.app} exited with status {status}; its output:\n"
                             + _indented(output), status, output)

    def run_checked_hook(self, action: Action, hook: str, container: str) -> None:
        """A hook in a web instance that must be running, explained when it fails for a reason outside it:
        the instance crashed (before the hook or while it ran: its exec then dies with status 137 and no
        output), so the error is the crash with the app's own last log lines; or the kernel killed the hook
        for memory, so the error says so and how to raise the limit. Said before a rollback removes anything."""
        assert action.spec is not None
        before = self.engine.inspect(container)
        restarts = before.restart_count if before is not None and action.kind == "keep" else 0
        if has_crashed(before, restarts):
            crash = crash_of(self.engine, container, described(action), self.started_at, restarts)
            raise DeployFailed(crash.text(f"before its {hook} hook could run") if crash else
                               f"{described(action)} is gone; its {hook} hook could not run")
        kills = self.engine.oom_kills(container)
        try:
            self.run_hook(action, hook, container)
        except (HookFailed, EngineError) as error:
            raise self._hook_failure(action, hook, container, error, restarts, kills) from error

    def _wait_for_the_reason(self, container: str, restarts: int, kills: int | None) -> None:
        """A hook killed with its container (137, or an exec refused) can end before the engine has noticed
        that the container died: wait a little for the engine to say so, or for the kernel's out-of-memory
        count to show the kill, so the reason is not missed."""
        deadline = time.monotonic() + REASON_WAIT
        while time.monotonic() < deadline:
            if has_crashed(self.engine.inspect(container), restarts):
                return
            count = self.engine.oom_kills(container)
            if count is not None and count > (kills or 0):
                return
            time.sleep(0.2)

    def _hook_failure(self, action: Action, hook: str, container: str, error: Exception, restarts: int,
                      kills: int | None) -> DeployFailed:
        """Why a hook failed: the crash of its instance, or an out-of-memory kill, or the hook itself."""
        assert action.spec is not None
        status, output = (error.status, error.output) if isinstance(error, HookFailed) else (None, [str(error)])
        if status in (None, KILLED):
            self._wait_for_the_reason(container, restarts, kills)
        shown = f"\nthe {hook} hook's output:\n{_indented(output)}" if output else ""
        crash = crash_of(self.engine, container, described(action), self.started_at, restarts)
        if crash is not None:
            return DeployFailed(crash.text(f"while its {hook} hook ran") + shown)
        sizing = hook_oom(self.engine, container, kills)
        if sizing is not None:
            return DeployFailed(f"the {hook} hook of app {action.spec.app} was killed (status {status}): "
                                f"{sizing.out_of_memory()}{shown}")
        return error if isinstance(error, DeployFailed) else \
            DeployFailed(f"the {hook} hook of app {action.spec.app} could not run: {error}")

    def drain_crons(self, container: str) -> None:
        try:
            self.engine.exec_stream(container, ["sh", "-c", "[ ! -x /usr/local/bin/orchestrator-cron ] || "
                                                            "orchestrator-cron drain"],
                                    lambda d: self.say(d.decode("utf-8", "replace").strip()), lambda d: None)
        except Exception:  # a container that is not running has no cron to wait for
            pass

    def _ready(self, container: str) -> bool:
        """Has the init marked post_start done? False while it cannot say (the container restarting)."""
        try:
            return self.engine.exec(container, ["test", "-e", READY_FILE], workdir="/")[0] == 0
        except Exception as error:  # a container between two runs refuses an exec: the next look decides
            if is_lost(error):
                raise
            return False

    def wait_post_start(self, actions: list[Action], container_of: Callable[[Action], str],
                        timeout: float = POST_START_TIMEOUT) -> None:
        """An instance with `web.commands.post_start` counts as up once that has run (the init marks it in
        READY_FILE), as on the platform, where it runs before the instance gets traffic."""
        if not actions:
            return
        self.say(f"waiting for the post_start command of {', '.join(a.display for a in actions)}")
        pending = {a.instance: a for a in actions}
        deadline = time.monotonic() + timeout
        while pending:
            for instance, action in list(pending.items()):
                container = container_of(action)
                state = self.engine.inspect(container)
                if state is None or state.status != "running":
                    crash = crash_of(self.engine, container, described(action), self.started_at)
                    raise DeployFailed(crash.text("before its post_start command ended") if crash else
                                       f"{action.role} {action.display} stopped before its post_start command ended")
                if self._ready(container):
                    del pending[instance]
                elif time.monotonic() > deadline:
                    raise DeployFailed(f"the post_start command of {action.role} {action.display} did not end "
                                       f"within {timeout:.0f} s")
            if pending:
                time.sleep(0.2)

    def wait_healthy(self, actions: list[Action], container_of: Callable[[Action], str],
                     timeout: float = HEALTH_TIMEOUT) -> None:
        """Block until every service answers its healthcheck; past `timeout`, fail naming it with its last logs."""
        if not actions:
            return
        self.say(f"waiting for {', '.join(a.display for a in actions)} to accept connections")
        pending = {a.instance: a for a in actions}
        deadline = time.monotonic() + timeout
        while pending:
            for instance, action in list(pending.items()):
                state = self.engine.inspect(container_of(action))
                if state is not None and state.health == "healthy":
                    del pending[instance]
                elif has_crashed(state):
                    crash = crash_of(self.engine, container_of(action), described(action), self.started_at)
                    raise DeployFailed(crash.text("while starting") if crash else f"service {action.display} is gone")
                elif state.health == "unhealthy" or time.monotonic() > deadline:
                    tail = log_tail(self.engine, container_of(action))
                    raise DeployFailed(f"service {action.display} not healthy after "
                                       f"{time.monotonic() - deadline + timeout:.0f} s; its last log lines:\n" +
                                       _indented(list(tail)))
            if pending:
                time.sleep(0.3)

    def _roll_back(self, actions: list[Action], created: dict[str, str], why: str = "deploy failed") -> None:
        self.say(f"{why}: restoring the previous containers")
        # the new containers stop with their grace first (a new database must not be killed mid-write and
        # start with crash recovery), then go
        grace = {a.instance: a.spec.stop_timeout for a in actions if a.spec is not None}
        new = list(created.items())
        run_parallel(lambda item: self.engine.stop(item[1], grace.get(item[0], STOP_TIMEOUT)), new, limit=len(new))
        for container in created.values():
            self.engine.remove(container)
        for old in (_old(action) for action in actions if replaces_old(action)):
            if old.held and old.status == "exited":  # an instance held with `orchestrator stop` stays stopped
                continue
            try:
                self.engine.start(old.container_id)
            except Exception as error:  # keep restoring the others
                self.say(f"could not restart {old.name}: {error}")
