"""orchestrator.identity and orchestrator.observed: an instance's name and labels round-trip, whatever
its app and worker are called, and a container's labels read back as the instance that wrote them."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orchestrator import identity
from orchestrator.engine import ContainerState
from orchestrator.identity import InstanceRef
from orchestrator.observed import listed, observed

NAME = st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True)


@given(app=NAME, worker=NAME)
def test_a_workers_labels_name_it_again_even_when_its_app_has_dashes_in_its_name(app, worker):
    ref = InstanceRef.of_worker(app, worker)
    assert ref.name == f"{app}--{worker}"
    assert InstanceRef.from_labels(ref.to_labels("p")) == ref


@given(app=NAME)
def test_web_service_and_router_round_trip(app):
    for ref in (InstanceRef.web(app), InstanceRef.service(app), InstanceRef.router()):
        labels = ref.to_labels("proj")
        assert labels[identity.PROJECT] == "proj" and labels[identity.INSTANCE] == ref.name
        assert InstanceRef.from_labels(labels) == ref


def test_messages_name_a_worker_by_its_own_name_only_when_the_project_has_one_app():
    ref = InstanceRef.of_worker("app", "queue")
    assert ref.display(single_app=True) == "queue"
    assert ref.display(single_app=False) == "app--queue"
    assert InstanceRef.web("app").display(single_app=True) == "app"


def test_the_instance_that_app_and_worker_options_pick():
    assert identity.worker_instance("app", None) == "app"
    assert identity.worker_instance("app", "queue") == "app--queue"


def test_the_compose_export_drops_only_the_deployment_identity():
    labels = {**InstanceRef.web("app").to_labels("p"), identity.SIZE: "S"}
    assert identity.without_project(labels) == {identity.APP: "app", identity.INSTANCE: "app",
                                                identity.ROLE: "web", identity.SIZE: "S"}


def _state(labels: dict[str, str], name: str = "c", restart_policy: str = "unless-stopped") -> ContainerState:
    return ContainerState(id=f"id-{name}", name=name, image_id="sha256:1", status="exited", restart_count=0,
                          exit_code=0, started_at="", finished_at="", host_port=None, cpus=1.0, memory_mb=64,
                          labels=labels, restart_policy=restart_policy)


def test_a_containers_labels_read_back_as_the_instance_its_size_and_its_hold():
    labels = {**InstanceRef.of_worker("shop-api", "queue").to_labels("p"),
              **identity.size_labels("S", "HIGH_CPU", given_locally=True), identity.CONFIG_HASH: "abc",
              identity.FIELDS: '{"image": "1"}'}
    seen = observed(_state(labels, restart_policy="no"))
    assert (seen.instance, seen.role, seen.app, seen.worker, seen.project) == \
        ("shop-api--queue", "worker", "shop-api", "queue", "p")
    assert (seen.size, seen.profile, seen.config_hash, seen.fields) == ("S", "HIGH_CPU", "abc", {"image": "1"})
    assert seen.held and seen.engine_state.name == "c"


def test_containers_are_listed_services_then_web_then_workers_then_the_router_and_unlabelled_last():
    states = [_state(InstanceRef.router().to_labels("p"), "r"), _state({}, "stray"),
              _state(InstanceRef.of_worker("app", "b").to_labels("p"), "w"),
              _state(InstanceRef.web("app").to_labels("p"), "a"), _state(InstanceRef.service("db").to_labels("p"), "d")]
    assert [o.name for o in listed(states)] == ["d", "a", "w", "r", "stray"]


def test_a_damaged_fields_label_reads_as_no_fields():
    assert observed(_state({identity.FIELDS: "not json"})).fields == {}
    assert observed(_state({identity.FIELDS: "[1]"})).fields == {}
