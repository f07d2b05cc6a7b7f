"""What the platform's names mean on Docker: service types, runtimes and sizes.

The facts live as data in `templates/` (services.yaml, runtimes.yaml, sizes.yaml) so a new version or
image is a one-line change; this module only loads them (once) and answers questions about them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

SIZES = ("AUTO", "S", "M", "L", "XL", "2XL", "4XL")
PROFILES = ("HIGH_CPU", "BALANCED", "HIGH_MEMORY", "HIGHER_MEMORY")


@dataclass(frozen=True)
class ServiceType:
    name: str
    versions: tuple[str, ...]
    family: str
    endpoint: str | None
    endpoints: tuple[str, ...]
    scheme: str | None
    port: int | None
    profile: str
    disk: str  # required | optional | none
    image: str | None
    data_path: str | None
    local_configuration: tuple[str, ...]
    accepted_configuration: tuple[str, ...]
    stop_signal: str = "SIGTERM"
    healthcheck: str | None = None
    env: tuple[tuple[str, str], ...] = ()
    replica_of: tuple[str, ...] = ()  # a read-only replica: the types of primary it can stream from

    def image_for(self, version: str) -> str | None:
        return self.image.format(version=version) if self.image else None


@dataclass(frozen=True)
class RuntimeType:
    name: str
    versions: tuple[str, ...]
    image: str | None
    profile: str

    def image_for(self, version: str) -> str | None:
        return self.image.format(version=version) if self.image else None


def templates_dir() -> Path:
    """`templates/`: installed as the package `orchestrator.templates`, or beside the package in a checkout."""
    try:
        return Path(str(resources.files("orchestrator.templates")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"


def read_template(name: str) -> Any:
    """A YAML file of templates/ (the catalogue, the stand-ins), read with libyaml's C loader where PyYAML
    has it (ten times faster: the catalogue is read by every command)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((templates_dir() / name).read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (safe)


@lru_cache(maxsize=None)
def service_types() -> dict[str, ServiceType]:
    result = {}
    for name, entry in read_template("services.yaml").items():
        endpoint = entry.get("endpoint")
        result[name] = ServiceType(
            name=name,
            versions=tuple(str(v) for v in entry["versions"]),
            family=entry["family"],
            endpoint=endpoint,
            endpoints=tuple(entry.get("endpoints") or ([endpoint] if endpoint else [])),
            scheme=entry.get("scheme"),
            port=entry.get("port"),
            profile=entry["profile"],
            disk=entry["disk"],
            image=entry.get("image"),
            data_path=entry.get("data_path"),
            local_configuration=tuple(entry["configuration"]["local"]),
            accepted_configuration=tuple(entry["configuration"]["accepted"]),
            stop_signal=entry.get("stop_signal", "SIGTERM"),
            healthcheck=entry.get("healthcheck") or (
                f"bash -c 'exec 3<>/dev/tcp/127.0.0.1/{entry['port']}'" if entry.get("port") else None),
            env=tuple((str(k), str(v)) for k, v in (entry.get("env") or {}).items()),
            replica_of=tuple(entry.get("replica_of") or ()),
        )
    return result


@dataclass(frozen=True)
class PhpExtensions:
    """What the local PHP images can do with each `runtime.extensions` name (templates/php-extensions.yaml)."""

    included: frozenset[str]
    packages: dict[str, str]
    agents: frozenset[str]


@lru_cache(maxsize=None)
def php_extensions() -> PhpExtensions:
    data = read_template("php-extensions.yaml")
    return PhpExtensions(frozenset(data["included"]), dict(data["packages"]), frozenset(data["agents"]))


@lru_cache(maxsize=None)
def runtime_types() -> dict[str, RuntimeType]:
    return {
        name: RuntimeType(name, tuple(str(v) for v in entry["versions"]), entry.get("image"), entry["profile"])
        for name, entry in read_template("runtimes.yaml").items()
    }


@lru_cache(maxsize=None)
def _sizes() -> dict[str, Any]:
    return read_template("sizes.yaml")


def _flex_memory(profile: str, cpu: float) -> int:
    """Memory of the smallest Flex row with at least `cpu` CPUs (the largest row past the table)."""
    table = {float(k): v for k, v in _sizes()["flex"][profile].items()}
    for row_cpu in sorted(table):
        if row_cpu >= cpu - 1e-9:
            return table[row_cpu]
    return table[max(table)]


def cpu_size(size: str) -> float | None:
    """The CPUs an Upsun size names (`0.5`, `1`, `2`: what `upsun resources:set --size app:1` sets, one of
    the Flex rows), else None (a Platform.sh size name such as L, or no size at all)."""
    try:
        cpu = float(size)
    except ValueError:
        return None
    rows = {float(k) for k in _sizes()["flex"]["HIGH_CPU"]}
    return cpu if cpu in rows else None


def flex_rows(profile: str) -> list[tuple[float, int]]:
    """(CPUs, memory MB) of every Upsun size of a container profile, smallest first."""
    return sorted((float(cpu), int(memory)) for cpu, memory in _sizes()["flex"][profile].items())


def size_choices() -> tuple[str, ...]:
    """Every size a local override may name: the platform's size names, then Upsun's CPU amounts."""
    rows = sorted(float(k) for k in _sizes()["flex"]["HIGH_CPU"])
    return SIZES + tuple(f"{cpu:g}" for cpu in rows)


def limits(size: str | None, profile: str, base_memory: int | None = None,
           memory_ratio: int | None = None, app: bool = False) -> tuple[float, int]:
    """(CPUs, memory MB) for an instance, following the platform's tables.

    A size is a Platform.sh size name (S ... 4XL: the fixed table) or an Upsun CPU amount (0.5, 1, 2:
    memory from the profile's Flex row). No size or AUTO gets the platform's first-deploy default (0.5 CPU,
    memory from the profile), since AUTO's real value depends on a plan that does not exist locally; an
    app or worker (`app`) gets `app_auto` instead, the smallest that real apps start in (sizes.yaml says
    why). Fixed `resources` override memory.
    """
    sizes = _sizes()
    chosen = (size or "AUTO").upper()
    cpu_amount = cpu_size(chosen)
    if base_memory is not None or memory_ratio is not None:
        cpu = cpu_amount if cpu_amount is not None else float(sizes["resources_cpu"].get(chosen, sizes["default_cpu"]))
        memory = (base_memory if base_memory is not None else 64) \
            + (memory_ratio if memory_ratio is not None else 128) * cpu
        return cpu, int(memory)
    if cpu_amount is not None:
        return cpu_amount, _flex_memory(profile, cpu_amount)
    if chosen in sizes["fixed"]:
        row = sizes["fixed"][chosen]
        if profile in row:
            cpu, memory = row[profile]
            return float(cpu), int(memory)
        cpu = float(row["HIGH_MEMORY"][0])
        return cpu, _flex_memory(profile, cpu)
    if app:
        cpu = float(sizes["app_auto"]["cpu"])
        return cpu, max(int(sizes["app_auto"]["min_memory"]), _flex_memory(profile, cpu))
    cpu = float(sizes["default_cpu"])
    return cpu, _flex_memory(profile, cpu)
