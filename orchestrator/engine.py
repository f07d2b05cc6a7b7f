"""The Docker engine, and the only module that imports `docker`.

Every call the rest of the package makes goes through `Engine`, which speaks in plain values
(names, labels, dicts) rather than SDK objects. Calls that can fail transiently (connection reset,
409 while a container is being removed, 5xx) are retried with bounded exponential back-off;
anything else becomes an `EngineError` whose message says what to do.

Reads that every command makes (ping, list, inspect) go straight to the engine's unix socket with the
standard library, and the SDK is imported only when something is created, changed or streamed: a
no-op `up` or a `ps` never pays for importing it (about half of their time otherwise).
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import socket
import sys
import tarfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import quote, urlencode

from orchestrator.errors import OrchestratorError
from orchestrator.identity import instance_filter, project_filter

EXEC_WATCH_SECONDS = 2.0
DEFAULT_SOCKET = "/var/run/docker.sock"
BUILD_TAIL_LINES = 30  # the output lines a failed build shows


class EngineError(OrchestratorError):
    """The engine refused or failed a request in a way retrying will not fix."""


class BuildFailed(EngineError):
    """An image build failed; `log` holds its last lines, which the message shows (they say why)."""

    def __init__(self, message: str, log: list[str]) -> None:
        shown = [line for line in log if line.strip()]
        super().__init__(message + (f"; its last {len(shown)} lines of output:\n"
                                    + "\n".join(f"    {line}" for line in shown)
                                    if shown else ""))
        self.log = log


class SocketLost(ConnectionError):
    """A direct read on the engine's socket found no engine (refused, reset, or no socket at all)."""


class _NotFound(Exception):
    """404 from a direct read."""


def _lost_types() -> tuple[type[BaseException], ...]:
    """What a lost engine raises: our own direct reads, and the SDK's transport once it is loaded."""
    requests = sys.modules.get("requests")
    if requests is None:
        return (SocketLost,)
    return (SocketLost, requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
            requests.exceptions.Timeout)


def is_lost(error: BaseException | None) -> bool:
    return error is not None and isinstance(error, _lost_types())


def _transient(error: BaseException) -> bool:
    if isinstance(error, SocketLost):
        return True
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(error, (requests.exceptions.ConnectionError,
                                                   requests.exceptions.ChunkedEncodingError)):
        return True
    errors = sys.modules.get("docker.errors")
    if errors is not None and isinstance(error, errors.APIError) and not isinstance(error, errors.NotFound):
        status = error.status_code or 0
        text = str(error.explanation or "")
        return status >= 500 or (status == 409 and "in progress" in text)
    return False


def lost_engine(error: BaseException) -> EngineError:
    return EngineError(f"lost the connection to the Docker engine ({type(error).__name__}: {error}); "
                       "what was not done yet is left as it was: run the command again once the engine answers, "
                       "and it converges")


def _retry(function: Callable) -> Callable:
    """Retry transient failures with bounded back-off; a connection that stays lost becomes an EngineError.
    tenacity is loaded with the first call, not with the module."""
    retried: list[Callable] = []

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not retried:
            from tenacity import retry, retry_if_exception, stop_after_attempt, wait_exponential
            retried.append(retry(retry=retry_if_exception(_transient), stop=stop_after_attempt(5),
                                 wait=wait_exponential(multiplier=0.2, max=3), reraise=True)(function))
        try:
            return retried[0](*args, **kwargs)
        except Exception as error:
            if is_lost(error):
                raise lost_engine(error) from error
            raise
    return call


def _socket_path() -> str | None:
    """The engine's unix socket when the environment names one plainly (or names none); None when the SDK
    must decide (tcp, TLS, contexts)."""
    if os.environ.get("DOCKER_TLS_VERIFY") or os.environ.get("DOCKER_CONTEXT"):
        return None
    host = os.environ.get("DOCKER_HOST", "")
    if not host:
        return DEFAULT_SOCKET
    if host.startswith("unix://"):
        return host[len("unix://"):]
    return None


def _expected_size(received: bytes) -> int | None:
    """Headers plus body, in bytes, when the headers give the body's length (None: read to the close)."""
    head, _, _ = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return len(head) + 4 + int(value.strip())
    return None


