"""Command-line front end: parse arguments, call the modules that do the work, print the result.

Errors a user can cause (`OrchestratorError`) are printed without a traceback; config errors exit 2,
other failures 1. Warnings go to stderr so `plan --format json` stays machine-readable on stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from orchestrator import __version__
from orchestrator.errors import ConfigError, ConfigProblem, OrchestratorError


def _add_project_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", nargs="?", default=".", help="project directory (default: the current one)")
    parser.add_argument("--layout", choices=("auto", "upsun", "platform"), default="auto",
                        help="which config to read when a project has both .upsun/ and .platform")
    parser.add_argument("--project", type=_project_name, help="project name (default: the directory's name)")


def _project_name(text: str) -> str:
    """A `--project` the engine takes as is, and that names no path: lowercase letters, digits, '-', '_'
    and '.', at most 40, starting and ending with a letter or digit."""
    import re
    from orchestrator.names import safe
    if safe(text, 40) != text or ".." in text:
        suggestion = re.sub(r"\.\.+", ".", re.sub(r"[^a-z0-9_.-]+", "-", text.lower())).strip("-._")[:40].rstrip("-._")
        suggestion = suggestion or "my-project"
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a project name: use lowercase letters, digits, '-', '_' or '.', at most 40 "
            f"characters, starting and ending with a letter or digit (such as '{suggestion}')")
    return text


def _add_adopt_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--adopt", action="store_true",
                        help="act on the deployment of this project name even though it was made from another "
                             "directory, and make this directory its home (its containers and data are kept)")


def _add_environment_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--environment", help="environment name (default: the git branch)")
    parser.add_argument("--environment-type", choices=("production", "staging", "development"),
                        help="PLATFORM_ENVIRONMENT_TYPE (default: production on main/master, development otherwise)")
    parser.add_argument("--domain", help="domain that {default} routes resolve to (default: <project>.localhost)")
    parser.add_argument("--router-port", type=int, metavar="N",
                        help="serve the routes on 127.0.0.1:N (http) and N+1 (https) (default: a pair in "
                             "20000-27999 that follows from the project name)")
    parser.add_argument("--size", action="append", default=[], metavar="INSTANCE=SIZE",
                        help="resources of an app (web), worker (app--worker) or service without editing the "
                             "config, as `upsun resources:set` does: a size name (S, M, L, XL, 2XL, 4XL, AUTO) or "
                             "Upsun's CPUs (0.25, 0.5, 1, 2, 4 ...; memory from the container profile); repeat it, "
                             "or separate items with commas; also $ORCHESTRATOR_SIZES")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orchestrator",
        description="Run a Platform.sh/Upsun project on a plain Docker engine with its production topology.")
    parser.add_argument("--version", action="version", version=f"orchestrator {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    validate = commands.add_parser("validate", help="check the project's config and report every problem")
    _add_project_arguments(validate)

    plan = commands.add_parser("plan", help="show what would run: instances, images, limits, mounts, networks")
    _add_project_arguments(plan)
    _add_environment_arguments(plan)
    plan.add_argument("--format", choices=("text", "json"), default="text")
    plan.add_argument("--show-secrets", action="store_true", help="show passwords instead of ********")

    up = commands.add_parser("up", help="build what changed and deploy: services, then web, then workers")
    _add_project_arguments(up)
    _add_environment_arguments(up)
    _add_adopt_argument(up)
    up.add_argument("--images", help="YAML map of image name (or platform type) -> image to use instead")
    up.add_argument("--dry-run", action="store_true", help="print what would be done, and why; change nothing")
    up.add_argument("-v", "--verbose", action="store_true", help="print every line of the builds' output "
                                                                 "(always so when stderr is not a terminal)")

    down = commands.add_parser("down", help="stop and remove the project's containers and networks")
    _add_project_arguments(down)
    down.add_argument("--volumes", action="store_true", help="also delete every volume (all data)")
    _add_adopt_argument(down)

    ps = commands.add_parser("ps", help="instances with state, restarts, last exit code, uptime and size")
    _add_project_arguments(ps)
    _add_adopt_argument(ps)

    logs = commands.add_parser("logs", help="log lines of several instances at once, prefixed by instance")
    _add_project_arguments(logs)
    _add_adopt_argument(logs)
    _add_selection_arguments(logs)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.add_argument("--since", type=_duration, help="only lines from the last DURATION (e.g. 90, 30s, 10m, 2h)")
    logs.add_argument("--show-secrets", action="store_true", help="show passwords the apps log instead of ********")

    for verb, text in (("stop", "stop instances (they stay stopped until `start`)"),
                       ("start", "start stopped instances"), ("restart", "stop, then start instances")):
        command = commands.add_parser(verb, help=text)
        _add_project_arguments(command)
        _add_adopt_argument(command)
        _add_selection_arguments(command)

    rels = commands.add_parser("relationships", help="the decoded PLATFORM_RELATIONSHIPS of an app or worker")
    _add_project_arguments(rels)
    _add_adopt_argument(rels)
    _add_environment_arguments(rels)
    _add_selection_arguments(rels)
    rels.add_argument("--show-secrets", action="store_true", help="show passwords instead of ********")

    ssh = commands.add_parser("ssh", help="a shell (or `-- COMMAND`) in an app's web instance or a worker",
                              usage="orchestrator ssh [DIR] [--app A] [--worker W] [-- COMMAND...]")
    _add_project_arguments(ssh)
    _add_adopt_argument(ssh)
    _add_selection_arguments(ssh)

    cron = commands.add_parser("cron", help="the app's crons (they run on the web instance only)")
    cron_commands = cron.add_subparsers(dest="cron_command", metavar="ACTION")
    cron_commands.required = True
    cron_list = cron_commands.add_parser("list", help="each cron with its schedule, next and last run")
    _add_project_arguments(cron_list)
    _add_adopt_argument(cron_list)
    cron_run = cron_commands.add_parser("run", help="run one cron now on the web instance")
    cron_run.add_argument("name")
    _add_project_arguments(cron_run)
    _add_adopt_argument(cron_run)
    cron_run.add_argument("--app", help="the app whose cron it is")

    compose = commands.add_parser("compose", help="the same topology as a Compose file for docker-compose and "
                                                  "docker stack deploy")
    _add_project_arguments(compose)
    _add_environment_arguments(compose)
    compose.add_argument("-o", "--output", help="write FILE (and the Dockerfiles beside it) instead of stdout")
    compose.add_argument("--endpoint-mode", choices=("dnsrr", "vip"), default="dnsrr",
                         help="Swarm service discovery: dnsrr (default; works without IPVS) or vip")

    images = commands.add_parser("images", help="manage base and service images")
    images_commands = images.add_subparsers(dest="images_command", metavar="ACTION")
    images_commands.required = True
    prepare = images_commands.add_parser("prepare", help="resolve or build every image the project needs, ahead of up")
    _add_project_arguments(prepare)
    prepare.add_argument("--images", help="YAML map of image name (or platform type) -> image")
    prepare.add_argument("-v", "--verbose", action="store_true", help="print every line of the builds' output")
    return parser


def _duration(text: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"'{text}' is not a duration such as 90, 30s, 10m or 2h") from error


def _add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--app", help="only this app (or service)")
    parser.add_argument("--worker", help="only this worker")


def _print_warnings(warnings: list[ConfigProblem], prefix: str) -> None:
    for warning in warnings:
        print(f"warning: {warning.format(prefix)}", file=sys.stderr)


def _load(args: argparse.Namespace):
    from orchestrator.config.validate import load_project
    root = Path(args.dir)
    if not root.is_dir():
        raise OrchestratorError(f"{args.dir}: not a directory")
    try:
        project, warnings = load_project(root, args.layout, args.project)
    except ConfigError as error:
        error.prefix = "" if args.dir == "." else args.dir
        raise
    _print_warnings(warnings, "" if args.dir == "." else args.dir)
    return project


def _plan(args: argparse.Namespace):
    from orchestrator.operations import make_plan
    planned = _with_prefix(args, lambda: make_plan(_target(args)))
    plan, warnings = planned.plan, planned.warnings
    _print_warnings(warnings, "" if args.dir == "." else args.dir)
    return plan


def cmd_validate(args: argparse.Namespace) -> int:
    project = _load(args)
    workers = sum(len(app.workers) for app in project.apps)
    print(f"{args.dir}: valid ({project.layout} layout): {len(project.apps)} app(s), {workers} worker(s), "
          f"{len(project.services)} service(s), {len(project.routes)} route(s)")
    return 0


def cmd_plan(args: argparse.Namespace) -> int:
    from orchestrator.secrets import mask_plan
    plan = _plan(args)
    if not args.show_secrets:
        plan = mask_plan(plan)
    if args.format == "json":
        sys.stdout.write(plan.to_json())
    else:
        from orchestrator.render import plan_table
        sys.stdout.write(plan_table(plan))
    return 0


def _target(args: argparse.Namespace):
    from orchestrator.operations import Target
    root = Path(args.dir)
    if not root.is_dir():
        raise OrchestratorError(f"{args.dir}: not a directory")
    return Target(root, args.layout, args.project, getattr(args, "environment", None),
                  getattr(args, "environment_type", None), getattr(args, "domain", None),
                  getattr(args, "router_port", None), tuple(getattr(args, "size", None) or ()),
                  bool(getattr(args, "adopt", False)))


def _reporter(args: argparse.Namespace | None = None):
    from orchestrator.progress import Reporter
    return Reporter(verbose=bool(getattr(args, "verbose", False)))


def cmd_up(args: argparse.Namespace) -> int:
    from orchestrator import operations
    target = _target(args)
    result = _with_prefix(args, lambda: operations.up(target, _reporter(args), args.images, args.dry_run))
    if args.dry_run:
        for line in result.notes + [a.text() for a in result.actions]:
            print(line)
        return 0
    changed = [a for a in result.actions if a.kind != "keep"]
    print(f"{len(changed)} change(s), {len(result.actions) - len(changed)} instance(s) unchanged")
    _print_ps(result.states, result.details)
    _print_routes(result.routes)
    for crash in result.crashes:
        print(f"warning: {crash}\n(the deploy itself stands, as on the platform)", file=sys.stderr)
    if result.local_ca:
        print(f"HTTPS routes use certificates of a local CA made for this machine: {result.local_ca} "
              "(see the README to trust it)")
    return 0


def _print_routes(checks) -> None:
    """Each route's local URL and what it answered; a route that does not answer is a warning on stderr
    (the deploy itself stands, as on the platform)."""
    for check in checks:
        route = check.route
        if route.type == "upstream":
            answer = f"{check.status}" if check.status else "no answer"
            print(f"route {route.local_url} -> app {route.upstream}: {answer}")
        else:
            from orchestrator.router import local_url
            print(f"route {route.local_url} -> {route.type} to {local_url(route.to or '', check.ports)}")
    for check in checks:
        if check.problem:
            print(f"warning: route {check.route.local_url} (app {check.route.upstream}) does not answer: "
                  f"{check.problem}", file=sys.stderr)


def _with_prefix(args: argparse.Namespace, work):
    try:
        return work()
    except ConfigError as error:
        error.prefix = "" if args.dir == "." else args.dir
        raise


def cmd_down(args: argparse.Namespace) -> int:
    from orchestrator import operations
    count = _with_prefix(args, lambda: operations.down(_target(args), _reporter(), args.volumes))
    print(f"removed {count} container(s)" + (" and every volume" if args.volumes else ""))
    return 0


def _print_ps(states, details: dict) -> None:
    """The table of `ps` and of `up`'s summary: both with the last exits and the start commands' state
    read the same way (`instance_state.instance_details`)."""
    from orchestrator.failures import exit_text
    from orchestrator.instance_state import InstanceDetail
    from orchestrator.render import table, uptime
    rows = []
    for seen in states:
        state = seen.engine_state
        detail = details.get(state.id) or InstanceDetail(state.exit_code, state.oom_killed)
        status = f"{state.status} ({detail.command})" if detail.command and state.status == "running" else state.status
        rows.append([seen.instance or state.name, seen.role or "?",
                     status, str(state.restart_count), exit_text(detail.exit_code, detail.oom, state.memory_mb),
                     uptime(state), f"{seen.size or '?'} ({state.cpus:g} CPU / {state.memory_mb} MB)"])
    print(table(["INSTANCE", "ROLE", "STATE", "RESTARTS", "LAST EXIT", "UPTIME", "SIZE"], rows), end="")


def cmd_ps(args: argparse.Namespace) -> int:
    from orchestrator import operations
    engine, states = _with_prefix(args, lambda: operations.containers(_target(args)))
    if not states:
        print("nothing runs for this project")
        return 0
    from orchestrator.instance_state import instance_details
    _print_ps(states, instance_details(engine, states))
    for seen in states:
        if seen.role == "router" and seen.engine_state.ports:
            print("router: " + ", ".join(f"{'https' if inside == 443 else 'http'} on 127.0.0.1:{host}"
                                         for inside, host in seen.engine_state.ports)
                  + " (`orchestrator up` lists the routes)")
    copies = sorted(operations.interrupted_instances(states))
    if copies:  # a deploy's new copy beside (or instead of) the old one, under its temporary name
        print(f"a deploy was interrupted (unless one is running right now): {', '.join(copies)} "
              f"{'has' if len(copies) == 1 else 'have'} a new copy (-next) that it left; `orchestrator up` "
              "finishes it (`orchestrator start` and `restart` leave these instances alone until then)")
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from orchestrator import logs, operations
    engine, states = _with_prefix(args, lambda: operations.containers(_target(args)))
    chosen = operations.select(states, args.app, args.worker)
    width = max((len(s.instance) for s in chosen), default=0)
    colours = ["36", "33", "35", "32", "34", "31"]
    tty = sys.stdout.isatty()
    palette = {s.instance: colours[i % len(colours)] for i, s in enumerate(chosen)}
    lock = __import__("threading").Lock()
    from orchestrator.secrets import mask_text
    # the secrets to mask: those of every container followed so far (a redeploy may bring new ones);
    # replaced whole, never changed in place, as the readers' threads use it
    secrets = [set() if args.show_secrets else logs.secrets_in(engine, chosen)]

    def followed(container: str) -> None:
        if not args.show_secrets:
            from orchestrator.secrets import secret_values
            secrets[0] = secrets[0] | secret_values(engine.container_env(container))

    def emit(instance: str, line: str) -> None:
        line = mask_text(line, secrets[0])
        label = instance.ljust(width)
        if tty:
            label = f"\033[{palette.get(instance, '0')}m{label}\033[0m"
        with lock:
            print(f"{label} | {line}", flush=True)

    since = int(__import__("time").time()) - args.since if args.since else None
    logs.stream_logs(engine, chosen, args.follow, since, emit, followed)
    return 0


def _lifecycle(verb: str):
    def run(args: argparse.Namespace) -> int:
        from orchestrator import operations
        done = _with_prefix(args, lambda: operations.lifecycle(verb, _target(args), args.app, args.worker,
                                                               _reporter().step))
        print(f"{verb}: {', '.join(done) or 'nothing'}")
        return 0
    return run


def cmd_images(args: argparse.Namespace) -> int:
    from orchestrator import operations
    for line in _with_prefix(args, lambda: operations.prepare_images(_target(args), _reporter(args), args.images)):
        print(line)
    return 0


def cmd_relationships(args: argparse.Namespace) -> int:
    import json
    from orchestrator import operations
    decoded = _with_prefix(args, lambda: operations.relationships(_target(args), args.app, args.worker,
                                                                  args.show_secrets))
    print(json.dumps(decoded, indent=2))
    return 0


def _stream(stream):
    def emit(data: bytes) -> None:
        stream.buffer.write(data)
        stream.flush()
    return emit


def cmd_cron(args: argparse.Namespace) -> int:
    from orchestrator import operations
    from orchestrator.render import table
    target = _target(args)
    if args.cron_command == "run":
        return _with_prefix(args, lambda: operations.cron_run(target, args.app, args.name, _stream(sys.stdout),
                                                               _stream(sys.stderr)))
    crons = _with_prefix(args, lambda: operations.cron_list(target))
    if not crons:
        print("no crons")
        return 0
    print(table(["APP", "CRON", "SPEC", "RUNS AS", "NEXT (UTC)", "LAST RUN"],
                [[c.app, c.name, c.spec, c.runs_as, c.next_run, c.last_run] for c in crons]), end="")
    return 0


def cmd_compose(args: argparse.Namespace) -> int:
    from orchestrator import operations
    output = Path(args.output) if args.output else None
    text, written = _with_prefix(args, lambda: operations.compose(_target(args), output, args.endpoint_mode))
    if text:
        sys.stdout.write(text)
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_ssh(args: argparse.Namespace) -> int:
    import os
    import shutil
    from orchestrator import operations
    from orchestrator.recipe import LOGIN_SHELL
    target = _target(args)
    if args.remote_command:
        return _with_prefix(args, lambda: operations.run_command(target, args.app, args.worker, args.remote_command,
                                                                  _stream(sys.stdout), _stream(sys.stderr)))
    state = _with_prefix(args, lambda: operations.instance_container(target, args.app, args.worker))
    docker = shutil.which("docker")
    if docker is None:
        raise OrchestratorError("an interactive shell needs the docker CLI on PATH (for a real terminal)")
    tty = ["-it"] if sys.stdin.isatty() else ["-i"]
    sys.stdout.flush()
    os.execvp(docker, [docker, "exec", *tty, "-w", "/app", state.id, "sh", "-c", LOGIN_SHELL])
    return 0  # not reached


HANDLERS = {
    "relationships": cmd_relationships, "ssh": cmd_ssh, "cron": cmd_cron, "compose": cmd_compose,
    "validate": cmd_validate, "plan": cmd_plan, "up": cmd_up, "down": cmd_down, "ps": cmd_ps,
            "logs": cmd_logs, "stop": _lifecycle("stop"), "start": _lifecycle("start"),
            "restart": _lifecycle("restart"), "images": cmd_images}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    remote: list[str] = []
    if argv and argv[0] == "ssh" and "--" in argv:  # everything after `--` is the remote command, untouched
        split = argv.index("--")
        argv, remote = argv[:split], argv[split + 1:]
    args = build_parser().parse_args(argv)
    args.remote_command = remote
    try:
        code = HANDLERS[args.command](args)
        sys.stdout.flush()  # a closed pipe (`ps | head`) shows here, not in the interpreter's flush at exit
        return code
    except ConfigError as error:
        print(error.render(), file=sys.stderr)
        return error.exit_code
    except OrchestratorError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor is the flush at exit
        return 0
    except Exception as error:  # the engine went away in a call that had no retry: still no traceback
        from orchestrator.engine import is_lost, lost_engine
        if is_lost(error) or is_lost(error.__cause__):
            print(f"error: {lost_engine(error)}", file=sys.stderr)
            return 1
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
