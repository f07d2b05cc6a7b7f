"""Faults injected for real: processes and containers killed, deploys interrupted with SIGKILL at each
step, two deploys at once, an unreachable engine, an engine that goes away mid-deploy. After each: the
planned set runs, nothing is duplicated, the files in every persistent mount type (local, instance,
storage, service) and every row in the database are still there; only `tmp` is cleared by a redeploy."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid

import docker.errors
import pytest

from tests.conftest import REPO
from tests.engine.conftest import PROJECTS, wait_for

pytestmark = pytest.mark.engine
FAULTS = {"injected": 0, "rows": 0}
PERSISTENT_MOUNTS = ("data", "own", "stored", "shared")
DB = 'MYSQL_PWD="$MARIADB_PASSWORD" exec mariadb -h127.0.0.1 -u"$MARIADB_USER" "$MARIADB_DATABASE" -N -e "$0"'


@pytest.fixture(scope="module")
def faults(deploy):
    deployment = deploy(PROJECTS / "faults")
    deployment.ok("up")
    assert wait_for(lambda: lines(deployment, "data") > 2)
    assert wait_for(lambda: _sql(deployment, "CREATE TABLE IF NOT EXISTS kept (id INT PRIMARY KEY)") is not None, 60)
    yield deployment
    print(f"\nfaults injected in this run: {FAULTS['injected']}; rows kept through them: {FAULTS['rows']}")


def _run(deployment, instance: str, *command: str) -> str | None:
    """The stdout of `command` inside the instance; None while it cannot run there (the container is not
    there, or is being restarted right now) or when it fails."""
    try:
        code, output = deployment.container(instance).exec_run(list(command), stderr=False)
    except (AssertionError, docker.errors.APIError):
        return None
    return output.decode() if code == 0 else None


def _sql(deployment, statement: str) -> str | None:
    """Run one statement with the mariadb client inside the db container; None while it cannot."""
    output = _run(deployment, "db", "sh", "-c", DB, statement)
    return None if output is None else output.strip()


def rows(deployment) -> int:
    """Rows in the `kept` table (waits for the database to answer after a fault)."""
    return int(wait_for(lambda: _sql(deployment, "SELECT COUNT(*) FROM kept"), 60))


def add_row(deployment) -> int:
    """One more row, written before the next fault; the count every later check must find."""
    count = rows(deployment)
    assert _sql(deployment, f"INSERT INTO kept VALUES ({count + 1})") is not None
    FAULTS["rows"] = count + 1
    return count + 1


def mark_files(deployment) -> list[str]:
    """A new unique marker appended to a file in every persistent mount, before the next fault; the markers
    every later check must find (a wiped file cannot grow them back, unlike the writer's lines)."""
    marker = uuid.uuid4().hex
    script = f"for m in {' '.join(PERSISTENT_MOUNTS)}; do echo {marker} >> /app/$m/markers.log || exit 1; done"

    # one exec for all mounts: retried whole only while the writer cannot run it at all
    assert wait_for(lambda: _run(deployment, "app--writer", "sh", "-c", script) is not None, 60), \
        "could not write the markers"
    markers = deployment.__dict__.setdefault("markers", [])  # per deployment: each has its own files
    markers.append(marker)
    return list(markers)


def markers_in(deployment) -> dict[str, list[str]] | None:
    """The markers in each persistent mount; None while the writer cannot be asked (being restarted)."""
    found = {}
    for mount in PERSISTENT_MOUNTS:
        output = _run(deployment, "app--writer", "sh", "-c", f"cat /app/{mount}/markers.log 2>/dev/null; true")
        if output is None:
            return None
        found[mount] = output.split()
    return found


def nothing_lost(deployment, markers: list[str], rows_before: int) -> None:
    """Every marker is still in every persistent mount, and every row is still in the database."""
    found = wait_for(lambda: markers_in(deployment), 60)
    assert found is not None, "the writer never answered"
    assert all(kept == markers for kept in found.values()), (markers, found)
    assert rows(deployment) == rows_before


def lines(deployment, mount: str) -> int:
    """Lines the writer has appended to the mount's log (0 while it cannot be read)."""
    return (_run(deployment, "app--writer", "cat", f"/app/{mount}/writer.log") or "").count("\n")


def converged(deployment) -> None:
    """Exactly the planned instances, each once, under its own name, running."""
    containers = deployment.engine.containers.list(ignore_removed=True, all=True, filters={"label": f"orchestrator.project={deployment.name}"})
    names = sorted(c.name for c in containers)
    assert names == sorted(f"{deployment.name}-{i}" for i in ("app", "app--writer", "app--crasher", "db", "router")), \
        names
    for container in containers:
        if container.labels["orchestrator.instance"] != "app--crasher":
            assert container.status == "running", (container.name, container.status)


def test_only_the_router_publishes_only_on_loopback_and_nothing_has_extra_privileges(faults):
    for name, container in faults.containers().items():
        host = container.attrs["HostConfig"]
        bindings = {k: v for k, v in (host.get("PortBindings") or {}).items() if v}
        if name == "router":
            assert [b["HostIp"] for v in bindings.values() for b in v] == ["127.0.0.1", "127.0.0.1"]
        else:
            assert bindings == {}, name
        assert not host.get("CapAdd") and not host.get("Privileged"), name
        assert "no-new-privileges" in (host.get("SecurityOpt") or []), name
        sources = [m.get("Source", "") for m in container.attrs["Mounts"]]
        assert not any("docker.sock" in s for s in sources), name


def test_logs_mask_a_password_that_a_worker_prints(faults):
    env = dict(e.split("=", 1) for e in faults.container("app--crasher").attrs["Config"]["Env"])
    password = json.loads(base64.b64decode(env["PLATFORM_RELATIONSHIPS"]))["database"][0]["password"]
    assert len(password) >= 16
    masked = wait_for(lambda: (lambda out: out if "db password" in out else None)(
        faults.ok("logs", "--worker", "crasher").stdout), 30)
    assert "crasher: db password ********" in masked and password not in masked
    assert f"crasher: db password {password}" in faults.ok("logs", "--worker", "crasher", "--show-secrets").stdout


def test_a_crash_looping_worker_shows_in_ps_and_disturbs_nothing(faults):
    others = {n: c.attrs["State"]["StartedAt"] for n, c in faults.containers().items() if n != "app--crasher"}
    assert wait_for(lambda: faults.container("app--crasher").attrs["RestartCount"] >= 3, 60)
    row = next(line.split() for line in faults.ok("ps").stdout.splitlines() if line.startswith("app--crasher"))
    assert int(row[3]) >= 3 and row[4] == "1"  # restarts, last exit code
    assert row[2] in ("restarting", "running")
    assert {n: c.attrs["State"]["StartedAt"] for n, c in faults.containers().items() if n != "app--crasher"} == others


def test_kill_9_of_a_workers_processes_is_recovered_by_the_restart_policy(faults):
    kept, files = add_row(faults), mark_files(faults)
    before = lines(faults, "data")
    writer = faults.container("app--writer")
    restarts = writer.attrs["RestartCount"]
    writer.exec_run(["sh", "-c", "kill -s KILL -- -$(cat /run/orchestrator/app.pid)"])
    FAULTS["injected"] += 1
    assert wait_for(lambda: faults.container("app--writer").attrs["RestartCount"] == restarts + 1, 30)
    assert wait_for(lambda: lines(faults, "data") > before, 30)
    nothing_lost(faults, files, kept)


def test_kill_9_of_a_workers_container_is_recovered_by_the_restart_policy(faults):
    kept, files = add_row(faults), mark_files(faults)
    before = lines(faults, "data")
    writer = faults.container("app--writer")
    restarts = writer.attrs["RestartCount"]
    os.kill(writer.attrs["State"]["Pid"], signal.SIGKILL)  # the container's PID 1, from the host
    FAULTS["injected"] += 1
    assert wait_for(lambda: faults.container("app--writer").attrs["RestartCount"] == restarts + 1, 30)
    assert wait_for(lambda: lines(faults, "data") > before, 30)
    converged(faults)
    nothing_lost(faults, files, kept)


def test_kill_9_of_the_database_loses_no_committed_row(faults):
    kept = add_row(faults)
    database = faults.container("db")
    restarts = database.attrs["RestartCount"]
    os.kill(database.attrs["State"]["Pid"], signal.SIGKILL)
    FAULTS["injected"] += 1
    assert wait_for(lambda: faults.container("db").attrs["RestartCount"] == restarts + 1, 30)
    assert rows(faults) == kept
    converged(faults)


def _kill_up_when(deployment, condition, label: str) -> None:
    process = subprocess.Popen([sys.executable, "-m", "orchestrator", "up", str(deployment.dir), "--project",
                                deployment.name], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    reached = {"step": False}

    def check() -> bool:
        reached["step"] = condition()
        return reached["step"] or process.poll() is not None

    wait_for(check, 300, step=0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    FAULTS["injected"] += 1
    assert reached["step"], f"{label}: the deploy ended before it got there"


def _status(engine, container_id: str) -> str:
    """A container's status; one that is already removed counts as stopped."""
    try:
        return engine.containers.get(container_id).status
    except docker.errors.NotFound:
        return "removed"


@pytest.mark.parametrize("step", ["after the build", "after stopping old instances", "mid-start"])
def test_a_deploy_killed_at_each_step_converges_on_the_next_up(faults, step):
    kept, files = add_row(faults), mark_files(faults)
    data_before = lines(faults, "data")
    version = str(int(time.time() * 1000))
    faults.edit('    VERSION: "', f'    VERSION: "{version}')
    (faults.dir / "version.txt").write_text(version)  # new source: the app image is rebuilt
    old = faults.container("app--writer")
    engine = faults.engine
    conditions = {
        "after the build": lambda: any(image.id != old.image.id for image in
                                       engine.images.list(filters={"label": f"orchestrator.image.project={faults.name}"})),
        "after stopping old instances": lambda: _status(engine, old.id) != "running",
        "mid-start": lambda: any(c.name.endswith("-next") and c.status == "running"
                                 for c in engine.containers.list(ignore_removed=True, all=True, filters={
                                     "label": f"orchestrator.project={faults.name}"})),
    }
    _kill_up_when(faults, conditions[step], step)
    faults.ok("up")
    converged(faults)
    writer_env = dict(e.split("=", 1) for e in faults.container("app--writer").attrs["Config"]["Env"])
    assert writer_env["VERSION"].startswith(version)
    nothing_lost(faults, files, kept)
    assert wait_for(lambda: lines(faults, "data") > data_before, 30)  # and the writer goes on appending
    assert lines(faults, "scratch") < data_before  # tmp is the only mount a redeploy clears


def test_two_deploys_at_once_never_both_apply(faults):
    kept, files = add_row(faults), mark_files(faults)
    faults.edit('    VERSION: "', '    VERSION: "concurrent-')
    command = [sys.executable, "-m", "orchestrator", "up", str(faults.dir), "--project", faults.name]
    first = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    second = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=300) for p in (first, second)]
    FAULTS["injected"] += 1
    assert first.returncode == 0 and second.returncode == 0, outputs
    assert "waiting for it to finish" in outputs[1][1]
    assert "0 change(s)" in outputs[1][0]  # the second found the first's work done
    converged(faults)
    nothing_lost(faults, files, kept)


def test_an_unreachable_engine_is_a_clear_error_and_the_next_up_converges(faults):
    kept, files = add_row(faults), mark_files(faults)
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    result = subprocess.run([sys.executable, "-m", "orchestrator", "up", str(faults.dir), "--project", faults.name],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    FAULTS["injected"] += 1
    assert result.returncode == 1
    assert "cannot reach the Docker engine" in result.stderr and "Traceback" not in result.stderr
    faults.ok("up")
    converged(faults)
    nothing_lost(faults, files, kept)


class EngineProxy:
    """A unix-socket proxy in front of the engine's socket that a test can cut and restore: to the client,
    exactly an engine that goes away mid-deploy and comes back (without touching the real daemon, which
    other work on this machine shares)."""

    def __init__(self, path: str, target: str = "/var/run/docker.sock") -> None:
        import socket
        import threading
        self.path, self.target = path, target
        self.socket_module, self.threading = socket, threading
        self.connections: list = []
        self.listener = None
        self.resume()

    def resume(self) -> None:
        socket = self.socket_module
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(64)
        self.threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener) -> None:
        socket = self.socket_module
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                self.threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source, destination) -> None:
        import socket as self_socket
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                destination.sendall(data)
        except OSError:
            pass
        finally:  # pass the end of the stream on, as a real connection does (a close alone would not, while
            try:  # the other direction's thread is still reading the same socket)
                destination.shutdown(self_socket.SHUT_WR)
            except OSError:
                pass

    def cut(self) -> None:
        self.listener.close()
        os.unlink(self.path)
        for connection in self.connections:
            try:
                connection.shutdown(self.socket_module.SHUT_RDWR)
                connection.close()
            except OSError:
                pass
        self.connections = []


