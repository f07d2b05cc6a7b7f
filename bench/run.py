"""Benchmarks of orchestrator against docker-compose on this machine, side by side in one run.

    python bench/run.py [--rounds N]      (needs the Docker engine, docker-compose and the local images)

Cases: (a) full `up` of 1 web + 10 workers with images cached, against `docker-compose up -d` of the
exported file; (b) a no-op `up` against compose's no-op; (c) a redeploy after changing one worker:
containers touched and time; (d) stopping 20 workers that ignore SIGTERM, against one 15 s grace;
(e) `plan` over the whole corpus; (f) CLI start (`--help`) against `docker-compose --help`.
Each case runs several times; the table gives median and spread (min-max), and the ratios.
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLI = [sys.executable, "-m", "orchestrator"]
GRACE = 15


def app_config(workers: int, ignore_term: bool) -> str:
    lines = ["name: app", 'type: "python:3.11"', "web:", "  commands:", '    start: python3 -m http.server "$PORT"',
             "workers:"]
    for i in range(1, workers + 1):
        start = "trap '' TERM; while true; do sleep 1; done" if ignore_term else \
            "exec python3 -c \"import signal, sys, time; signal.signal(signal.SIGTERM, lambda *a: sys.exit(0)); " \
            "time.sleep(10**9)\""
        lines += [f"  w{i}:", "    size: S", "    variables:", "      env:", "        ROUND: \"0\"",
                  "    commands:", "      start: |", f"        {start}"]
    return "\n".join(lines) + "\n"


def run(command: list[str], env: dict | None = None, cwd: Path = REPO) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return elapsed


def stats(samples: list[float]) -> str:
    return f"{statistics.median(samples):.2f} s ({min(samples):.2f}-{max(samples):.2f})"


def stand_in_env(project: Path) -> dict[str, str]:
    """Point the exported file's official images at the local stand-ins (no registry here)."""
    output = subprocess.run([*CLI, "images", "prepare", str(project)], cwd=REPO, capture_output=True, text=True,
                            check=True).stdout
    env = dict(os.environ)
    for line in output.splitlines():
        match = re.match(r"^app \S+: base (\S+)$", line)
        if match:
            env["ORCHESTRATOR_IMAGE_PYTHON_3_11_SLIM"] = match.group(1)
    return env


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    work = Path(tempfile.mkdtemp(prefix="orchestrator-bench-"))
    ten, twenty = work / "benchten", work / "benchtwenty"
    for folder, workers, ignore in ((ten, 10, False), (twenty, 20, True)):
        folder.mkdir()
        (folder / ".platform.app.yaml").write_text(app_config(workers, ignore))
    compose_file = work / "compose" / "benchten.yml"
    run([*CLI, "compose", str(ten), "-o", str(compose_file)])
    env = stand_in_env(ten)
    compose = ["docker-compose", "-f", str(compose_file), "-p", "benchcompose"]
    rows: list[tuple[str, str, str, str]] = []
    try:
        run([*CLI, "up", str(ten)])  # builds the image once: every measured run has it cached
        run([*compose, "build"], env=env)
        up, compose_up, noop, compose_noop = [], [], [], []
        for _ in range(rounds):
            run([*CLI, "down", str(ten)])
            run([*compose, "down", "-t", "1"], env=env)
            up.append(run([*CLI, "up", str(ten)]))
            compose_up.append(run([*compose, "up", "-d"], env=env))
            noop.append(run([*CLI, "up", str(ten)]))
            compose_noop.append(run([*compose, "up", "-d"], env=env))
        rows.append(("(a) full up, 1 web + 10 workers, images cached", stats(up), stats(compose_up),
                     f"{statistics.median(up) / statistics.median(compose_up):.2f}"))
        rows.append(("(b) no-op up", stats(noop), stats(compose_noop),
                     f"{statistics.median(noop) / statistics.median(compose_noop):.2f}"))
        redeploy, touched = [], []
        for number in range(1, rounds + 1):
            before = _ids("benchten")
            config = (ten / ".platform.app.yaml").read_text()
            (ten / ".platform.app.yaml").write_text(config.replace('ROUND: "' + str(number - 1) + '"',
                                                                   'ROUND: "' + str(number) + '"', 1))
            redeploy.append(run([*CLI, "up", str(ten)]))
            after = _ids("benchten")
            touched.append(sum(1 for name in after if before.get(name) != after[name]))
        rows.append(("(c) redeploy after changing one worker", stats(redeploy),
                     f"containers touched: {statistics.median(touched):.0f} of {len(_ids('benchten'))}", "-"))
        stops = []
        for _ in range(max(2, rounds // 2)):
            run([*CLI, "up", str(twenty)])
            time.sleep(1)
            stops.append(run([*CLI, "down", str(twenty)]))
        rows.append(("(d) stop 20 workers that ignore SIGTERM", stats(stops), f"one grace period: {GRACE} s",
                     f"{statistics.median(stops) / GRACE:.2f}"))
        corpus = subprocess.run([sys.executable, str(HERE / "plan_corpus.py"), str(rounds)], cwd=REPO,
                                capture_output=True, text=True).stdout.strip()
        rows.append(("(e) validate + plan over the whole corpus (in process)", corpus or "corpus not found", "-", "-"))
        helps = [run([*CLI, "--help"]) for _ in range(rounds)]
        compose_helps = [run(["docker-compose", "--help"]) for _ in range(rounds)]
        rows.append(("(f) CLI start (--help)", stats(helps), stats(compose_helps),
                     f"{statistics.median(helps) / statistics.median(compose_helps):.2f}"))
    finally:
        subprocess.run([*CLI, "down", str(ten), "--volumes"], cwd=REPO, capture_output=True)
        subprocess.run([*CLI, "down", str(twenty), "--volumes"], cwd=REPO, capture_output=True)
        subprocess.run([*compose, "down", "-v", "-t", "1"], env=env, capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    write_results(rows, rounds)


def _ids(project: str) -> dict[str, str]:
    output = subprocess.run(["docker", "ps", "-a", "--filter", f"label=orchestrator.project={project}", "--format",
                             '{{.Label "orchestrator.instance"}} {{.ID}}'], capture_output=True, text=True).stdout
    return dict(line.split() for line in output.splitlines() if line.strip())


def machine() -> str:
    engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                            text=True).stdout.strip()
    compose = subprocess.run(["docker-compose", "version", "--short"], capture_output=True, text=True).stdout.strip()
    return (f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"Docker engine {engine}, docker-compose {compose}")


def write_results(rows: list[tuple[str, str, str, str]], rounds: int) -> None:
    lines = ["# Benchmark results", "",
             f"Produced by `python bench/run.py --rounds {rounds}` on {time.strftime('%Y-%m-%d')}; "
             f"median (min-max) of {rounds} runs unless a case says otherwise.", "",
             f"Machine: {machine()}.", "",
             "| case | orchestrator | docker-compose / reference | ratio |", "|---|---|---|---|"]
    lines += [f"| {case} | {ours} | {theirs} | {ratio} |" for case, ours, theirs, ratio in rows]
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
