"""Edit one source file -> time until the change is served, through the project's router.

Measures what a user waits for between saving a file and seeing it: `orchestrator up` (the build with its
kept cache, the deploy) and then GETs of the route until the page shows the edit. Each side is measured
alone, on its own copy of the project, after one warm-up `up`; the result is the median of the runs and,
with two sides, their ratio.

    python bench/edit_to_served.py PROJECT FILE TEXT [--runs 5] [--domain D] [--side NAME=ORCHESTRATOR ...]

TEXT must occur in FILE and show on the page at `/` (a Django view's message, say); each run replaces it
with TEXT plus a run number. A side is an `orchestrator` executable (an older checkout's, for "before").
"""

from __future__ import annotations

import argparse
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from orchestrator.router import default_ports  # noqa: E402


def _page(url: str) -> str:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        return urllib.request.urlopen(url, context=context, timeout=5).read().decode("utf-8", "replace")
    except OSError as error:
        return f"error: {error}"


def measure(name: str, executable: str, source: Path, file: str, text: str, runs: int, domain: str) -> list[float]:
    work = Path(tempfile.mkdtemp(prefix="bench-edit-"))
    project = work / f"{source.name}-{name}"[:40]
    shutil.copytree(source, project, ignore=shutil.ignore_patterns(".git"))
    up = [executable, "up", str(project), "--domain", domain]
    url = f"https://{domain}:{default_ports(project.name)[1]}/"
    try:
        warm = subprocess.run(up, capture_output=True, text=True)  # warm-up: images, services, the first build
        if warm.returncode:
            raise SystemExit(f"{name}: the first up failed:\n{warm.stderr[-3000:]}")
        current, times = text, []
        for run in range(1, runs + 1):
            edited = f"{text} {run}"
            path = project / file
            path.write_text(path.read_text().replace(current, edited, 1))
            current = edited
            start = time.monotonic()
            subprocess.run(up, check=True, capture_output=True)
            while edited not in _page(url):
                if time.monotonic() - start > 600:
                    raise SystemExit(f"{url} never showed {edited!r}")
                time.sleep(0.2)
            times.append(time.monotonic() - start)
            print(f"  {name} run {run}: {times[-1]:.1f} s", flush=True)
        return times
    finally:
        subprocess.run([executable, "down", str(project), "--volumes"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("file")
    parser.add_argument("text")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--domain", default="localhost")
    parser.add_argument("--side", action="append", default=[], metavar="NAME=ORCHESTRATOR",
                        help="default: this checkout's `orchestrator` as 'after'")
    args = parser.parse_args()
    sides = [s.split("=", 1) for s in args.side] or [["after", shutil.which("orchestrator") or "orchestrator"]]
    medians = {}
    for name, executable in sides:
        times = measure(name, executable, args.project, args.file, args.text, args.runs, args.domain)
        medians[name] = statistics.median(times)
        print(f"{name}: median {medians[name]:.1f} s over {len(times)} edits "
              f"({', '.join(f'{t:.1f}' for t in times)})", flush=True)
    if len(medians) == 2:
        (first, a), (second, b) = medians.items()
        print(f"ratio {second}/{first}: {b / a:.2f}")


if __name__ == "__main__":
    main()
