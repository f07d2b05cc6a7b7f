"""Engine tests: real Docker, real containers. Each test deploys its own copy of a project under a unique
project name, and everything it made (containers, networks, volumes, images) is removed afterwards by label.
Shared base and service images are prepared once per run (and cached by tag across runs)."""

from __future__ import annotations

import json
import shutil
import time
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, IN_CI, REPO

docker = pytest.importorskip("docker") if not IN_CI else __import__("docker")
PROJECTS = Path(__file__).parent / "projects"


def _engine():
    try:
        client = docker.from_env(timeout=120)
        client.ping()
        return client
    except Exception as error:  # no engine here: say so and skip, except under CI, where that is a failure
        if IN_CI:
            pytest.fail(f"CI=true and no Docker engine reachable: {error}", pytrace=False)
        pytest.skip(f"no Docker engine reachable: {error}")


@pytest.fixture(scope="session")
def engine():
    return _engine()


@pytest.fixture(scope="session")
def prepared_images(engine):
    """Build (or find) the Debian base and the python, mariadb and rabbitmq stand-ins once per run."""
    result = subprocess.run([sys.executable, "-m", "orchestrator", "images", "prepare", str(EXAMPLES / "workers")],
                            cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


class Deployment:
    """A copy of a project deployed under a unique name, driven through the real CLI."""

    def __init__(self, source: Path, workdir: Path, engine, env: dict[str, str] | None = None) -> None:
        self.name = f"ot-{source.name[:10]}-{uuid.uuid4().hex[:6]}"
        self.dir = workdir / self.name
        shutil.copytree(source, self.dir)
        self.engine = engine
        self.env = env  # None: this process's environment (the machine's engine)

    def cli(self, command: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        """`orchestrator <command words> DIR --project NAME <args>`."""
        return subprocess.run([sys.executable, "-m", "orchestrator", *command.split(), str(self.dir),
                               "--project", self.name, *args], cwd=REPO, capture_output=True, text=True,
                              timeout=timeout, env=self.env)

    def ok(self, command: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        result = self.cli(command, *args, timeout=timeout)
        assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def container(self, instance: str):
        found = self.engine.containers.list(ignore_removed=True, all=True, filters={"label": [f"orchestrator.project={self.name}",
                                                                         f"orchestrator.instance={instance}"]})
        assert len(found) == 1, f"{instance}: {[c.name for c in found]}"
        return found[0]

    def containers(self) -> dict[str, object]:
        found = self.engine.containers.list(ignore_removed=True, all=True, filters={"label": f"orchestrator.project={self.name}"})
        return {c.labels["orchestrator.instance"]: c for c in found}

    def ids(self) -> dict[str, str]:
        return {name: c.id for name, c in self.containers().items()}

    def edit(self, old: str, new: str, file: str = ".platform.app.yaml") -> None:
        path = self.dir / file
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))

    def cleanup(self) -> None:
        self.cli("down", "--volumes", timeout=300)
        for container in self.engine.containers.list(ignore_removed=True, all=True, filters={"label": f"orchestrator.project={self.name}"}):
            container.remove(force=True, v=True)
        for volume in self.engine.volumes.list(filters={"label": f"orchestrator.project={self.name}"}):
            volume.remove(force=True)
        for network in self.engine.networks.list(filters={"label": f"orchestrator.project={self.name}"}):
            network.remove()
        for image in self.engine.images.list(filters={"label": f"orchestrator.image.project={self.name}"}):
            self.engine.images.remove(image.id, force=True)


@pytest.fixture(scope="module")
def deploy(engine, prepared_images, tmp_path_factory):
    """Per test module: make deployments of projects; all are torn down when the module ends."""
    made: list[Deployment] = []

    def make(source: Path) -> Deployment:
        deployment = Deployment(source, tmp_path_factory.mktemp("deploy"), engine)
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.cleanup()


def route_url(deployment: Deployment, path: str = "/", host: str = "", scheme: str = "https") -> str:
    """A route's local URL: `host` is prefixed to the project's default domain (`www.` for www.{default})."""
    from orchestrator.router import default_ports
    http, https = default_ports(deployment.name)
    return f"{scheme}://{host}{deployment.name}.localhost:{https if scheme == 'https' else http}{path}"


def web_url(deployment: Deployment, instance: str = "app") -> str:
    """The URL of the app's default route through the project's router (`instance` names the app whose
    route is the project's first, as in the tests' projects)."""
    return route_url(deployment)


def get(url: str, timeout: float = 60.0, ca_file: str | None = None):
    """The answer to GET `url` through the router (hosts go to 127.0.0.1, as curl and browsers do), waiting
    while nothing answers or the app is not up yet (502/503)."""
    from orchestrator import probe
    deadline = time.monotonic() + timeout
    while True:
        answer = probe.get(url, ca_file=ca_file)
        if (answer.status and answer.status not in (502, 503, 504)) or time.monotonic() > deadline:
            return answer
        time.sleep(0.3)


def wait_for(predicate, timeout: float = 30.0, step: float = 0.3):
    """Poll `predicate` until it is truthy or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def logs_of(container) -> str:
    return container.logs().decode("utf-8", "replace")


def env_of(container) -> dict[str, str]:
    container.reload()
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])


def dumps(value) -> str:
    return json.dumps(value, indent=1, default=str)