def test_an_engine_that_goes_away_mid_deploy_is_a_clear_error_and_the_next_up_converges(faults, tmp_path):
    kept, files = add_row(faults), mark_files(faults)
    proxy = EngineProxy(str(tmp_path / "engine.sock"))
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path / 'engine.sock'}", "PYTHONFAULTHANDLER": "1"}
    faults.edit('    VERSION: "', '    VERSION: "outage-')
    old = faults.container("app--writer")
    process = subprocess.Popen([sys.executable, "-m", "orchestrator", "up", str(faults.dir), "--project",
                                faults.name], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    assert wait_for(lambda: any(c.name.endswith("-next") for c in faults.engine.containers.list(ignore_removed=True,
        all=True, filters={"label": f"orchestrator.project={faults.name}"})) or process.poll() is not None, 120,
        step=0.05)
    proxy.cut()  # the engine "restarts": every connection drops, new ones are refused for a while
    FAULTS["injected"] += 1
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # a hang is a failure; show where it hangs
        process.send_signal(signal.SIGABRT)
        _, stderr = process.communicate()
        proxy.resume()
        pytest.fail(f"up hung after the engine went away:\n{stderr[-5000:]}")
    proxy.resume()
    assert process.returncode == 1, stderr
    assert "lost the connection to the Docker engine" in stderr and "Traceback" not in stderr
    faults.ok("up")
    converged(faults)
    assert faults.container("app--writer").id != old.id
    env_inside = dict(e.split("=", 1) for e in faults.container("app--writer").attrs["Config"]["Env"])
    assert env_inside["VERSION"].startswith("outage-")
    nothing_lost(faults, files, kept)



@pytest.fixture(scope="module")
def owned_engine(engine, prepared_images, tmp_path_factory):
    """The faults project deployed on an engine this test owns (see owned_engine.py), loaded with the
    images it needs from the machine's engine, and removed with everything on it at the end."""
    from tests.engine.conftest import Deployment
    from tests.faults.owned_engine import OwnedEngine
    owned = OwnedEngine(engine.info()["Driver"])
    try:
        client = owned.start()
        refs = sorted({line.split()[-1] for line in prepared_images.splitlines()
                       if line.startswith(("app app: base", "service mariadb:", "router:"))})
        assert len(refs) == 3, prepared_images
        base = [tag for image in engine.images.list(filters={"label": "orchestrator.stand-in=debian-base"})
                for tag in image.tags]  # every local image's tag names the base it was built on
        owned.load(engine, refs + base[:1])
        deployment = Deployment(PROJECTS / "faults", tmp_path_factory.mktemp("owned"), client, owned.env())
        deployment.owned = owned
        deployment.ok("up")
        assert wait_for(lambda: lines(deployment, "data") > 2)
        assert wait_for(lambda: _sql(deployment, "CREATE TABLE IF NOT EXISTS kept (id INT PRIMARY KEY)") is not None,
                        60)
        yield deployment
        deployment.cli("down", "--volumes", timeout=300)
    finally:
        owned.close()


def test_a_real_engine_restart_mid_deploy_is_survived_or_a_clear_error_and_the_next_up_converges(owned_engine):
    """A real dockerd, stopped with SIGTERM while a deploy is in flight and started again: it stops every
    container on the way down and starts the ones with a restart policy on the way up, exactly what a
    user's engine restart does. The engine is the test's own; the machine's daemon is never touched."""
    deployment, owned = owned_engine, owned_engine.owned
    kept, files = add_row(deployment), mark_files(deployment)
    deployment.edit('    VERSION: "', '    VERSION: "restart-')
    process = subprocess.Popen([sys.executable, "-m", "orchestrator", "up", str(deployment.dir), "--project",
                                deployment.name], cwd=REPO, env=owned.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        reached = wait_for(lambda: any(c.name.endswith("-next") for c in deployment.engine.containers.list(
            ignore_removed=True, all=True, filters={"label": f"orchestrator.project={deployment.name}"})), 120,
            step=0.05)
        assert reached and process.poll() is None, "the deploy ended before it started a new instance"
        owned.restart()
        deployment.engine = owned.client
        FAULTS["injected"] += 1
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:  # never leave an `up` behind holding the project's lock
            process.kill()
            process.communicate()
    assert "Traceback" not in stderr, stderr
    assert process.returncode == 0 or "Docker engine" in stderr, stderr  # rode it out, or says what happened
    print(f"\nup during a real engine restart: exit {process.returncode}: {stderr.strip().splitlines()[-1:]}")
    deployment.ok("up")
    converged(deployment)
    env_inside = dict(e.split("=", 1) for e in deployment.container("app--writer").attrs["Config"]["Env"])
    assert env_inside["VERSION"].startswith("restart-")
    nothing_lost(deployment, files, kept)


def test_only_down_volumes_deletes_the_data(faults):
    """Runs last: after every fault above, a plain `down` + `up` keeps everything; `down --volumes` is the
    one thing that deletes files and rows."""
    kept, files = add_row(faults), mark_files(faults)
    faults.ok("down")
    faults.ok("up")
    nothing_lost(faults, files, kept)
    faults.ok("down", "--volumes")
    faults.ok("up")
    assert wait_for(lambda: lines(faults, "data") > 0, 20)
    assert wait_for(lambda: markers_in(faults), 60) == {mount: [] for mount in PERSISTENT_MOUNTS}
    assert wait_for(lambda: _sql(faults, "SHOW TABLES") is not None, 60)
    assert _sql(faults, "SHOW TABLES") == ""  # the database came back empty
