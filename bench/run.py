"""Benchmarks of orchestrator against docker-compose on this machine, side by side in one run.

    python bench/run.py [--rounds N] [--only a,b,...]   (needs the engine, docker-compose, the local images)

Method: each side is measured alone. A case runs all its orchestrator rounds, removes everything
orchestrator made, then runs all its docker-compose rounds on the exported file (under its own project
name) and removes that: neither tool ever sees the other's containers. A no-op is measured on a
settled project (every container running for at least SETTLE seconds). Every case is the median of
`--rounds` runs (at least 5), with the spread (min-max).

Cases: (a) `up` of 1 web + 10 workers from nothing, images cached; (b) no-op `up` of it; (c) redeploy
after changing one worker's variable: time and containers touched; (d) stopping 20 workers that ignore
SIGTERM against one grace period; (e) validate + plan over the corpus; (f) CLI start (`--help`);
(g) redeploy after editing one source file, until the web answers with the new code; (h) `up` of
examples/services from nothing (volumes too) with images cached, until its web answers.
Writes bench/RESULTS.md. Timing goals live here, never as timed assertions in tests.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import docker

from orchestrator import probe
from orchestrator.router import default_ports

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLI = [sys.executable, "-m", "orchestrator"]
GRACE = 15
SETTLE = 3.0
ANSWER_TIMEOUT = 300.0
GOALS = {"a": 0.7, "b": 0.3, "d": 1.05}
INSTANCES = 12  # 1 web + 10 workers + the router, for both tools  # ratio goals (orchestrator / reference)

WEB = '''import os
from http.server import BaseHTTPRequestHandler, HTTPServer

MESSAGE = "round 0"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = MESSAGE.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


HTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8888"))), Handler).serve_forever()
'''


def app_config(workers: int, ignore_term: bool) -> str:
    lines = ["name: app", 'type: "python:3.11"', "web:", "  commands:", "    start: exec python3 web.py",
             "workers:"]
    for i in range(1, workers + 1):
        start = "trap '' TERM; while true; do sleep 1; done" if ignore_term else \
            "exec python3 -c \"import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); " \
            "time.sleep(10**9)\""
        lines += [f"  w{i}:", "    size: S", "    variables:", "      env:", "        ROUND: \"0\"",
                  "    commands:", "      start: |", f"        {start}"]
    return "\n".join(lines) + "\n"


def run(command: list[str], env: dict | None = None, cwd: Path = REPO, check: bool = True) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if check and result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def stats(samples: list[float]) -> str:
    return f"{statistics.median(samples):.3f} s ({min(samples):.3f}-{max(samples):.3f})"


def ratio(ours: list[float], theirs: list[float] | float) -> float:
    reference = statistics.median(theirs) if isinstance(theirs, list) else theirs
    return statistics.median(ours) / reference


@dataclass
class Side:
    """One tool driving one project directory: how to bring it up, take it down, and the URL of its route
    (through its router: both tools serve the routes the same way)."""

    name: str
    up: Callable[[], float]
    down: Callable[[], float]
    url: str


def answers(url: str, expect: str | None = None) -> bool:
    answer = probe.get(url, timeout=2)
    return answer.status == 200 and (expect is None or expect in answer.body.decode("utf-8", "replace"))


def until_answers(side: Side, started: float, expect: str | None = None) -> float:
    deadline = time.perf_counter() + ANSWER_TIMEOUT
    while time.perf_counter() < deadline:
        if answers(side.url, expect):
            return time.perf_counter() - started
        time.sleep(0.05)
    raise SystemExit(f"{side.name}: {side.url} never answered{' with ' + expect if expect else ''}")


def settled(client: docker.DockerClient, label: str, count: int) -> None:
    """Wait until `count` containers carry `label`, all running for at least SETTLE seconds."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        containers = client.containers.list(all=True, filters={"label": label})
        if len(containers) == count and all(c.status == "running" for c in containers):
            time.sleep(SETTLE)
            return
        time.sleep(0.2)
    raise SystemExit(f"{label}: never settled")


