"""`decide` is pure: these tests assert on the exact action text that `up --dry-run` prints."""

from __future__ import annotations

import shutil
from pathlib import Path

from orchestrator.config.validate import load_project
from orchestrator.controller import Observed, decide, field_digests
from orchestrator.plan import Environment, translate

from tests.conftest import EXAMPLES

ENV = Environment("main", "production", "workers.localhost")


def plan_of(root: Path):
    return translate(load_project(root)[0], ENV)


def running(plan, status: str = "running", skip: tuple[str, ...] = ()) -> list[Observed]:
    """What the engine would report after a successful deploy of `plan`."""
    return [Observed(spec.name, spec.role, spec.app, f"id-{spec.name}", spec.container, spec.config_hash,
                     field_digests(spec), f"image-of-{spec.image}", status)
            for spec in plan.instances if spec.name not in skip]


def images(plan) -> dict[str, str]:
    return {spec.image: f"image-of-{spec.image}" for spec in plan.instances}


def texts(actions) -> list[str]:
    return [a.text() for a in actions]


def test_first_deploy_creates_services_then_web_then_workers():
    plan = plan_of(EXAMPLES / "workers")
    assert texts(decide(plan, [], {})) == [
        "create service mariadb: new instance", "create service rabbitmq: new instance",
        "create web app: new instance", "create worker mail: new instance", "create worker queue: new instance"]


def test_nothing_changed_keeps_everything():
    plan = plan_of(EXAMPLES / "workers")
    assert {a.kind for a in decide(plan, running(plan), images(plan))} == {"keep"}


def test_changing_one_workers_variable_recreates_only_that_worker(tmp_path):
    shutil.copytree(EXAMPLES / "workers", tmp_path / "w")
    before = plan_of(tmp_path / "w")
    app_file = tmp_path / "w" / ".platform.app.yaml"
    text = app_file.read_text()
    queue_block = text.index("  queue:")
    changed = text[:queue_block] + text[queue_block:].replace("TYPE: worker", "TYPE: batch", 1)
    app_file.write_text(changed)
    after = plan_of(tmp_path / "w")
    actions = [a for a in decide(after, running(before), images(after)) if a.kind != "keep"]
    assert texts(actions) == ["recreate worker queue: env TYPE changed"]


def test_removed_worker_is_removed_and_stopped_ones_started(tmp_path):
    shutil.copytree(EXAMPLES / "workers", tmp_path / "w")
    before = plan_of(tmp_path / "w")
    app_file = tmp_path / "w" / ".platform.app.yaml"
    text = app_file.read_text()
    app_file.write_text(text[:text.index("  mail:")])
    after = plan_of(tmp_path / "w")
    observed = running(before)
    observed = [o if o.instance != "app--queue" else Observed(**{**o.__dict__, "status": "exited"}) for o in observed]
    actions = [a for a in decide(after, observed, images(after)) if a.kind != "keep"]
    assert texts(actions) == ["start worker queue: was exited", "remove worker mail: no longer in the config"]


def test_a_stopped_instance_holds_until_start_unless_its_config_changes(tmp_path):
    """`orchestrator stop` holds an instance across `up` (the README's promise): an exited container whose
    config is unchanged is kept as it is; one whose config changed is recreated (and so runs again)."""
    shutil.copytree(EXAMPLES / "workers", tmp_path / "w")
    plan = plan_of(tmp_path / "w")
    exited = [o if o.instance != "app--queue" else Observed(**{**o.__dict__, "status": "exited"})
              for o in running(plan)]
    restarted = next(a for a in decide(plan, exited, images(plan)) if a.instance == "app--queue")
    assert (restarted.kind, restarted.reason) == ("start", "was exited")  # stopped by anything else: started
    observed = [o if o.instance != "app--queue" else Observed(**{**o.__dict__, "held": True}) for o in exited]
    held = next(a for a in decide(plan, observed, images(plan)) if a.instance == "app--queue")
    assert (held.kind, held.reason) == ("keep", "stopped with `orchestrator stop`; `orchestrator start` starts it")
    app_file = tmp_path / "w" / ".platform.app.yaml"
    app_file.write_text(app_file.read_text().replace('start: python3 worker.py queue', 'start: python3 worker.py queue --again'))
    changed = plan_of(tmp_path / "w")
    again = next(a for a in decide(changed, observed, images(changed)) if a.instance == "app--queue")
    assert again.kind == "recreate"


def test_rebuilt_image_and_leftovers_of_an_interrupted_deploy():
    plan = plan_of(EXAMPLES / "workers")
    observed = running(plan)
    web = next(o for o in observed if o.instance == "app")
    observed.append(Observed(**{**web.__dict__, "container_id": "id-next", "name": web.name + "-next"}))
    ids = {**images(plan), plan.images[0].image: "a-new-image-id"}
    actions = [a for a in decide(plan, observed, ids) if a.kind != "keep"]
    assert texts(actions) == ["remove web workers-app-next: leftover of an interrupted deploy",
                              "recreate web app: image rebuilt", "recreate worker mail: image rebuilt",
                              "recreate worker queue: image rebuilt"]


# -- the order a deploy carries the decision out in (controller.deploy_steps) ---------------------------

def _steps(decision):
    return [(step.kind, [a.instance for a in step.actions]) for step in decision.steps.switch if step.actions]


def test_without_a_deploy_hook_what_changes_stops_at_once_then_starts_at_once():
    before = plan_of(EXAMPLES / "workers")
    changed = translate(load_project(EXAMPLES / "workers")[0], Environment("other", "development", "x.localhost"))
    decision = decide(changed, running(before), images(changed))
    recreated = [a.instance for a in decision if a.kind == "recreate"]
    assert recreated == ["app", "app--mail", "app--queue"]  # the branch is in their env; the services keep
    assert _steps(decision) == [("stop", recreated), ("start", recreated)]
    steps = decision.steps
    assert [a.instance for a in steps.renames] == recreated and steps.removes == () and steps.leftovers == ()
    assert [a.instance for a in steps.draining] == ["app"]


def test_with_a_deploy_hook_the_workers_change_only_after_it(tmp_path):
    shutil.copytree(EXAMPLES / "workers", tmp_path / "w")
    app_file = tmp_path / "w" / ".platform.app.yaml"
    text = app_file.read_text()
    app_file.write_text(text.replace("hooks:\n", "hooks:\n  deploy: echo deployed\n", 1))
    plan = plan_of(tmp_path / "w")
    assert "deploy" in plan.instance("app").hooks
    decision = decide(plan, [], {})
    assert _steps(decision) == [("start", ["mariadb", "rabbitmq"]), ("start", ["app"]), ("deploy-hook", ["app"]),
                                ("start", ["app--mail", "app--queue"])]
    assert [a.instance for a in decision.steps.creates] == ["mariadb", "rabbitmq", "app", "app--mail", "app--queue"]


def test_an_interrupted_deploys_leftover_goes_first_and_is_not_stopped_again():
    plan = plan_of(EXAMPLES / "workers")
    observed = running(plan)
    web = next(o for o in observed if o.instance == "app")
    observed.append(Observed(**{**web.__dict__, "container_id": "id-next", "name": web.name + "-next"}))
    steps = decide(plan, observed, images(plan)).steps
    assert [a.old.name for a in steps.leftovers] == [web.name + "-next"]
    assert all(not step.actions for step in steps.switch) and [a.old.name for a in steps.removes] == [web.name + "-next"]
