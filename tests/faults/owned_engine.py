"""A Docker engine that a test owns from start to end: its own dockerd, in its own network namespace,
with its own socket, data root, exec root, pid file and containerd, so a test can stop and restart an
engine without touching the machine's own daemon (which other work on the machine, and CI after this
session, relies on).

Why a network namespace: a second dockerd on the host's network deletes the host's `docker0` when it
restarts (it clears its stale default bridge by that name), which breaks every container the machine's
engine starts afterwards. Inside `ip netns`, its bridges, routes, address pools and firewall chains are
its own (`nsenter --net` keeps the host's mounts, cgroups included). `--config-file` points at an empty file: the machine's daemon.json sets data-root and
storage-driver, which dockerd refuses to see both there and as flags.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import docker

STOP_WAIT = 60.0
START_WAIT = 60.0


class OwnedEngine:
    """A private dockerd: `start()`, `restart()` (SIGTERM, wait, start with the same arguments), `close()`."""

    def __init__(self, storage_driver: str) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="orch-engine-", dir="/tmp"))
        self.netns = f"orchtest-{uuid.uuid4().hex[:8]}"
        self.socket = self.root / "docker.sock"
        self.host = f"unix://{self.socket}"
        (self.root / "daemon.json").write_text("{}")
        # nsenter --net, not `ip netns exec`: that also remounts /sys, hiding the cgroups dockerd needs
        self.argv = ["nsenter", f"--net=/run/netns/{self.netns}", "dockerd",
                     "--config-file", str(self.root / "daemon.json"), "--host", self.host,
                     "--data-root", str(self.root / "data"), "--exec-root", str(self.root / "exec"),
                     "--pidfile", str(self.root / "docker.pid"), "--storage-driver", storage_driver,
                     "--iptables=false", "--ip-masq=false"]
        self.process: subprocess.Popen | None = None
        self.client: docker.DockerClient | None = None

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self) -> docker.DockerClient:
        if not Path(f"/run/netns/{self.netns}").exists():
            subprocess.run(["ip", "netns", "add", self.netns], check=True, capture_output=True)
            subprocess.run(["ip", "netns", "exec", self.netns, "ip", "link", "set", "lo", "up"], check=True,
                           capture_output=True)
        log = open(self.root / "dockerd.log", "ab")
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                        start_new_session=True)
        log.close()
        self.client = None
        deadline = time.monotonic() + START_WAIT
        while not self._pings():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the test-owned dockerd did not answer; its log:\n{self.log_tail()}")
            time.sleep(0.2)
        return self.client

    def stop(self) -> None:
        """SIGTERM, as a service manager stops an engine: it stops every container on the way down."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Remove everything the engine made, stop it, and delete its namespace and files."""
        if self.process is not None and self.process.poll() is None and self.client is not None:
            try:
                for container in self.client.containers.list(all=True):
                    container.remove(force=True, v=True)
                for network in self.client.networks.list():
                    if network.name not in ("bridge", "host", "none"):
                        network.remove()
            except docker.errors.DockerException:
                pass
        self.stop()
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
        for mount in reversed(Path("/proc/self/mounts").read_text().splitlines()):
            point = mount.split()[1]
            if point.startswith(str(self.root)):
                subprocess.run(["umount", "-l", point], capture_output=True)
        for _ in range(3):  # the engine's last writes may race the first pass
            shutil.rmtree(self.root, ignore_errors=True)
            if not self.root.exists():
                break
            time.sleep(0.5)

    # -- helpers --------------------------------------------------------------------------------------
    def load(self, source: docker.DockerClient, refs: list[str]) -> None:
        """Copy images from another engine (`save` there, `load` here): nothing can be pulled."""
        assert self.client is not None
        for ref in refs:
            self.client.api.load_image(source.api.get_image(ref))

    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def log_tail(self, lines: int = 30) -> str:
        path = self.root / "dockerd.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def _pings(self) -> bool:
        try:
            if self.client is None:  # the client asks the engine its version as it is made
                self.client = docker.DockerClient(base_url=self.host, timeout=120)
            return bool(self.client.ping())
        except Exception:  # noqa: BLE001  (any failure means: not up yet)
            return False