def stand_in_env(project: Path) -> dict[str, str]:
    """Point the exported file's official images at the local stand-ins (no registry here)."""
    from orchestrator.export.compose import ROUTER_BASE, image_variable
    from orchestrator.operations import Target, make_plan
    output = subprocess.run([*CLI, "images", "prepare", str(project)], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout
    _, plan, _ = make_plan(Target(project), with_sources=False)
    env = dict(os.environ)
    for line in output.splitlines():
        if line.startswith("router: "):  # the exported router's Dockerfile adds nothing the local router lacks
            env[image_variable(ROUTER_BASE)[2:].split(":-")[0]] = line.split()[-1]
        match = re.match(r"^(app|service) (\S+): (?:base )?(\S+)$", line)
        if not match:
            continue
        kind, name, ref = match.groups()
        official = next(b.base_image for b in plan.images if b.app == name) if kind == "app" \
            else plan.instance(name).image
        if official:
            env[image_variable(official)[2:].split(":-")[0]] = ref
    return env


def sides(folder: Path, work: Path) -> tuple[Side, Side, list[str], dict[str, str]]:
    """orchestrator on `folder` (project `o<name>`) and docker-compose on its export (project `c<name>`)."""
    project = f"o{folder.name}"
    exported = work / "compose" / f"{folder.name}.yml"
    run([*CLI, "compose", str(folder), "-o", str(exported), "--project", folder.name])
    env = stand_in_env(folder)
    compose = ["docker-compose", "-f", str(exported), "-p", f"c{folder.name}"]
    ours = Side("orchestrator", lambda: run([*CLI, "up", str(folder), "--project", project]),
                lambda: run([*CLI, "down", str(folder), "--project", project, "--volumes"]),
                f"https://{project}.localhost:{default_ports(project)[1]}/")
    theirs = Side("docker-compose", lambda: run([*compose, "up", "-d"], env=env),
                  lambda: run([*compose, "down", "-v", "-t", str(GRACE)], env=env),
                  f"https://{folder.name}.localhost:{default_ports(folder.name)[1]}/")
    return ours, theirs, compose, env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="abcdefgh", help="which cases, e.g. abd")
    options = parser.parse_args()
    rounds, only = max(5, options.rounds), set(options.only.replace(",", ""))
    client = docker.from_env()
    work = Path(tempfile.mkdtemp(prefix="orchestrator-bench-"))
    rows: list[tuple[str, str, str, str]] = []
    cleanups: list[Callable[[], object]] = []
    try:
        ten = work / "benchten"
        ten.mkdir()
        (ten / ".platform.app.yaml").write_text(app_config(10, False))
        (ten / "web.py").write_text(WEB)
        ours, theirs, compose, env = sides(ten, work)
        cleanups += [ours.down, theirs.down]
        run([*CLI, "up", str(ten), "--project", f"o{ten.name}"])  # every measured run has the images cached
        ours.down()
        run([*compose, "build"], env=env)
        label_o, label_c = f"orchestrator.project=o{ten.name}", f"com.docker.compose.project=c{ten.name}"
        if only & {"a", "b"}:
            measured: dict[str, dict[str, list[float]]] = {}
            for side, label in ((ours, label_o), (theirs, label_c)):
                full, noop = [], []
                for _ in range(rounds):
                    full.append(side.up())
                    settled(client, label, INSTANCES)
                    noop.append(side.up())
                    side.down()
                measured[side.name] = {"full": full, "noop": noop}
            o, c = measured["orchestrator"], measured["docker-compose"]
            rows.append(("(a) full up, 1 web + 10 workers, images cached", stats(o["full"]), stats(c["full"]),
                         f"{ratio(o['full'], c['full']):.2f} (goal <= {GOALS['a']})"))
            rows.append(("(b) no-op up, settled project", stats(o["noop"]), stats(c["noop"]),
                         f"{ratio(o['noop'], c['noop']):.2f} (goal <= {GOALS['b']})"))
        if "c" in only:
            ours.up()
            settled(client, label_o, INSTANCES)
            redeploy, touched = [], []
            for number in range(1, rounds + 1):
                before = _ids(client, label_o)
                config = (ten / ".platform.app.yaml").read_text()
                (ten / ".platform.app.yaml").write_text(config.replace(f'ROUND: "{number - 1}"', f'ROUND: "{number}"', 1))
                redeploy.append(ours.up())
                after = _ids(client, label_o)
                touched.append(sum(1 for name in after if before.get(name) != after[name]))
            rows.append(("(c) redeploy after changing one worker's variable", stats(redeploy),
                         f"containers touched: {statistics.median(touched):.0f} of {INSTANCES}", "-"))
            ours.down()
            (ten / ".platform.app.yaml").write_text(app_config(10, False))
        if "g" in only:
            measured_g: dict[str, list[float]] = {}
            for side, label, rebuild in ((ours, label_o, ours.up),
                                         (theirs, label_c, lambda: run([*compose, "up", "-d", "--build"], env=env))):
                side.up()
                settled(client, label, INSTANCES)
                samples = []
                for number in range(1, rounds + 1):
                    text = (ten / "web.py").read_text()
                    message = f"{side.name} edit {number} {time.time()}"
                    (ten / "web.py").write_text(re.sub(r'MESSAGE = ".*"', f'MESSAGE = "{message}"', text))
                    started = time.perf_counter()
                    rebuild()
                    samples.append(until_answers(side, started, message))
                measured_g[side.name] = samples
                side.down()
            rows.append(("(g) redeploy after editing one source file, until the new code answers",
                         stats(measured_g["orchestrator"]), stats(measured_g["docker-compose"]),
                         f"{ratio(measured_g['orchestrator'], measured_g['docker-compose']):.2f}"))
        if "h" in only:
            services = work / "benchsvc"
            shutil.copytree(REPO / "examples" / "services", services)
            s_ours, s_theirs, s_compose, s_env = sides(services, work)
            cleanups += [s_ours.down, s_theirs.down]
            s_ours.up()
            s_ours.down()
            run([*s_compose, "build"], env=s_env)
            measured_h: dict[str, list[float]] = {}
            for side in (s_ours, s_theirs):
                samples = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    side.up()
                    samples.append(until_answers(side, started))
                    side.down()
                measured_h[side.name] = samples
            rows.append(("(h) up of examples/services from nothing (4 services, 3 instances), images cached, "
                         "until the web answers", stats(measured_h["orchestrator"]),
                         stats(measured_h["docker-compose"]),
                         f"{ratio(measured_h['orchestrator'], measured_h['docker-compose']):.2f}"))
        if "d" in only:
            twenty = work / "benchtwenty"
            twenty.mkdir()
            (twenty / ".platform.app.yaml").write_text(app_config(20, True))
            (twenty / "web.py").write_text(WEB)
            cleanups.append(lambda: run([*CLI, "down", str(twenty), "--volumes"], check=False))
            stops = []
            for _ in range(rounds):
                run([*CLI, "up", str(twenty)])
                settled(client, f"orchestrator.project={twenty.name}", 22)
                stops.append(run([*CLI, "down", str(twenty)]))
            rows.append(("(d) stop 20 workers that ignore SIGTERM (`down`)", stats(stops),
                         f"one grace period: {GRACE} s", f"{ratio(stops, GRACE):.2f} (goal <= {GOALS['d']})"))
        if "e" in only:
            corpus = subprocess.run([sys.executable, str(HERE / "plan_corpus.py"), str(rounds)], cwd=REPO,
                                    capture_output=True, text=True).stdout.strip()
            rows.append(("(e) validate + plan over the whole corpus (in process)", corpus or "corpus not found",
                         "-", "-"))
        if "f" in only:
            helps = [run([*CLI, "--help"]) for _ in range(rounds)]
            compose_helps = [run(["docker-compose", "--help"]) for _ in range(rounds)]
            rows.append(("(f) CLI start (--help)", stats(helps), stats(compose_helps),
                         f"{ratio(helps, compose_helps):.2f}"))
    finally:
        for cleanup in cleanups:
            try:
                cleanup()
            except BaseException:  # noqa: BLE001  (clean up the rest whatever happened)
                pass
        shutil.rmtree(work, ignore_errors=True)
    write_results(rows, rounds)


