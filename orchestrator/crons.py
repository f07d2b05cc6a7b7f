"""Cron specs as the web instance's scheduler runs them.

The platform's `H` (a stable hashed value, so crons of many projects do not all fire at once) and
month/day names are resolved here, once, into plain numeric 5-field specs; the scheduler inside the
container (templates/runtime/orchestrator-cron) then only matches numbers, lists, ranges and steps.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime, timezone

from orchestrator.config.model import App, Cron

FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
NAMES = {3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
         4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}
_H = re.compile(r"(?<![A-Za-z])H(?:\((\d+)-(\d+)\))?(?:/(\d+))?")  # not the H of a name (THU)


def _hash_range(match: re.Match, index: int) -> tuple[int, int]:
    """The range an `H` draws from: its own `H(start-end)`, else the whole field's."""
    return (int(match.group(1)), int(match.group(2))) if match.group(1) else FIELDS[index]


def hash_problem(spec: str) -> str | None:
    """Why an `H` of `spec` cannot be resolved (a range that ends before it starts, a step of 0), or None."""
    for index, text in enumerate(spec.split()[:len(FIELDS)]):
        low, high = FIELDS[index]
        for match in _H.finditer(text):
            start, end = _hash_range(match, index)
            if not low <= start <= end <= high:
                return f"H({start}-{end}) is not a range within {low}-{high}"
            if match.group(3) is not None and int(match.group(3)) == 0:
                return "a step of 0"
    return None


def _resolve_field(text: str, index: int, seed: int) -> str:
    def hashed(match: re.Match) -> str:
        start, end = _hash_range(match, index)
        step = match.group(3)
        if step:  # the first run within the range, whatever the step's width
            offset = start + seed % min(int(step), end - start + 1)
            return f"{offset}-{end}/{step}"
        return str(start + seed % (end - start + 1))

    text = _H.sub(hashed, text.replace("?", "*")).lower()
    for position, name in enumerate(NAMES.get(index, [])):
        text = text.replace(name, str(position + (1 if index == 3 else 0)))
    return text


def normalise(spec: str, seed_text: str) -> str:
    """`spec` with H and names resolved; the same app and cron name always get the same values."""
    seed = int(hashlib.sha256(seed_text.encode()).hexdigest()[:8], 16)
    return " ".join(_resolve_field(field, index, seed) for index, field in enumerate(spec.split()))


def _b64(text: str | None) -> str:
    return base64.b64encode((text or "").encode()).decode()


def crons_env(app: App) -> dict[str, str]:
    """The env the web instance's scheduler reads; empty when the app has no crons."""
    if not app.crons:
        return {}
    lines = ["\t".join([cron.name, normalise(cron.spec, f"{app.name}:{cron.name}"), str(cron.shutdown_timeout),
                        str(cron.timeout), _b64(cron.start), _b64(cron.stop)]) for cron in app.crons]
    return {"ORCHESTRATOR_CRONS": "\n".join(lines), "ORCHESTRATOR_CRON_TZ": app.timezone or "UTC"}


def next_run(cron: Cron, app: App, after: datetime) -> datetime | None:
    """When the web instance's scheduler runs `cron` next after `after` (aware), in UTC: the scheduler
    reads the spec in the app's `timezone`, as the platform does. None for a spec it cannot read."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter
    try:
        zone = ZoneInfo(app.timezone or "UTC")
        upcoming = croniter(normalise(cron.spec, f"{app.name}:{cron.name}"), after.astimezone(zone)).get_next(datetime)
    except (ValueError, KeyError, ZoneInfoNotFoundError):
        return None
    return upcoming.astimezone(timezone.utc)
