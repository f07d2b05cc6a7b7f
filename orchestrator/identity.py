"""Who an engine object is: the one home of instance names and of the label keys orchestrator writes.

Every container, network, volume and image orchestrator makes carries labels that say which project,
app and instance it belongs to; everything else (finding a project's containers, telling a web instance
from a worker, `ps`, `down`, a redeploy deciding what changed) reads those labels back. Keeping the keys
and the `app--worker` naming here, and nowhere else, means a change to either is one edit, and no
module has to split a name apart again to learn what it means. Pure: no engine, no config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

PREFIX = "orchestrator"

# -- what a container of the project is (set by the translator, read back by `observed.observe`)
PROJECT = f"{PREFIX}.project"  # on every container, network and volume of a deployment (never on an image)
APP = f"{PREFIX}.app"
INSTANCE = f"{PREFIX}.instance"
ROLE = f"{PREFIX}.role"
CONFIG_HASH = f"{PREFIX}.config-hash"  # the hash of the spec the container was made from
FIELDS = f"{PREFIX}.fields"  # short digests of each part of that spec, so a redeploy can say what changed
SIZE = f"{PREFIX}.size"
PROFILE = f"{PREFIX}.profile"
SIZE_FROM = f"{PREFIX}.size-from"  # "--size" when the size was given locally rather than by the config

# -- volumes and the deployment's own identity (orchestrator.deployment)
VOLUME_SCOPE = f"{PREFIX}.volume-scope"  # instance | app | service | machine | deployment
ROOT = f"{PREFIX}.root"  # the project root a deployment was made from (its home)
SECRET_SEED = f"{PREFIX}.secret-seed"
KEPT_CREDENTIALS = f"{PREFIX}.kept-credentials"  # passwords an earlier version generated, moved here once
LOCAL_CA = f"{PREFIX}.local-ca"  # the machine's local certificate authority volume (shared by projects)

# -- images (never an identity label: every container started from an image inherits its labels)
IMAGE_APP = f"{PREFIX}.image.app"
IMAGE_PROJECT = f"{PREFIX}.image.project"
STAND_IN = f"{PREFIX}.stand-in"  # a local stand-in for an image no registry gave
BASE = f"{PREFIX}.base"  # the id of the base image an app image was built on
SYSTEM = f"{PREFIX}.system"  # a system image, shared by apps and projects

ROLES = ("service", "web", "worker", "router")  # the order a deploy starts them in, and `ps` lists them
ROLE_ORDER = {role: position for position, role in enumerate(ROLES)}
APP_ROLES = ("web", "worker")  # the roles that run an app's image (its init, sv, hooks, ssh)
WORKER_SEPARATOR = "--"  # `app--queue`: a worker's instance name (a config name cannot hold `--` twice)


@dataclass(frozen=True, order=True)
class InstanceRef:
    """One instance of a project: an app's web instance, one of its workers, a service, or the router."""

    app: str  # the app, or the service's own name, or "router"
    worker: str | None = None
    role: str = "web"

    @classmethod
    def web(cls, app: str) -> InstanceRef:
        return cls(app, None, "web")

    @classmethod
    def of_worker(cls, app: str, worker: str) -> InstanceRef:
        return cls(app, worker, "worker")

    @classmethod
    def service(cls, name: str) -> InstanceRef:
        return cls(name, None, "service")

    @classmethod
    def router(cls) -> InstanceRef:
        return cls("router", None, "router")

    @property
    def name(self) -> str:
        """The instance's name: `app` (web), `app--queue` (worker), the service's name, `router`."""
        return f"{self.app}{WORKER_SEPARATOR}{self.worker}" if self.worker is not None else self.app

    def to_labels(self, project: str) -> dict[str, str]:
        return owner_labels(project, self.app, self.name, self.role)

    @classmethod
    def named(cls, app: str, instance: str, role: str) -> InstanceRef:
        """The instance called `instance` of `app`: a worker's own name is what follows `app--`."""
        if role == "worker" and instance.startswith(app + WORKER_SEPARATOR):
            return cls(app, instance[len(app) + len(WORKER_SEPARATOR):], role)
        return cls(app or instance, None, role)

    @classmethod
    def from_labels(cls, labels: Mapping[str, str]) -> InstanceRef:
        """The instance a container's labels name."""
        return cls.named(labels.get(APP, ""), labels.get(INSTANCE, ""), labels.get(ROLE, ""))

    def display(self, single_app: bool) -> str:
        """How a message names it: a worker by its own name when the project has one app."""
        return self.worker if self.worker is not None and single_app else self.name


def owner_labels(project: str, app: str, instance: str, role: str) -> dict[str, str]:
    """The identity labels of an instance or of what belongs to one (its volumes: role `mount`)."""
    return {PROJECT: project, APP: app, INSTANCE: instance, ROLE: role}


def worker_instance(app: str, worker: str | None) -> str:
    """The instance name `--app`/`--worker` pick: the web instance, or `app--worker`."""
    return InstanceRef(app, worker, "worker" if worker else "web").name


def label_filter(key: str, value: str) -> str:
    """An engine label filter (`key=value`)."""
    return f"{key}={value}"


def project_filter(project: str) -> str:
    return label_filter(PROJECT, project)


def instance_filter(instance: str) -> str:
    return label_filter(INSTANCE, instance)


def network_labels(project: str) -> dict[str, str]:
    return {PROJECT: project}


def volume_labels(owner_labels: Mapping[str, str], scope: str) -> dict[str, str]:
    return {**owner_labels, VOLUME_SCOPE: scope}


def size_labels(size: str | None, profile: str, given_locally: bool) -> dict[str, str]:
    """The size, its profile and whether `--size` gave it: what an out-of-memory message names."""
    labels = {SIZE: size or "AUTO", PROFILE: profile}
    if given_locally:
        labels[SIZE_FROM] = "--size"
    return labels


def without_project(labels: Mapping[str, str]) -> dict[str, str]:
    """Labels with no deployment identity: what Compose or Swarm runs is theirs, never touched by `up`."""
    return {key: value for key, value in labels.items() if key != PROJECT}
