"""A deployment's identity on the engine: the directory it is deployed from (its home), the secret its
services' passwords come from, and the lock that keeps two deploys of it apart.

They follow the deployment, not the person running the command: another user, `sudo`, another
`XDG_STATE_HOME` or a deleted state directory all find the same home, the same passwords and the same
lock. The home and the secret are labels of two volumes of the project (so only `down --volumes` removes
them, with the data the passwords open):

- `<project>.home` records the project root. A command run from another directory under the same
  project name is refused (it would stop, adopt or delete someone else's containers and data) unless
  `--adopt` says to make this directory the deployment's home.
- `<project>.secrets` holds a random seed, and, for a deployment made by an earlier version, the passwords
  that version kept in the state directory. Every service endpoint's password is derived from them, so
  they never change while the data they open lives. Volume labels cannot change: this one is made once.

The lock is a file in the machine's lock directory (`/run/lock`, else `/tmp`), which every user shares,
named after the engine and the project.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
import stat
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from orchestrator.config.model import Project
from orchestrator.errors import OrchestratorError
from orchestrator import identity
from orchestrator.plan import ContainerSpec, MountSpec, Plan

PROJECT_LABEL = identity.PROJECT
ROOT_LABEL = identity.ROOT  # the project root, also on every container, network and volume `up` makes
SEED_LABEL = identity.SECRET_SEED
KEPT_LABEL = identity.KEPT_CREDENTIALS  # passwords an earlier version generated, moved here once
SCOPE_LABEL = identity.VOLUME_SCOPE
SCOPE = "deployment"
IDENTITY_MOUNT = "/var/lib/orchestrator"  # where the router mounts the secrets volume
PASSWORD_LENGTH = 24  # hex characters, as the earlier generated ones

Credentials = dict[tuple[str, str], str]


def home_volume(project: str) -> str:
    return f"{project}.home"


def secrets_volume(project: str) -> str:
    return f"{project}.secrets"


class ForeignDeployment(OrchestratorError):
    """The project name is deployed from another directory."""


class CredentialsLost(OrchestratorError):
    """A service's data exists but the passwords it was made with are nowhere to be found."""


def _root_text(root: Path) -> str:
    return str(root.resolve())


def check_home(engine, project: str, root: Path, adopt: bool = False, create: bool = False,
               say: Callable[[str], None] = lambda _: None, deploying: bool = False, move: bool = False) -> None:
    """Refuse to act on the deployment of `project` when it was made from another directory, unless `adopt`;
    then `move` (a command holding the project's lock: `up`, `down`, `stop`, `start`, `restart`) makes this
    directory its home, and the others just act on it. `create`: record this directory as the home of a
    deployment that has none yet (the first `up`; also a deployment made by an earlier version).
    `deploying` (`up`, its dry run too): a new deployment warns about one whose home is gone."""
    here = _root_text(root)
    labels = engine.volume_labels(home_volume(project))
    recorded = labels.get(ROOT_LABEL) if labels is not None else None
    if recorded == here:
        return
    if recorded is not None:
        if not adopt:
            raise ForeignDeployment(
                f"project {project} is deployed from {recorded}, not from {here}: acting on it from here would "
                f"touch that deployment's containers and data. To deploy this directory separately, give it "
                f"another name (--project NAME); to carry that deployment on from here, with its data, add --adopt")
        if move:  # not atomic, but under the lock; a failure between the two leaves no home, which the
            #      next `up` from here records again
            engine.remove_volume(home_volume(project))
            engine.create_volume(home_volume(project), _home_labels(project, here))
            say(f"project {project}: its home is now {here} (it was {recorded})")
        elif deploying:
            say(f"--adopt: project {project} is deployed from {recorded}; `up` would make {here} its home")
        return
    if deploying and labels is None:
        _warn_about_moved_projects(engine, project, say)
    if create:
        engine.create_volume(home_volume(project), _home_labels(project, here))


def with_home(plan: Plan, root: Path) -> Plan:
    """The plan with the project root recorded on every container, network and volume of the project (for
    whoever looks at them with `docker inspect`; a label outside the config hash, so moving a deployment
    with --adopt recreates nothing). The machine's shared volume (the local CA) belongs to no project.
    The router mounts the secrets volume, so `docker volume prune` sees it in use while the deployment runs,
    as it sees the data volumes (not the home volume, which `--adopt` replaces: a pruned home is recorded
    again by the next `up`)."""
    mark = {ROOT_LABEL: _root_text(root)}
    identity = (MountSpec(IDENTITY_MOUNT + "/secrets", SCOPE, secrets_volume(plan.project)),)

    def marked(spec: ContainerSpec) -> ContainerSpec:
        mounts = spec.mounts + identity if spec.role == "router" else spec.mounts  # in use: no prune takes them
        return replace(spec, labels={**spec.labels, **mark}, mounts=mounts)

    return replace(
        plan, instances=tuple(marked(s) for s in plan.instances),
        networks=tuple(replace(n, labels={**n.labels, **mark}) for n in plan.networks),
        volumes=tuple(replace(v, labels={**v.labels, **mark}) if PROJECT_LABEL in v.labels else v
                      for v in plan.volumes))


def _home_labels(project: str, root: str) -> dict[str, str]:
    return {PROJECT_LABEL: project, ROOT_LABEL: root, SCOPE_LABEL: SCOPE}


def _warn_about_moved_projects(engine, project: str, say: Callable[[str], None]) -> None:
    """A new deployment while another one's home no longer exists: likely this directory, moved or renamed,
    whose old deployment would otherwise run on unnoticed."""
    for volume in engine.labelled_volumes(identity.label_filter(SCOPE_LABEL, SCOPE)):
        labels = volume["labels"]
        other, where = labels.get(PROJECT_LABEL), labels.get(ROOT_LABEL)
        if other and where and other != project and not _exists(where):
            say(f"warning: project {other} was deployed from {where}, which no longer exists; if this directory "
                f"is that one moved or renamed, `orchestrator up --project {other} --adopt` carries that "
                f"deployment (and its data) on from here, and `orchestrator down --project {other} --adopt` "
                f"removes it")


