"""Plain-text rendering of a Plan for people: one aligned table, no colour, no dependencies."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from orchestrator import identity
from orchestrator.plan import ContainerSpec, Plan

if TYPE_CHECKING:
    from orchestrator.engine import ContainerState


def _short(text: str | None, width: int) -> str:
    if not text:
        return "-"
    first = text.strip().splitlines()[0] if text.strip() else ""
    if len(first) > width or "\n" in text.strip():
        return first[: width - 1] + "…"
    return first


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


def _size(spec: ContainerSpec) -> str:
    """The size, marked when it was given locally (`--size`) rather than by the config."""
    given = spec.labels.get(identity.SIZE_FROM)
    return f"{spec.size} ({given})" if given else spec.size


def plan_table(plan: Plan) -> str:
    rows = []
    for spec in plan.instances:
        mounts = ", ".join(f"{m.target}({m.source})" for m in spec.mounts) or "-"
        rels = ", ".join(r.name for r in spec.relationships) or "-"
        rows.append([spec.name, spec.role, spec.image, _short(spec.command, 40),
                     f"{_size(spec)} -> {spec.cpus:g} CPU / {spec.memory_mb} MB", mounts, rels])
    out = [f"project {plan.project}, environment {plan.environment.name} ({plan.environment.type})\n\n",
           table(["INSTANCE", "ROLE", "IMAGE", "COMMAND", "SIZE", "MOUNTS", "RELATIONSHIPS"], rows)]
    out.append("\n" + table(["IMAGE (built once per app)", "APP", "FROM", "CONTEXT"],
                            [[i.image, i.app, i.base_image or "(local stand-in)", i.context] for i in plan.images]))
    out.append("\n" + table(["NETWORK", "INTERNAL", "PURPOSE"],
                            [[n.name, "yes" if n.internal else "no", n.purpose] for n in plan.networks]))
    if plan.routes:
        from orchestrator.router import local_url
        ports = (plan.environment.http_port, plan.environment.https_port)
        out.append("\n" + table(["ROUTE (local URL, through the router)", "TYPE", "TO"],
                                [[r.local_url, r.type, f"app {r.upstream}" if r.type == "upstream"
                                  else local_url(r.to or "", ports)] for r in plan.routes]))
    return "".join(out)


def uptime(state: ContainerState, now: datetime | None = None) -> str:
    """How long a running container has run, as `ps` shows it (`42s`, `3m5s`, `2h7m`, `1d4h`)."""
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
