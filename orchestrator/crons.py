"""Cron specs as the web instance's scheduler runs them.

The platform's `H` (a stable hashed value, so crons of many projects do not all fire at once) and
month/day names are resolved here, once, into plain numeric 5-field specs; the scheduler inside the
container (templates/runtime/orchestrator-cron) then only matches numbers, lists, ranges and steps.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime

from orchestrator.config.model import App, Cron

FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
NAMES = {3: ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
         4: ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]}
_H = re.compile(r"H(?:\((\d+)-(\d+)\))?(?:/(\d+))?")


def _resolve_field(text: str, index: int, seed: int) -> str:
    low, high = FIELDS[index]

    def hashed(match: re.Match) -> str:
        start, end = (int(match.group(1)), int(match.group(2))) if match.group(1) else (low, high)
        step = match.group(3)
        if step:
            offset = start + seed % int(step)
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
    from croniter import croniter
    try:
        return croniter(normalise(cron.spec, f"{app.name}:{cron.name}"), after).get_next(datetime)
    except (ValueError, KeyError):
        return None
