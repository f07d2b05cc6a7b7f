"""The project's containers as orchestrator reads them: the one reader of the labels it wrote.

The engine reports containers (`engine.ContainerState`: ids, status, limits, raw labels); everything
that asks "which instance is this, of which app, in which role, made from which spec" asks an
`Observed`, built here from those labels through `identity`. So the label keys are read in one place,
and the deciding, listing and printing code works with named fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Iterable

from orchestrator import identity
from orchestrator.engine import ContainerState
from orchestrator.identity import InstanceRef

HOLD_POLICY = "no"  # the restart policy `orchestrator stop` gives an instance it holds stopped


@dataclass(frozen=True)
class Observed:
    """One of the project's containers as the engine reports it, read through our labels."""

    instance: str
    role: str
    app: str
    container_id: str
    name: str
    config_hash: str
    fields: dict[str, str]
    image_id: str
    status: str
    held: bool = False  # stopped with `orchestrator stop` (its restart policy set to `no`): holds until `start`
    project: str = ""
    size: str = ""  # as the labels give it ("" on a container made before sizes were labelled)
    profile: str = ""
    state: ContainerState | None = field(default=None, compare=False, repr=False)  # what the engine said

    @property
    def ref(self) -> InstanceRef:
        return InstanceRef.named(self.app, self.instance, self.role)

    @property
    def worker(self) -> str | None:
        return self.ref.worker

    @property
    def id(self) -> str:
        return self.container_id

    @property
    def engine_state(self) -> ContainerState:
        """The engine's report this was read from (every Observed made by `observe` has one)."""
        assert self.state is not None, f"{self.name} was not observed on the engine"
        return self.state

    @property
    def is_app(self) -> bool:
        return self.role in identity.APP_ROLES

    def order(self) -> tuple[int, str]:
        """Where it is listed: services, web, workers, router; by instance name within a role."""
        return identity.ROLE_ORDER.get(self.role, len(identity.ROLES)), self.instance


def observed(state: ContainerState) -> Observed:
    """One container read through its labels (a container without ours reads as an unnamed one)."""
    labels = state.labels
    try:
        fields = json.loads(labels.get(identity.FIELDS, "{}"))
    except ValueError:
        fields = {}
    ref = InstanceRef.from_labels(labels)
    return Observed(instance=labels.get(identity.INSTANCE, ""), role=ref.role, app=labels.get(identity.APP, ""),
                    container_id=state.id, name=state.name, config_hash=labels.get(identity.CONFIG_HASH, ""),
                    fields=fields if isinstance(fields, dict) else {}, image_id=state.image_id, status=state.status,
                    held=state.restart_policy == HOLD_POLICY, project=labels.get(identity.PROJECT, ""),
                    size=labels.get(identity.SIZE, ""), profile=labels.get(identity.PROFILE, ""), state=state)


def observe(states: Iterable[ContainerState]) -> list[Observed]:
    """The containers read through their labels, by instance then container name (what `decide` wants)."""
    return sorted((observed(state) for state in states), key=lambda o: (o.instance, o.name))


def listed(states: Iterable[ContainerState]) -> list[Observed]:
    """The containers read through their labels, in the order `ps`, `logs` and `up`'s summary list them."""
    return sorted((observed(state) for state in states), key=Observed.order)
