"""Local sizes (`--size INSTANCE=SIZE`, $ORCHESTRATOR_SIZES) and the AUTO default: part of the plan, so
`plan` shows them and a changed size recreates the instance; bad ones are refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.catalog import limits
from orchestrator.config.validate import load_project
from orchestrator.controller import decide
from orchestrator.errors import OrchestratorError
from orchestrator.plan import Environment, translate
from orchestrator.render import plan_table
from orchestrator.sizing import local_sizes, parse_sizes
from tests.conftest import EXAMPLES
from tests.unit.test_controller import images, running, texts

ENV = Environment("main", "production", "workers.localhost")


def plan_of(sizes: dict[str, str] | None = None, root: Path = EXAMPLES / "workers"):
    return translate(load_project(root)[0], ENV, sizes=sizes)


def test_sizes_are_names_or_upsuns_cpus_several_to_a_flag_and_the_flags_win_over_the_environment():
    assert parse_sizes(["app=l", "app--queue:0.50,mariadb=M app--mail=auto"]) == {
        "app": "L", "app--queue": "0.5", "mariadb": "M", "app--mail": "AUTO"}
    assert local_sizes(["app=2"], {"ORCHESTRATOR_SIZES": "app=S app--queue=1"}) == {"app": "2", "app--queue": "1"}


@pytest.mark.parametrize("text, message", [
    ("app", "--size app: write INSTANCE=SIZE, such as app=L, app--queue=1 or mariadb=M"),
    ("app=HUGE", ("--size app=HUGE: unknown size HUGE; sizes: AUTO, S, M, L, XL, 2XL, 4XL, 0.1, 0.25, 0.5, 1, 2, 4, "
                  "6, 8 (a name, or Upsun's CPUs)")),
    ("app=3", "--size app=3: unknown size 3"),
])
def test_a_malformed_size_is_refused_saying_what_to_write(text, message):
    with pytest.raises(OrchestratorError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        parse_sizes([text])


def test_a_size_for_an_instance_the_project_does_not_have_is_refused_listing_them():
    with pytest.raises(OrchestratorError) as raised:
        plan_of({"app--nope": "L"})
    assert str(raised.value) == ("--size app--nope=L: no instance app--nope; instances: app, app--mail, app--queue, "
                                 "mariadb, rabbitmq")


def test_auto_gives_apps_and_workers_one_cpu_and_at_least_1024_mb_and_services_the_first_deploy_default():
    assert limits(None, "HIGH_CPU", app=True) == (1.0, 1024)
    assert limits("AUTO", "HIGH_MEMORY", app=True) == (1.0, 2432)  # the profile's 1-CPU row when it is larger
    assert limits(None, "HIGH_MEMORY") == (0.5, 1408)
    web, mariadb = plan_of().instance("app"), plan_of().instance("mariadb")
    assert (web.size, web.cpus, web.memory_mb) == ("AUTO", 1.0, 1024)
    assert (mariadb.cpus, mariadb.memory_mb) == (0.5, 1408)


def test_an_upsun_cpu_size_takes_its_memory_from_the_instances_profile():
    assert limits("1", "HIGH_CPU", app=True) == (1.0, 384)
    assert limits("0.25", "BALANCED") == (0.25, 640)
    assert limits("2", "HIGH_CPU", base_memory=100, memory_ratio=200) == (2.0, 500)


def test_a_local_size_replaces_the_configs_is_labelled_and_plan_shows_where_it_came_from():
    plan = plan_of({"app--queue": "2", "mariadb": "L"})
    queue = plan.instance("app--queue")
    assert (queue.size, queue.cpus, queue.memory_mb) == ("2", 2.0, 704)  # the config says M
    assert queue.labels["orchestrator.size-from"] == "--size" and queue.labels["orchestrator.profile"] == "HIGH_CPU"
    assert plan.instance("mariadb").memory_mb == 1280
    assert "orchestrator.size-from" not in plan.instance("app--mail").labels
    row = next(line for line in plan_table(plan).splitlines() if line.startswith("app--queue"))
    assert "2 (--size) -> 2 CPU / 704 MB" in row


def test_a_changed_local_size_recreates_that_instance_only():
    before, after = plan_of(), plan_of({"app--queue": "1"})
    changed = [a for a in decide(after, running(before), images(after)) if a.kind != "keep"]
    assert texts(changed) == ["recreate worker queue: limits changed"]


def test_the_cli_takes_sizes_from_flags_and_the_environment_and_refuses_a_bad_one_before_anything_runs():
    import json
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    def plan(*args: str, sizes: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "orchestrator", "plan", str(EXAMPLES / "workers"), "--format",
                               "json", *args], cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
                              env={**os.environ, "ORCHESTRATOR_SIZES": sizes})

    result = plan("--size", "app=2", sizes="app=S app--mail=0.5")
    memory = {i["name"]: i["memory_mb"] for i in json.loads(result.stdout)["instances"]}
    assert (memory["app"], memory["app--mail"]) == (704, 224)
    refused = plan("--size", "app=9")
    assert refused.returncode == 1 and refused.stderr.startswith("error: --size app=9: unknown size 9")
