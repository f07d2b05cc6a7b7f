"""Local resources: the sizes a user gives instances without touching the platform's config.

Upsun sets an app's resources with its CLI (`upsun resources:set --size app:1`), never in the YAML, so a
project's config often names no size at all, and a local user needs a way to give an app, a worker or a
service more (or less) than the default without editing files that belong to the platform. Here that is
`--size INSTANCE=SIZE` on `plan`, `up` and `compose` (repeatable, or several in one: `app=L,app--queue=1`)
and `$ORCHESTRATOR_SIZES` with the same items (the flags win). A size is a Platform.sh size name (S ...
4XL, or AUTO for the default) or an Upsun CPU amount (0.1 ... 8: memory from the instance's container
profile, as on Upsun). The sizes are part of the plan: `plan` shows them, and a changed size recreates
the instance.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from orchestrator.catalog import PROFILES, cpu_size, flex_rows, size_choices
from orchestrator.errors import OrchestratorError

SIZES_ENV = "ORCHESTRATOR_SIZES"
FLAG = "--size"


def _size(item: str, where: str) -> tuple[str, str]:
    """(instance, normalised size) of one `INSTANCE=SIZE` item (`INSTANCE:SIZE`, as Upsun's CLI writes it,
    too)."""
    match = re.fullmatch(r"([^=:\s]+)[=:]([^=:\s]+)", item)
    if match is None:
        raise OrchestratorError(f"{where} {item}: write INSTANCE=SIZE, such as app=L, app--queue=1 or mariadb=M")
    instance, size = match.group(1), match.group(2).upper()
    cpu = cpu_size(size)
    if cpu is not None:
        size = f"{cpu:g}"
    if size not in size_choices():
        raise OrchestratorError(f"{where} {item}: unknown size {match.group(2)}; sizes: "
                                f"{', '.join(size_choices())} (a name, or Upsun's CPUs)")
    return instance, size


def parse_sizes(texts: Iterable[str], where: str = FLAG) -> dict[str, str]:
    """Instance -> size from `INSTANCE=SIZE` items, several to a text when separated by commas or spaces;
    a later item for the same instance wins."""
    result: dict[str, str] = {}
    for text in texts:
        for item in re.split(r"[,\s]+", text.strip()):
            if item:
                instance, size = _size(item, where)
                result[instance] = size
    return result


def local_sizes(flags: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The sizes of `$ORCHESTRATOR_SIZES`, overridden per instance by the `--size` flags."""
    return {**parse_sizes([environ.get(SIZES_ENV, "")], SIZES_ENV), **parse_sizes(flags)}


def refuse_unknown(sizes: Mapping[str, str], instances: Iterable[str]) -> None:
    """A size for an instance the project does not have is a typo, never something to ignore."""
    known = sorted(instances)
    unknown = sorted(set(sizes) - set(known))
    if unknown:
        raise OrchestratorError(f"{FLAG} {unknown[0]}={sizes[unknown[0]]}: no instance {unknown[0]}; instances: "
                                f"{', '.join(known)}")


def memory_advice(instance: str, memory_mb: int, profile: str) -> str:
    """How to give `instance` more memory than `memory_mb`: the next two Upsun sizes of its profile that do,
    on the command line (the platform's config stays as it is)."""
    rows = flex_rows(profile if profile in PROFILES else "HIGH_CPU")
    bigger = [(cpu, memory) for cpu, memory in rows if memory > memory_mb][:2]
    if not bigger:
        return f"it is the largest size of profile {profile}: the app must use less"
    (cpu, memory), others = bigger[0], bigger[1:]
    more = "".join(f"; {FLAG} {instance}={c:g}: {m} MB" for c, m in others)
    return f"raise it with `orchestrator up {FLAG} {instance}={cpu:g}` ({memory} MB{more}), or the same in ${SIZES_ENV}"
