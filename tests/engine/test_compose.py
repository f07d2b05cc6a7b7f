"""The exported Compose file, run by docker-compose on the real engine, gives the same instances, env,
limits and mounts as the plan `orchestrator up` applies."""

from __future__ import annotations

import base64
import json
import os
import sys
import shutil
import re
import subprocess
import uuid

import pytest

from orchestrator import probe
from orchestrator.export.compose import ROUTER_BASE, image_variable
from orchestrator.router import default_ports
from orchestrator.operations import Target, make_plan

from tests.conftest import EXAMPLES, REPO

pytestmark = pytest.mark.engine


def stand_ins(prepared: str) -> dict[str, str]:
    """Compose variables that point the file's official images at this machine's local stand-ins."""
    _, plan, _ = make_plan(Target(EXAMPLES / "workers"))
    env = {}
    for line in prepared.splitlines():
        if line.startswith("router: "):  # the router's Dockerfile only adds what the local router image has
            env[image_variable(ROUTER_BASE)[2:].split(":-")[0]] = line.split()[-1]
        match = re.match(r"^(app|service) (\S+): (?:base )?(\S+)$", line)
        if not match:
            continue
        kind, name, ref = match.groups()
        if kind == "app":
            official = next(b.base_image for b in plan.images if b.app == name)
        else:
            official = plan.instance(name).image
        env[image_variable(official)[2:].split(":-")[0]] = ref
    return env