class _Reader:
    """GET requests on the engine's unix socket, one short HTTP/1.0 connection each (safe from any thread).
    HTTP/1.0 makes the engine answer with a plain body and close, so no HTTP library is needed (importing
    one costs a no-op `up` more than the request does)."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path, self.timeout = path, timeout

    def get(self, url: str, query: dict[str, Any] | None = None) -> Any:
        target = url + ("?" + urlencode(query) if query else "")
        chunks = []
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(self.timeout)
                connection.connect(self.path)
                connection.sendall(f"GET {target} HTTP/1.0\r\nHost: docker\r\n\r\n".encode("ascii"))
                expected = None  # the body's length once the headers are in: stop there, not at the close
                while expected is None or sum(len(c) for c in chunks) < expected:
                    data = connection.recv(262144)
                    if not data:
                        break
                    chunks.append(data)
                    if expected is None and b"\r\n\r\n" in b"".join(chunks):
                        expected = _expected_size(b"".join(chunks))
        except OSError as error:
            raise SocketLost(f"{type(error).__name__}: {error} ({self.path})") from error
        head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise SocketLost(f"no HTTP answer on {self.path}: {lines[0][:80]!r}") from None
        content_type = next((line.split(":", 1)[1].strip() for line in lines[1:]
                             if line.lower().startswith("content-type:")), "")
        if status == 404:
            raise _NotFound(url)
        if status >= 400:
            message = body.decode("utf-8", "replace")
            try:
                message = json.loads(message).get("message", message)
            except ValueError:
                pass
            raise EngineError(f"the engine answered {status} to GET {url}: {message}")
        if not body or "json" not in content_type:
            return body.decode("utf-8", "replace") if body else None
        return json.loads(body)


@dataclass(frozen=True)
class ContainerState:
    """What the engine says about one of our containers."""

    id: str
    name: str
    labels: dict[str, str]
    image_id: str
    status: str  # created | running | restarting | exited | paused | dead
    restart_count: int
    exit_code: int
    started_at: str
    finished_at: str
    host_port: int | None
    ports: tuple[tuple[int, int], ...] = ()  # (container port, host port) of every published port
    cpus: float = 0.0
    memory_mb: int = 0
    health: str = ""  # starting | healthy | unhealthy, or "" without a healthcheck
    oom_killed: bool = False  # the engine saw the kernel kill a process of it for want of memory (last run)
    restart_policy: str = ""  # "no" marks an instance held stopped by `orchestrator stop`


class Engine:
    """A connection to the Docker engine (holds the SDK client)."""

    def __init__(self, timeout: int = 120) -> None:
        self.timeout = timeout
        self._api: Any = None
        self._lock = threading.Lock()
        path = _socket_path()
        self.reader = _Reader(path, timeout) if path else None
        if self.reader is None:
            _ = self.api  # no plain socket: the SDK connects (and pings) now
            return
        try:
            self.reader.get("/_ping")
        except (SocketLost, EngineError) as error:
            raise EngineError(f"cannot reach the Docker engine ({error}); is it running, and may you "
                              "use its socket?") from None

    @property
    def api(self) -> Any:
        """The SDK's low-level client, made on first use (importing the SDK is the slow part of a command)."""
        with self._lock:
            if self._api is None:
                import docker
                import requests
                try:
                    client = docker.from_env(timeout=self.timeout, max_pool_size=64)
                    client.api.ping()
                except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
                    raise EngineError(f"cannot reach the Docker engine ({error}); is it running, and may you "
                                      "use its socket?") from None
                self._api = client.api
            return self._api

    def _read(self, url: str, query: dict[str, Any] | None = None, sdk: Callable[[], Any] | None = None) -> Any:
        """A GET straight on the socket where there is one, else through the SDK (`sdk`); None for 404."""
        if self.reader is not None:
            try:
                return self.reader.get(url, query)
            except _NotFound:
                return None
        from docker.errors import NotFound
        try:
            return sdk() if sdk else None
        except NotFound:
            return None

    # -- images ----------------------------------------------------------------------------------
    def _image(self, ref: str) -> dict[str, Any] | None:
        return self._read(f"/images/{quote(ref, safe='/:@')}/json", sdk=lambda: self.api.inspect_image(ref))

    @_retry
    def image_id(self, ref: str) -> str | None:
        found = self._image(ref)
        return found["Id"] if found else None

    @_retry
    def image_config(self, ref: str) -> dict[str, Any]:
        """The image's config (Env, Entrypoint, Cmd, Labels, ...); empty when there is no such image."""
        found = self._image(ref)
        return (found or {}).get("Config") or {}

    @_retry
    def image_labels(self, ref: str) -> dict[str, str]:
        found = self._image(ref)
        return (found or {}).get("Config", {}).get("Labels") or {}

    def pull(self, ref: str) -> bool:
        """Try to pull `ref`; False (not an error) when no registry can serve it."""
        import requests
        from docker.errors import APIError
        repository, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
        try:
            self.api.pull(repository, tag=tag or "latest")
            return True
        except (APIError, requests.exceptions.RequestException):
            return False

    def import_rootfs(self, tar_path: str, ref: str, changes: list[str]) -> str:
        repository, _, tag = ref.rpartition(":")
        self.api.import_image(src=tar_path, repository=repository, tag=tag, changes=changes)
        found = self.image_id(ref)
        if not found:
            raise EngineError(f"importing {ref} did not produce an image")
        return found

    def build(self, context: Any, tag: str, labels: dict[str, str] | None, on_line: Callable[[str], None],
              dockerfile: str | None = None) -> str:
        """Build from a tar context (file object); streams each output line to `on_line`; returns the image id."""
        from docker.errors import APIError
        tail: list[str] = []
        try:
            for chunk in self.api.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True,
                                        labels=labels, decode=True, dockerfile=dockerfile):
                text = chunk.get("stream") or chunk.get("status") or ""
                if "error" in chunk:
                    tail.append(chunk["error"].rstrip())
                    raise BuildFailed(f"building {tag} failed: {chunk['error'].strip()}", tail[-BUILD_TAIL_LINES:])
                for line in text.splitlines():
                    if line.strip():
                        tail.append(line.rstrip())
                        on_line(line.rstrip())
        except APIError as error:
            raise BuildFailed(f"building {tag} failed: {error.explanation or error}",
                              tail[-BUILD_TAIL_LINES:]) from None
        found = self.image_id(tag)
        if not found:
            raise BuildFailed(f"building {tag} produced no image", tail[-BUILD_TAIL_LINES:])
        return found

    def build_in_container(self, *, name: str, base: str, context: Any, command: list[str], env: dict[str, str],
                           labels: dict[str, str], volumes: list[tuple[str, str]], tag: str,
                           on_line: Callable[[str], None], changes: list[str] | None = None,
                           layer_of: str | None = None) -> str:
        """Build an image the way the platform does: run `command` in a container of `base` holding the
        context (unpacked at /), with volumes (the build cache) that never become part of the image.

        The image is then either the container committed (with `changes`), or, with `layer_of` (a directory
        the build alone writes, kept in a volume of the build container), `base` plus one layer holding
        that directory: made from its archive and loaded, which takes a second where a commit takes ten
        on some storage drivers. Streams each output line to `on_line`; returns the image id. The build
        container is removed however the build ends (Ctrl-C included)."""
        from docker.errors import APIError
        self.remove(name)  # left behind by a build this machine lost (power cut, killed process)
        tail: list[str] = []
        created = ""
        try:
            host_config = self.api.create_host_config(binds=[f"{volume}:{target}" for volume, target in volumes])
            created = self.api.create_container(image=base, command=command, entrypoint=[], name=name,
                                                environment=env, labels=labels, host_config=host_config,
                                                working_dir="/", user="0",
                                                volumes=[layer_of] if layer_of else None)["Id"]
            self.api.put_archive(created, "/", context)
            self.api.start(created)
            pending = b""
            for chunk in self.api.logs(created, stream=True, follow=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip()
                    tail.append(line)
                    del tail[:-BUILD_TAIL_LINES]
                    on_line(line)
            if pending.strip():
                tail.append(pending.decode("utf-8", "replace").rstrip())
                on_line(tail[-1])
            status = self.api.wait(created).get("StatusCode", 1)
            if status != 0:
                raise BuildFailed(f"building {tag} failed: the build exited with status {status}",
                                  tail[-BUILD_TAIL_LINES:])
            if layer_of:
                return self._image_with_layer(base, created, layer_of, tag, labels)
            repository, _, version = tag.rpartition(":")
            return self.api.commit(created, repository=repository, tag=version, changes=changes or [])["Id"]
        except APIError as error:
            raise BuildFailed(f"building {tag} failed: {error.explanation or error}",
                              tail[-BUILD_TAIL_LINES:]) from None
        finally:
            if created:
                self.remove(created)

    def _image_with_layer(self, base: str, container: str, path: str, tag: str, labels: dict[str, str]) -> str:
        """Load the image `base` + one layer: the archive of `path` in `container`. The load names every
        layer of `base`, which the engine has, so it reads only the new one."""
        import datetime
        import tempfile
        info = self.api.inspect_image(base)
        with tempfile.TemporaryDirectory(prefix="orchestrator-layer-", dir="/var/tmp") as folder:
            layer_file = os.path.join(folder, "layer.tar")
            digest = hashlib.sha256()
            stream, _ = self.api.get_archive(container, path)
            with open(layer_file, "wb") as handle:
                for chunk in stream:
                    digest.update(chunk)
                    handle.write(chunk)
            config = {"architecture": info.get("Architecture", "amd64"), "os": info.get("Os", "linux"),
                      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                      "config": {**info["Config"], "Labels": {**(info["Config"].get("Labels") or {}), **labels},
                                 "WorkingDir": path},
                      "rootfs": {"type": "layers",
                                 "diff_ids": [*info["RootFS"]["Layers"], f"sha256:{digest.hexdigest()}"]},
                      "history": []}
            config_bytes = json.dumps(config, sort_keys=True).encode()
            image_id = hashlib.sha256(config_bytes).hexdigest()
            known = [f"base-{n}/layer.tar" for n in range(len(info["RootFS"]["Layers"]))]
            manifest = [{"Config": f"{image_id}.json", "RepoTags": [tag], "Layers": [*known, "new/layer.tar"]}]
            bundle = os.path.join(folder, "image.tar")
            with tarfile.open(bundle, "w") as archive:
                for name, data in (("manifest.json", json.dumps(manifest).encode()), (f"{image_id}.json", config_bytes),
                                   *((name, b"") for name in known)):
                    entry = tarfile.TarInfo(name)
                    entry.size = len(data)
                    archive.addfile(entry, io.BytesIO(data))
                archive.add(layer_file, arcname="new/layer.tar")
            with open(bundle, "rb") as handle:
                for chunk in self.api.load_image(handle):
                    if isinstance(chunk, dict) and (chunk.get("error") or chunk.get("errorDetail")):
                        raise BuildFailed(f"building {tag} failed: the engine refused its layer: "
                                          f"{chunk.get('error') or chunk.get('errorDetail')}", [])
        found = self.image_id(tag)
        if found is None:
            raise BuildFailed(f"building {tag} failed: loading its layer made no image", [])
        return found

    @_retry
    def remove_image(self, ref: str) -> None:
        from docker.errors import NotFound
        try:
            self.api.remove_image(ref, force=True)
        except NotFound:
            pass

    # -- networks and volumes -----------------------------------------------------------------------
    @_retry
    def ensure_network(self, name: str, internal: bool, labels: dict[str, str]) -> None:
        found = self._read("/networks", {"filters": json.dumps({"name": [name]})},
                           sdk=lambda: self.api.networks(names=[name])) or []
        if any(n["Name"] == name for n in found):
            return
        from docker.errors import APIError
        try:
            self.api.create_network(name, driver="bridge", internal=internal, labels=labels, check_duplicate=True)
        except APIError as error:
            if error.status_code != 409:
                raise

    @_retry
    def networks(self, project: str) -> list[str]:
        found = self._read("/networks", {"filters": json.dumps({"label": [project_filter(project)]})},
                           sdk=lambda: self.api.networks(filters={"label": project_filter(project)})) or []
        return [n["Name"] for n in found]

    @_retry
    def remove_network(self, name: str) -> None:
        from docker.errors import NotFound
        try:
            self.api.remove_network(name)
        except NotFound:
            pass

    @_retry
    def ensure_volume(self, name: str, labels: dict[str, str]) -> None:
        if self.volume_labels(name) is None:
            self.create_volume(name, labels)

    @_retry
    def volume_labels(self, name: str) -> dict[str, str] | None:
        """The labels of a volume; None when there is no such volume."""
        found = self._read(f"/volumes/{quote(name, safe='')}", sdk=lambda: self.api.inspect_volume(name))
        return None if found is None else dict(found.get("Labels") or {})

    @_retry
    def create_volume(self, name: str, labels: dict[str, str]) -> None:
        """Make a volume with these labels (an existing one of that name is left as it is)."""
        self.api.create_volume(name=name, labels=labels)

    @_retry
    def labelled_volumes(self, label: str) -> list[dict[str, Any]]:
        """Every volume carrying `label` (a key, or key=value), of any project."""
        listed = self._read("/volumes", {"filters": json.dumps({"label": [label]})},
                            sdk=lambda: self.api.volumes(filters={"label": label})) or {}
        return [{"name": v["Name"], "labels": v.get("Labels") or {}} for v in listed.get("Volumes") or []]

    def volumes(self, project: str) -> list[dict[str, Any]]:
        return self.labelled_volumes(project_filter(project))

    @_retry
    def remove_volume(self, name: str) -> None:
        from docker.errors import NotFound
        try:
            self.api.remove_volume(name, force=True)
        except NotFound:
            pass

    # -- containers ---------------------------------------------------------------------------------
    def containers(self, project: str) -> list[ContainerState]:
        """Every container of the project, running or not: one list call, then the inspects at once."""
        listed = self._list(project)
        if len(listed) <= 1:
            found = [self.inspect(item["Id"]) for item in listed]
        else:
            with ThreadPoolExecutor(max_workers=min(8, len(listed))) as pool:
                found = list(pool.map(lambda item: self.inspect(item["Id"]), listed))
        return [state for state in found if state is not None]

    @_retry
    def _list(self, project: str, *labels: str) -> list[dict[str, Any]]:
        """The engine's list entries of the project's containers (those with every one of `labels` too)."""
        filters = {"label": [project_filter(project), *labels]}
        return self._read("/containers/json", {"all": "1", "filters": json.dumps(filters)},
                          sdk=lambda: self.api.containers(all=True, filters=filters)) or []

    @_retry
    def inspect(self, container: str) -> ContainerState | None:
        data = self._read(f"/containers/{quote(container, safe='')}/json",
                          sdk=lambda: self.api.inspect_container(container))
        if data is None:
            return None
        state = data["State"]
        port = None
        published = []
        for inside, bindings in sorted((data["NetworkSettings"].get("Ports") or {}).items()):
            for binding in bindings or []:
                if binding.get("HostPort"):
                    port = int(binding["HostPort"])
                    published.append((int(inside.split("/")[0]), port))
        return ContainerState(id=data["Id"], name=data["Name"].lstrip("/"), labels=data["Config"].get("Labels") or {},
                              image_id=data["Image"], status=state["Status"],
                              health=(state.get("Health") or {}).get("Status", ""),
                              oom_killed=bool(state.get("OOMKilled")),
                              restart_count=data.get("RestartCount", 0), exit_code=state.get("ExitCode", 0),
                              started_at=state.get("StartedAt", ""), finished_at=state.get("FinishedAt", ""),
                              host_port=port, ports=tuple(sorted(set(published))),
                              cpus=(data["HostConfig"].get("NanoCpus") or 0) / 1e9,
                              memory_mb=(data["HostConfig"].get("Memory") or 0) // (1024 * 1024),
                              restart_policy=(data["HostConfig"].get("RestartPolicy") or {}).get("Name") or "")

    @_retry
    def set_restart_policy(self, container: str, name: str) -> None:
        """Change a container's restart policy in place (`no` holds a stopped instance: see
        `operations.lifecycle`)."""
        self.api.update_container(container, restart_policy={"Name": name})

    def container_env(self, container: str) -> dict[str, str]:
        """The container's environment; empty when it is gone (removed by a deploy since it was listed)."""
        data = self._read(f"/containers/{quote(container, safe='')}/json",
                          sdk=lambda: self.api.inspect_container(container))
        env = (data or {}).get("Config", {}).get("Env") or []
        return dict(item.split("=", 1) for item in env if "=" in item)

    def create_container(self, *, name: str, image: str, command: list[str] | None, env: dict[str, str],
                         labels: dict[str, str], mounts: Iterable[tuple[str | None, str]],
                         networks: list[tuple[str, tuple[str, ...]]], cpus: float, memory_mb: int,
                         ports: Iterable[tuple[int, str, int | None]], extra_hosts: dict[str, str],
                         restart: str, stop_signal: str, stop_timeout: int, init: bool,
                         healthcheck: dict[str, Any] | None = None, entrypoint: list[str] | None = None,
                         working_dir: str | None = None, read_only: bool = False,
                         tmpfs: Iterable[str] = ()) -> str:
        memory = int(memory_mb) * 1024 * 1024
        port_list = list(ports)
        mount_list = list(mounts)
        host_config = self.api.create_host_config(
            binds=[f"{volume}:{target}" for volume, target in mount_list if volume],
            port_bindings={p: (ip, hp) for p, ip, hp in port_list} or None,
            restart_policy={"Name": restart} if restart else None,
            nano_cpus=int(round(min(cpus, self.cpu_count()) * 1e9)), mem_limit=memory, memswap_limit=memory,
            init=init, extra_hosts=extra_hosts or None, network_mode=networks[0][0] if networks else "none",
            cap_drop=None, security_opt=["no-new-privileges"], read_only=read_only or None,
            tmpfs={path: "mode=1777" if path == "/tmp" else "mode=755" for path in tmpfs} or None,
        )
        networking = None
        if networks:
            first, aliases = networks[0]
            networking = self.api.create_networking_config(
                {first: self.api.create_endpoint_config(aliases=list(aliases) or None)})
        if healthcheck:
            healthcheck = {"test": ["CMD-SHELL", healthcheck["test"]],
                           **{key: int(healthcheck[key] * 1e9) for key in ("interval", "timeout", "start_period")
                              if key in healthcheck}, "retries": healthcheck.get("retries", 3)}
        created = self._create(image=image, command=command, name=name, environment=env, labels=labels,
                               host_config=host_config, networking_config=networking, stop_signal=stop_signal,
                               stop_timeout=stop_timeout, ports=[p for p, _, _ in port_list] or None,
                               volumes=[target for volume, target in mount_list if not volume] or None,
                               healthcheck=healthcheck, entrypoint=entrypoint, working_dir=working_dir)
        for network, aliases in networks[1:]:
            self._connect(network, created, list(aliases) or None)
        return created

    @_retry
    def _create(self, **kwargs: Any) -> str:
        from docker.errors import APIError
        try:
            return self.api.create_container(**kwargs)["Id"]
        except APIError as error:
            if error.status_code == 409:  # a container of that name exists (left by an interrupted deploy)
                raise EngineError(f"a container named {kwargs['name']} already exists: {error.explanation}") from None
            raise

    @_retry
    def _connect(self, network: str, container: str, aliases: list[str] | None) -> None:
        self.api.connect_container_to_network(container, network, aliases=aliases)

    @_retry
    def start(self, container: str) -> None:
        self.api.start(container)

    def stop(self, container: str, timeout: int) -> None:
        from docker.errors import NotFound
        try:
            self.api.stop(container, timeout=timeout)
        except NotFound:
            pass
        except Exception as error:
            if is_lost(error):
                raise lost_engine(error) from error
            raise

    @_retry
    def remove(self, container: str) -> None:
        """Remove a container and its anonymous (tmp) volumes; named volumes stay."""
        from docker.errors import NotFound
        try:
            self.api.remove_container(container, force=True, v=True)
        except NotFound:
            pass

    @_retry
    def rename(self, container: str, name: str) -> None:
        """Rename; a container the engine is restarting (a crash loop) has no network sandbox for a moment,
        and the engine answers 404 for it although it exists: it is asked again, for up to 10 s."""
        from docker.errors import NotFound
        deadline = time.monotonic() + 10
        while True:
            try:
                self.api.rename(container, name)
                return
            except NotFound:
                if time.monotonic() > deadline or self.inspect(container) is None:
                    raise
                time.sleep(0.2)

    def logs(self, container: str, follow: bool = False, since: float | None = None,
             tail: int | str = "all") -> Iterator[bytes]:
        return self.api.logs(container, stream=True, follow=follow, since=since, tail=tail)

    def cpu_count(self) -> float:
        """The engine's CPUs: the most a container may be given (the engine refuses a create asking more,
        as an XL size or `--size app=4` does on a two-CPU laptop)."""
        if not hasattr(self, "_cpu_count"):
            info = self._read("/info", sdk=lambda: self.api.info()) or {}
            self._cpu_count = float(info.get("NCPU") or 0) or float(os.cpu_count() or 1)
        return self._cpu_count

    def container_events(self, container: str, since: float, until: float) -> list[dict[str, Any]]:
        """What the engine recorded about one container between two times (epoch seconds): each start, die
        (with its exitCode) and oom, oldest first. The only record of a run the restart policy replaced."""
        found = self.api.events(since=int(since), until=max(int(until) + 1, int(since) + 1), decode=True,
                                filters={"container": container, "type": "container"})
        return [event for event in found if event.get("Action") in ("start", "die", "oom")]

    def oom_kills(self, container: str) -> int | None:
        """How many processes the kernel killed in the container for want of memory, from its memory cgroup
        (cgroup v2 `memory.events`, v1 `memory.oom_control`, both say `oom_kill N`): it counts a process
        killed while the container runs on (a deploy hook, a gunicorn worker), which the engine's OOMKilled
        does not. None when the container does not run or its cgroup cannot be read."""
        from docker.errors import APIError
        try:  # one of the two files exists: cat's status says nothing
            _, output, _ = self.exec(container, ["cat", "/sys/fs/cgroup/memory.events",
                                                 "/sys/fs/cgroup/memory/memory.oom_control"], workdir="/")
        except APIError:  # gone, or not running: no counter to read
            return None
        counts = [int(line.split()[1]) for line in output.decode("utf-8", "replace").splitlines()
                  if line.startswith("oom_kill ") and line.split()[1].isdigit()]
        return max(counts) if counts else None

    def log_tail(self, container: str, count: int) -> str:
        """The container's last `count` log lines as text; empty when it is gone."""
        from docker.errors import NotFound
        try:
            return b"".join(self.logs(container, tail=count)).decode("utf-8", "replace").rstrip()
        except NotFound:
            return ""

    def events(self, project: str, since: int | None = None, until: int | None = None) -> Iterator[dict[str, Any]]:
        """The engine's events about the project's containers (start, die, restart, ...), decoded."""
        return self.api.events(since=since, until=until, decode=True,
                               filters={"label": project_filter(project), "type": "container"})

    def exec_stream(self, container: str, command: list[str], on_stdout: Callable[[bytes], None],
                    on_stderr: Callable[[bytes], None], workdir: str = "/app", user: str = "") -> int:
        """Run `command` in the container, streaming stdout and stderr apart as they come; its exit status."""
        from docker.errors import APIError
        try:
            created = self.api.exec_create(container, command, workdir=workdir, stdout=True, stderr=True, user=user)
        except APIError as error:
            raise EngineError(f"cannot run a command in {container}: {error.explanation or error}") from None
        except Exception as error:
            if is_lost(error):
                raise lost_engine(error) from error
            raise
        outcome: dict[str, Any] = {}

        def pump() -> None:
            try:
                for out, err in self.api.exec_start(created["Id"], stream=True, demux=True):
                    if out:
                        on_stdout(out)
                    if err:
                        on_stderr(err)
                outcome["code"] = self.api.exec_inspect(created["Id"])["ExitCode"]
            except BaseException as error:  # handed to the caller's thread below
                outcome["error"] = error

        # The stream's socket has no timeout (a command may rightly run for hours), so a lost engine
        # would block it forever: while it runs, the engine is pinged, and a lost engine ends the wait.
        streamer = threading.Thread(target=pump, daemon=True)
        streamer.start()
        while streamer.is_alive():
            streamer.join(EXEC_WATCH_SECONDS)
            if streamer.is_alive():
                try:
                    self.api.ping()
                except Exception as error:
                    if is_lost(error):
                        raise lost_engine(error) from error
                    raise
        if "error" in outcome:
            failure = outcome["error"]
            raise lost_engine(failure) if is_lost(failure) else failure
        code = outcome.get("code")
        return 126 if code is None else code

    def exec(self, container: str, command: list[str], env: dict[str, str] | None = None,
             workdir: str = "/app", user: str = "") -> tuple[int, bytes, bytes]:
        created = self.api.exec_create(container, command, environment=env, workdir=workdir, user=user)
        stdout, stderr = self.api.exec_start(created["Id"], demux=True)
        code = self.api.exec_inspect(created["Id"])["ExitCode"]
        return code, stdout or b"", stderr or b""

    # -- what `ps`, `logs -f` and the app images' pruning read ------------------------------------------
    def _post_raw(self, url: str, body: dict[str, Any]) -> tuple[int, bytes]:
        """A POST of a JSON body straight on the engine's socket (HTTP/1.0, read to the close): its status
        and body."""
        assert self.reader is not None  # only called where there is a socket (read_file)
        data = json.dumps(body).encode()
        chunks = []
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
                connection.settimeout(self.timeout)
                connection.connect(self.reader.path)
                connection.sendall(f"POST {url} HTTP/1.0\r\nHost: docker\r\nContent-Type: application/json\r\n"
                                   f"Content-Length: {len(data)}\r\n\r\n".encode("ascii") + data)
                while True:
                    chunk = connection.recv(262144)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except OSError as error:
            raise SocketLost(f"{type(error).__name__}: {error} ({self.reader.path})") from error
        head, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
        try:
            return int(head.split(b" ", 2)[1]), payload
        except (IndexError, ValueError):
            raise SocketLost(f"no HTTP answer on {self.reader.path}: {head[:80]!r}") from None

    def read_file(self, container: str, path: str) -> bytes | None:
        """A small text file of a running container (b"" when it is not there); None when the container
        refuses an exec (it stopped, or the restart policy is starting it again). Straight on the socket
        where there is one (`ps` reads one in every restarted app container at once, and never pays for
        the SDK)."""
        command = ["sh", "-c", 'cat "$0" 2>/dev/null; true', path]
        if self.reader is None:
            from docker.errors import APIError
            try:
                return self.exec(container, command, workdir="/")[1]
            except APIError:
                return None
        status, created = self._post_raw(f"/containers/{quote(container, safe='')}/exec",
                                         {"AttachStdout": True, "AttachStderr": False, "Cmd": command,
                                          "WorkingDir": "/"})
        if status != 201:
            return None
        status, stream = self._post_raw(f"/exec/{json.loads(created)['Id']}/start", {"Detach": False, "Tty": False})
        if status != 200:
            return None
        output, at = b"", 0
        while at + 8 <= len(stream):  # frames: stream kind (1 stdout), 3 zero bytes, big-endian size
            size = int.from_bytes(stream[at + 4:at + 8], "big")
            if stream[at] == 1:
                output += stream[at + 8:at + 8 + size]
            at += 8 + size
        return output

    def instance_containers(self, project: str, instance: str) -> list[ContainerState]:
        """Every container of one instance of the project (a redeploy's new one beside the old one)."""
        listed = self._list(project, instance_filter(instance))
        return [state for state in (self.inspect(item["Id"]) for item in listed) if state is not None]

    @_retry
    def labelled_images(self, label: str) -> list[dict[str, Any]]:
        """Every image carrying `label` (key=value): {id, tags, created (epoch seconds), labels}."""
        found = self._read("/images/json", {"filters": json.dumps({"label": [label]})},
                           sdk=lambda: self.api.images(filters={"label": label})) or []
        return [{"id": image["Id"], "created": image.get("Created") or 0, "labels": image.get("Labels") or {},
                 "tags": [tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"]} for image in found]

    @_retry
    def images_in_use(self) -> set[str]:
        """The image id of every container on the engine, of any project or none, running or not."""
        listed = self._read("/containers/json", {"all": "1"}, sdk=lambda: self.api.containers(all=True)) or []
        return {item.get("ImageID", "") for item in listed}

    def remove_unused_image(self, ref: str) -> bool:
        """Remove an image (a tag, or an id) unless a container uses it: the engine refuses that without
        force, and so does this. Whether it was removed."""
        from docker.errors import APIError, NotFound
        try:
            self.api.remove_image(ref, force=False, noprune=False)
            return True
        except NotFound:
            return False
        except APIError as error:
            if error.status_code == 409:  # a container uses it (or another tag names it)
                return False
            raise EngineError(f"cannot remove the image {ref}: {error.explanation or error}") from error
        except Exception as error:
            if is_lost(error):
                raise lost_engine(error) from error
            raise

    # -- stopping what an exec started (the engine has no call for it) ---------------------------------
    def stop_process_tree(self, container: str, pid_file: str, grace: int = 10) -> None:
        """Stop a command begun with exec in a running container, as `docker stop` would stop a container:
        SIGTERM to the process whose pid is in `pid_file` (inside the container) and to all its descendants,
        up to `grace` seconds for them to end, then SIGKILL to what is left. Runs as root in the container
        (its default capabilities may signal any of its processes). Nothing to do when the file or the
        container is gone (the command ended, or the container stopped)."""
        from docker.errors import APIError
        script = r'''
root=$(cat "$1" 2>/dev/null) || exit 0
[ -n "$root" ] || exit 0
known=" $root "
live() {  # $pids: the known processes and their descendants that run (once known, kept: a child outlives its parent)
  grew=1
  while [ "$grew" = 1 ]; do
    grew=0
    for stat in /proc/[0-9]*/stat; do
      pid=${stat#/proc/}; pid=${pid%/stat}
      case "$known" in *" $pid "*) continue ;; esac
      line=$(cat "$stat" 2>/dev/null) || continue
      set -- ${line##*) }
      case "$known" in *" $2 "*) known="$known$pid "; grew=1 ;; esac
    done
  done
  pids=""
  for pid in $known; do
    line=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    set -- ${line##*) }
    [ "$1" = Z ] || pids="$pids $pid"
  done
}
live  # sets pids (not in a subshell: what it learnt is kept in $known)
[ -n "$pids" ] || exit 0
kill -TERM $pids 2>/dev/null
i=0
while [ "$i" -lt $(( $2 * 5 )) ]; do
  sleep 0.2
  live
  [ -n "$pids" ] || exit 0
  i=$((i + 1))
done
kill -KILL $pids 2>/dev/null
exit 0
'''
        try:
            self.exec(container, ["sh", "-c", script, "sh", pid_file, str(int(grace))], workdir="/", user="0")
        except APIError:  # the container stopped: so did the command
            pass

    def processes(self, container: str) -> list[str] | None:
        """The command lines of a running container's processes, from the engine's process list (it runs
        `ps` on its own host: no exec in the container, a fraction of its cost); None when the container
        does not run or the engine cannot list them."""
        if self.reader is None:
            from docker.errors import APIError
            try:
                found = self.api.top(container)
            except APIError:
                return None
        else:
            try:
                found = self.reader.get(f"/containers/{quote(container, safe='')}/top")
            except (_NotFound, EngineError):  # gone; 409: not running; 500: no `ps` where the engine runs
                return None
            except SocketLost as error:
                raise lost_engine(error) from error
        if not isinstance(found, dict):
            return None
        return [" ".join(str(field) for field in process) for process in found.get("Processes") or []]