def _ids(client: docker.DockerClient, label: str) -> dict[str, str]:
    return {c.labels["orchestrator.instance"]: c.id for c in client.containers.list(all=True, filters={"label": label})}


def machine() -> str:
    engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                            text=True).stdout.strip()
    compose = subprocess.run(["docker-compose", "version", "--short"], capture_output=True, text=True).stdout.strip()
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"Docker engine {engine}, docker-compose {compose}")


def write_results(rows: list[tuple[str, str, str, str]], rounds: int) -> None:
    lines = ["# Benchmark results", "",
             f"Produced by `python bench/run.py --rounds {rounds}` on {time.strftime('%Y-%m-%d')}; "
             f"median (min-max) of {rounds} runs.", "",
             f"Machine: {machine()}.", "",
             "Method: each side measured alone (the other tool's containers absent, its own project name); "
             "all rounds of one side, then all of the other; a no-op on a settled project (every container "
             f"running for {SETTLE:g} s); the web cases poll the route, through each tool's router, until it answers "
             "(with the new text, for (g)). Goals are ratios to docker-compose (or to one grace period, for (d)).", "",
             "| case | orchestrator | docker-compose / reference | ratio |", "|---|---|---|---|"]
    lines += [f"| {case} | {ours} | {theirs} | {r} |" for case, ours, theirs, r in rows]
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