def _exists(path: str) -> bool:
    """Whether a recorded home is still there; one this user may not even look at (another user's home
    directory) counts as there."""
    try:
        return Path(path).exists()
    except OSError:
        return True


def credentials(engine, project: Project, create: bool, legacy: Credentials | None,
                data_volumes: Callable[[], list[str]] = list) -> Credentials | None:
    """A password per (service, endpoint) of the project, from the deployment's secrets volume.

    Without that volume: `create` makes it (taking over `legacy`, the passwords an earlier version kept in
    the caller's state directory); else the passwords are None (nothing is deployed: the caller uses
    stand-ins) or `legacy` when there are some. `data_volumes()` names the volumes of services with
    passwords: one that exists while no password is known was made with passwords that are lost."""
    labels = engine.volume_labels(secrets_volume(project.name))
    if labels is None:
        if not create:
            return _derive(project, "", legacy) if legacy else None
        if not legacy:
            existing = [name for name in data_volumes() if engine.volume_labels(name) is not None]
            if existing:
                raise CredentialsLost(
                    f"the data of project {project.name} ({', '.join(existing)}) was made with passwords that "
                    f"are not here: the volume {secrets_volume(project.name)} that held them is gone (a "
                    f"`docker volume prune` while the project was down?), or an earlier version kept them in "
                    f"its state directory (another user's home, `sudo`, another XDG_STATE_HOME). Run "
                    f"`orchestrator up` once as the user who deployed it with that version (it moves them into "
                    f"the deployment), or `orchestrator down --volumes` to start over (this deletes the data)")
        labels = {PROJECT_LABEL: project.name, SCOPE_LABEL: SCOPE, SEED_LABEL: secrets.token_hex(32),
                  KEPT_LABEL: json.dumps({f"{s}\t{e}": p for (s, e), p in sorted((legacy or {}).items())})}
        engine.create_volume(secrets_volume(project.name), labels)
        labels = engine.volume_labels(secrets_volume(project.name)) or labels  # another command's, if it won
    try:
        kept = {tuple(key.split("\t", 1)): value for key, value in json.loads(labels.get(KEPT_LABEL) or "{}").items()}
    except ValueError:
        kept = {}
    return _derive(project, labels.get(SEED_LABEL, ""), kept)


def _derive(project: Project, seed: str, kept: Credentials | None) -> Credentials:
    kept = kept or {}
    result: Credentials = {}
    for service in project.services:
        owner = service.credentials_owner  # a replica's users are its primary's
        for endpoint in service.endpoints:
            key = (owner, endpoint.name)
            if key in kept:
                result[key] = kept[key]
            elif seed:
                result[key] = hmac.new(seed.encode(), f"{owner}\0{endpoint.name}".encode(),
                                       hashlib.sha256).hexdigest()[:PASSWORD_LENGTH]
    return result


def _engine_key() -> str:
    """Which engine a lock is for: two engines may each run a project of the same name. A unix socket is
    named by its real path, so `unix:///var/run/docker.sock`, `unix:///run/docker.sock` and no DOCKER_HOST
    at all (`sudo` drops it) are one engine."""
    where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    if where.startswith("unix://"):
        where = "unix://" + os.path.realpath(where[len("unix://"):])
    return hashlib.sha256(where.encode()).hexdigest()[:8]


def _lock_dir() -> Path:
    """`$ORCHESTRATOR_LOCK_DIR` (made when missing), else the machine's lock directory, else /tmp: both
    sticky, owned by root, writable by every user."""
    chosen = os.environ.get("ORCHESTRATOR_LOCK_DIR")
    if chosen:
        Path(chosen).mkdir(parents=True, exist_ok=True)
        return Path(chosen)
    for candidate in ("/run/lock", "/tmp"):
        try:
            info = os.lstat(candidate)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_uid == 0 and info.st_mode & stat.S_ISVTX \
                and os.access(candidate, os.W_OK):
            return Path(candidate)
    return Path("/tmp")


def lock_path(project: str) -> Path:
    return _lock_dir() / f"orchestrator-{_engine_key()}-{project}.lock"


def _open_shared(path: Path) -> int:
    """The lock file, which any user of the machine can take. Opened without following a link, and only
    when it is a plain file with one name, so a file planted in its place cannot be written through."""
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
    except OSError as error:
        raise OrchestratorError(f"cannot open the lock {path}: {error.strerror} (a link, or a file another user "
                                f"made with a narrower mode? remove it, or set ORCHESTRATOR_LOCK_DIR)") from None
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(descriptor)
        raise OrchestratorError(f"the lock {path} is not a plain file of its own; remove it")
    if info.st_uid == os.getuid():
        os.fchmod(descriptor, 0o666)  # whatever the umask made of it: another user must be able to take it
    return descriptor


@contextmanager
def project_lock(project: str, on_wait: Callable[[str], None]) -> Iterator[None]:
    """One command that changes a project at a time (`up`, `down`, `stop`, `start`, `restart`), whoever
    runs it: a second one waits for the first to finish. The lock goes with the process, however it ends."""
    descriptor = _open_shared(lock_path(project))
    with os.fdopen(descriptor, "r+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            on_wait(f"another command is changing project {project} ({holder}); waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()  # a plain file of the lock's own (see _open_shared): only the holder's note is in it
        handle.write(f"pid {os.getpid()}, user {os.getuid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