def with_secrets(example: str) -> dict[str, dict[str, str]]:
    """Export `compose/<example>.yml` again, as a user runs it first: the file stays byte-identical and its
    `<example>.secrets/` (never committed) gets the env files; each service's secret variables."""
    path = REPO / "compose" / f"{example}.yml"
    before = path.read_bytes()
    result = subprocess.run([sys.executable, "-m", "orchestrator", "compose", str(EXAMPLES / example), "-o",
                             str(path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert path.read_bytes() == before, f"compose/{example}.yml changed on export: it was stale"
    return {file.stem: dict(line.split("=", 1) for line in file.read_text().splitlines())
            for file in (REPO / "compose" / f"{example}.secrets").glob("*.env")}


def test_docker_compose_runs_the_exported_file_like_orchestrator_up(engine, prepared_images):
    name = f"otc{uuid.uuid4().hex[:8]}"
    env = {**os.environ, **stand_ins(prepared_images)}
    secret = with_secrets("workers")
    compose = ["docker-compose", "-f", str(REPO / "compose" / "workers.yml"), "-p", name]
    try:
        result = subprocess.run([*compose, "up", "-d"], env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout + result.stderr
        running = {c.labels["com.docker.compose.service"]: c
                   for c in engine.containers.list(ignore_removed=True, filters={"label": f"com.docker.compose.project={name}"})}
        _, plan, _ = make_plan(Target(EXAMPLES / "workers"))
        assert set(running) == {spec.name for spec in plan.instances}
        for spec in plan.instances:
            container = running[spec.name]
            attrs = container.attrs
            env_inside = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
            hidden = secret.get(spec.name, {})  # random passwords and entropy, from the secrets env file
            assert {k: env_inside.get(k) for k in spec.env} == {**spec.env, **hidden}, spec.name
            host = attrs["HostConfig"]
            assert (host["NanoCpus"], host["Memory"]) == (int(spec.cpus * 1e9), spec.memory_mb * 1024 * 1024)
            assert host["RestartPolicy"]["Name"] == "unless-stopped" and host["Init"] is True
            assert attrs["Config"]["StopTimeout"] == 15
            assert sorted(m["Destination"] for m in attrs["Mounts"]) == sorted([m.target for m in spec.mounts]
                                                                               + list(spec.tmpfs))
            assert host["ReadonlyRootfs"] is spec.read_only, spec.name
        queue_env = dict(item.split("=", 1) for item in running["app--queue"].attrs["Config"]["Env"])
        assert queue_env["TYPE"] == "worker"
        # the worker reaches RabbitMQ with the random password the secrets file gave both
        assert queue_env["PLATFORM_RELATIONSHIPS"] != plan.instance("app--queue").env["PLATFORM_RELATIONSHIPS"]
        assert secret["rabbitmq"]["RABBITMQ_DEFAULT_PASS"] in json.dumps(
            json.loads(base64.b64decode(queue_env["PLATFORM_RELATIONSHIPS"])))
        login = ["rabbitmqctl", "authenticate_user", "guest", secret["rabbitmq"]["RABBITMQ_DEFAULT_PASS"]]
        assert _wait(lambda: running["rabbitmq"].exec_run(login).exit_code == 0, 60), \
            running["rabbitmq"].exec_run(login).output
        assert running["app"].attrs["Image"] == running["app--queue"].attrs["Image"]
        # the route answers through the exported router and the web instance's nginx
        https = default_ports("workers")[1]
        assert _wait(lambda: probe.get(f"https://workers.localhost:{https}/").status == 200, 60)
        assert json.loads(probe.get(f"https://workers.localhost:{https}/").body)["type"] == "web"
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "15"], env=env, capture_output=True, timeout=300)


def _wait(predicate, timeout: float) -> bool:
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def test_docker_stack_deploy_runs_the_exported_file_on_a_single_node_swarm(engine, prepared_images):
    if engine.info().get("Swarm", {}).get("LocalNodeState") == "active":
        pytest.skip("this engine already belongs to a swarm; the test only uses a swarm it makes itself")
    joined = subprocess.run(["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"], capture_output=True,
                            text=True, timeout=60)
    assert joined.returncode == 0, f"the engine refused a swarm: {joined.stderr}"
    stack = f"ots{uuid.uuid4().hex[:6]}"
    env = {**os.environ, **stand_ins(prepared_images)}
    with_secrets("workers")  # stack deploy reads the env files on this client
    try:
        subprocess.run(["docker-compose", "-f", str(REPO / "compose" / "workers.yml"), "build"], env=env,
                       capture_output=True, timeout=900, check=True)
        deployed = subprocess.run(["docker", "stack", "deploy", "-c", str(REPO / "compose" / "workers.yml"), stack],
                                  env=env, capture_output=True, text=True, timeout=120)
        assert deployed.returncode == 0, deployed.stderr

        def tasks():
            return {c.labels["com.docker.swarm.service.name"][len(stack) + 1:]: c
                    for c in engine.containers.list(ignore_removed=True, filters={"label": f"com.docker.stack.namespace={stack}"})}

        assert _wait(lambda: set(tasks()) == {"app", "app--queue", "app--mail", "mariadb", "rabbitmq", "router"}, 120), \
            tasks()
        _, plan, _ = make_plan(Target(EXAMPLES / "workers"))
        for name, container in tasks().items():
            spec = plan.instance(name)
            host = container.attrs["HostConfig"]
            assert (host["NanoCpus"], host["Memory"]) == (int(spec.cpus * 1e9), spec.memory_mb * 1024 * 1024), name
            service = engine.services.get(f"{stack}_{name}")
            assert service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["StopGracePeriod"] == 15_000_000_000
        probe = ("import socket\ntry:\n    socket.create_connection(('database.internal', 3306), 3); print('reached')\n"
                 "except OSError as error:\n    print('unreachable')\n")
        assert _wait(lambda: tasks()["app--queue"].exec_run(["python3", "-c", probe]).output.strip() == b"reached", 60)
        assert tasks()["app--mail"].exec_run(["python3", "-c", probe]).output.strip() == b"unreachable"
        # the routes through the router and the web server's nginx, asked from inside the stack (the ingress
        # mesh that publishes the router's ports needs IPVS, which this kernel may lack)
        ask = ("import http.client, ssl\n"
               "c = http.client.HTTPSConnection('tasks.router', 443, context=ssl._create_unverified_context())\n"
               "c.request('GET', '/', headers={'Host': 'workers.localhost'}); r = c.getresponse()\n"
               "print(r.status, r.read().decode())\n")
        assert _wait(lambda: tasks()["app--queue"].exec_run(["python3", "-c", ask]).output.startswith(b"200 "), 90), \
            tasks()["app--queue"].exec_run(["python3", "-c", ask]).output
    finally:
        subprocess.run(["docker", "stack", "rm", stack], capture_output=True, timeout=120)
        _wait(lambda: not engine.containers.list(ignore_removed=True, filters={"label": f"com.docker.stack.namespace={stack}"}), 90)
        _wait(lambda: not engine.networks.list(filters={"label": f"com.docker.stack.namespace={stack}"}), 60)
        subprocess.run(["docker", "swarm", "leave", "--force"], capture_output=True, timeout=60)
        _wait(lambda: _remove_volumes(engine, stack), 60)  # `docker stack rm` leaves the stack's volumes behind
        for network in engine.networks.list(names=["docker_gwbridge"]):
            try:
                network.remove()
            except Exception:  # still in use by something that is not ours: leave it
                pass


def _remove_volumes(engine, stack: str) -> bool:
    """Remove what is left of the stack's volumes; True once none is left (a task may still hold one)."""
    left = engine.volumes.list(filters={"label": f"com.docker.stack.namespace={stack}"})
    for volume in left:
        try:
            volume.remove(force=True)
        except Exception:
            pass
    return not engine.volumes.list(filters={"label": f"com.docker.stack.namespace={stack}"})


@pytest.mark.parametrize("name", sorted(p.stem for p in (REPO / "compose").glob("*.yml")))
def test_docker_compose_accepts_every_exported_file(name):
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")
    with_secrets(name)  # the env files it names exist only once an export wrote them
    result = subprocess.run(["docker-compose", "-f", str(REPO / "compose" / f"{name}.yml"), "config", "-q"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_docker_compose_beside_orchestrator_up_of_the_same_project_leaves_both_untouched(deploy, engine,
                                                                                          prepared_images, tmp_path):
    """What docker-compose runs from the exported file is its own, even under the same project name and
    from the same images: `orchestrator up` neither adopts, stops nor removes it, and compose's `down`
    leaves orchestrator's containers alone."""
    deployment = deploy(EXAMPLES / "workers")
    exported = tmp_path / "exported" / "workers.yml"
    deployment.ok("compose", "-o", str(exported))
    http, https = default_ports(deployment.name)
    env = {**os.environ, **stand_ins(prepared_images), "ORCHESTRATOR_ROUTER_HTTP_PORT": str(http + 10000),
           "ORCHESTRATOR_ROUTER_HTTPS_PORT": str(https + 10000)}
    compose = ["docker-compose", "-f", str(exported), "-p", deployment.name]
    try:
        started = subprocess.run([*compose, "up", "-d"], env=env, capture_output=True, text=True, timeout=900)
        assert started.returncode == 0, started.stdout + started.stderr

        def composed() -> dict[str, str]:
            return {c.name: c.id for c in engine.containers.list(ignore_removed=True, filters={
                "label": f"com.docker.compose.project={deployment.name}"})}

        theirs = composed()
        assert len(theirs) == 6, theirs
        planned = deployment.ok("up", "--dry-run").stdout
        assert "remove" not in planned and "leftover" not in planned, planned
        deployment.ok("up")
        ours = deployment.ids()
        assert sorted(ours) == ["app", "app--mail", "app--queue", "mariadb", "rabbitmq", "router"]
        assert _wait(lambda: probe.get(f"https://{deployment.name}.localhost:{https}/").status == 200, 60)  # ours
        assert _wait(lambda: probe.get(f"https://{deployment.name}.localhost:{https + 10000}/").status == 200, 60)
        assert not set(ours.values()) & set(theirs.values())
        again = deployment.ok("up").stdout + deployment.ok("up").stderr
        assert composed() == theirs and all(engine.containers.get(i).status == "running" for i in theirs.values())
        assert deployment.ids() == ours, again
        subprocess.run([*compose, "down", "-v", "-t", "15"], env=env, capture_output=True, timeout=300, check=True)
        assert deployment.ids() == ours
        assert all(engine.containers.get(i).status == "running" for i in ours.values())
    finally:
        subprocess.run([*compose, "down", "-v", "-t", "15"], env=env, capture_output=True, timeout=300)
