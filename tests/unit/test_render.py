"""The plan as people read it (orchestrator.render): `table` lines every column up under its header, two
spaces apart, with no trailing blanks; `_short` keeps a command to one line of a given width and marks
what it cut; `plan_table` of the bundled workers example shows every instance with its role, image,
command, size, mounts and relationships, the one image its app builds, the networks, and the routes with
their local URLs (and no route table when there is no router port)."""

from __future__ import annotations

import re

import pytest

from orchestrator.config.validate import load_project
from orchestrator.plan import Environment, translate
from orchestrator.render import _short, plan_table, table

from tests.conftest import EXAMPLES


# -- table -------------------------------------------------------------------------------------------------

def test_columns_are_as_wide_as_their_widest_cell_and_two_spaces_apart():
    out = table(["NAME", "ROLE", "X"], [["app", "web", "1"], ["app--queue", "worker", "22"]])
    assert out == ("NAME        ROLE    X\n"
                   "app         web     1\n"
                   "app--queue  worker  22\n")


def test_a_header_wider_than_its_cells_sets_the_width():
    out = table(["INSTANCE", "R"], [["a", "web"], ["bb", "w"]])
    assert out.splitlines() == ["INSTANCE  R", "a         web", "bb        w"]


def test_no_line_ends_in_blanks_even_when_the_last_column_is_short():
    out = table(["A", "LONG LAST HEADER"], [["x", "-"], ["yyyy", "v"]])
    assert all(line == line.rstrip() for line in out.splitlines())
    assert out.splitlines()[1] == "x     -"


def test_a_table_without_rows_is_its_header_line():
    assert table(["INSTANCE", "ROLE"], []) == "INSTANCE  ROLE\n"


def test_every_cell_starts_where_its_header_does():
    headers = ["ONE", "TWO", "THREE"]
    rows = [["a" * 7, "b", "c"], ["d", "e" * 9, "f"], ["g", "h", "i" * 12]]
    lines = table(headers, rows).splitlines()
    starts = [lines[0].index(h) for h in headers]
    assert starts == [0, 9, 20]
    for line, row in zip(lines[1:], rows):
        assert [line[s:s + len(cell)] for s, cell in zip(starts, row)] == row


# -- _short ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [None, ""])
def test_no_command_is_a_dash(text):
    assert _short(text, 40) == "-"


def test_a_short_one_line_command_is_shown_as_it_is():
    assert _short("python3 web.py", 40) == "python3 web.py"


def test_a_command_of_exactly_the_width_is_not_cut():
    assert _short("x" * 40, 40) == "x" * 40


def test_a_longer_command_is_cut_to_the_width_with_an_ellipsis():
    result = _short("y" * 41, 40)
    assert result == "y" * 39 + "…" and len(result) == 40


def test_only_the_first_line_of_a_script_is_shown_marked_as_cut():
    assert _short("set -e\npython3 migrate.py\npython3 web.py", 40) == "set -e…"


def test_surrounding_blank_lines_and_spaces_are_not_a_second_line():
    assert _short("\n\n  gunicorn app:wsgi  \n\n", 40) == "gunicorn app:wsgi"


def test_a_long_first_line_of_a_script_is_cut_once():
    result = _short("z" * 50 + "\nsecond", 10)
    assert result == "z" * 9 + "…"


# -- plan_table on the workers example ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def project():
    project, problems = load_project(EXAMPLES / "workers", "auto", None)
    assert problems == []
    return project


@pytest.fixture(scope="module")
def plan(project):
    return translate(project, "main")


def _sections(text: str) -> list[str]:
    return text.rstrip("\n").split("\n\n")


def _rows(section: str, headers: list[str]) -> list[dict[str, str]]:
    """The rows of one rendered table, cut at the columns where its header line puts each header."""
    lines = section.splitlines()
    starts = [lines[0].index(h) for h in headers]
    assert lines[0] == "  ".join(h.ljust(e - s - 2) if e else h
                                 for h, s, e in zip(headers, starts, starts[1:] + [0])).rstrip()
    rows = []
    for line in lines[1:]:
        for start in starts[1:]:
            assert line[start - 2:start] == "  " and line[start] != " ", (line, start)  # aligned under its header
        cells = [line[s:e].strip() if e else line[s:].strip() for s, e in zip(starts, starts[1:] + [0])]
        rows.append(dict(zip(headers, cells)))
    return rows


INSTANCE_HEADERS = ["INSTANCE", "ROLE", "IMAGE", "COMMAND", "SIZE", "MOUNTS", "RELATIONSHIPS"]


def test_the_table_opens_with_the_project_and_environment(plan):
    assert _sections(plan_table(plan))[0] == "project workers, environment main (development)"


def test_every_instance_has_a_row_in_plan_order(plan):
    rows = _rows(_sections(plan_table(plan))[1], INSTANCE_HEADERS)
    assert [row["INSTANCE"] for row in rows] == [spec.name for spec in plan.instances]
    assert [row["INSTANCE"] for row in rows] == ["mariadb", "rabbitmq", "app", "app--queue", "app--mail", "router"]
    assert [row["ROLE"] for row in rows] == ["service", "service", "web", "worker", "worker", "router"]


def test_instance_rows_show_image_command_mounts_and_relationships(plan):
    rows = {row["INSTANCE"]: row for row in _rows(_sections(plan_table(plan))[1], INSTANCE_HEADERS)}
    image = plan.images[0].image
    assert re.fullmatch(r"orchestrator/workers-app:[0-9a-f]{12}", image)
    assert rows["mariadb"] | {"SIZE": ""} == {"INSTANCE": "mariadb", "ROLE": "service", "IMAGE": "mariadb:10.11",
                                               "COMMAND": "-", "SIZE": "", "MOUNTS": "/var/lib/mysql(data)",
                                               "RELATIONSHIPS": "-"}
    assert rows["rabbitmq"]["IMAGE"] == "rabbitmq:3.10" and rows["rabbitmq"]["MOUNTS"] == "/var/lib/rabbitmq(data)"
    assert [rows[name]["IMAGE"] for name in ("app", "app--queue", "app--mail")] == [image] * 3  # one image, shared
    assert rows["app"]["COMMAND"] == "python3 web.py"
    assert rows["app--queue"]["COMMAND"] == "python3 worker.py queue"
    assert rows["app--mail"]["COMMAND"] == "python3 worker.py mail"
    assert rows["app"]["MOUNTS"] == "/app/data(local)"
    assert rows["app--queue"]["MOUNTS"] == "/app/scratch(local)"  # the worker's own mounts replace the app's
    assert rows["app--mail"]["MOUNTS"] == "-"
    assert rows["app"]["RELATIONSHIPS"] == "database, rabbitmq"
    assert rows["app--queue"]["RELATIONSHIPS"] == "database, rabbitmq"
    assert rows["app--mail"]["RELATIONSHIPS"] == "rabbitmq"
    assert rows["router"]["IMAGE"] == "orchestrator/router" and rows["router"]["MOUNTS"] == "/ca(local-ca)"


def test_sizes_show_the_configured_size_and_what_it_gives(plan):
    rows = {row["INSTANCE"]: row["SIZE"] for row in _rows(_sections(plan_table(plan))[1], INSTANCE_HEADERS)}
    for spec in plan.instances:
        assert re.fullmatch(r"[A-Z0-9]+ -> \d+(\.\d+)? CPU / \d+ MB", rows[spec.name]), rows[spec.name]
        assert rows[spec.name] == f"{spec.size} -> {spec.cpus:g} CPU / {spec.memory_mb} MB"
    assert rows["app--queue"].startswith("M -> ") and rows["app--mail"].startswith("S -> ")
    assert rows["app"].startswith("AUTO -> ")


def test_a_size_given_with_the_size_option_is_marked(project):
    plan = translate(project, "main", sizes={"app--mail": "L"})
    rows = {row["INSTANCE"]: row["SIZE"] for row in _rows(_sections(plan_table(plan))[1], INSTANCE_HEADERS)}
    assert rows["app--mail"].startswith("L (--size) -> ")
    assert rows["app--queue"].startswith("M -> ")


def test_the_image_is_listed_once_with_its_app_base_and_context(plan):
    rows = _rows(_sections(plan_table(plan))[2], ["IMAGE (built once per app)", "APP", "FROM", "CONTEXT"])
    assert rows == [{"IMAGE (built once per app)": plan.images[0].image, "APP": "app", "FROM": "python:3.11-slim",
                     "CONTEXT": "."}]


def test_networks_are_listed_with_whether_they_are_internal(plan):
    rows = _rows(_sections(plan_table(plan))[3], ["NETWORK", "INTERNAL", "PURPOSE"])
    assert rows == [
        {"NETWORK": "workers-egress", "INTERNAL": "no", "PURPOSE": "outbound traffic and published ports of apps"},
        {"NETWORK": "workers-svc-mariadb", "INTERNAL": "yes", "PURPOSE": "reach service mariadb"},
        {"NETWORK": "workers-svc-rabbitmq", "INTERNAL": "yes", "PURPOSE": "reach service rabbitmq"},
    ]
    assert [row["NETWORK"] for row in rows] == [network.name for network in plan.networks]


def test_routes_are_listed_with_their_local_urls_on_the_router_ports(plan):
    http, https = plan.environment.http_port, plan.environment.https_port
    assert 20000 <= http < https == http + 1
    sections = _sections(plan_table(plan))
    assert len(sections) == 5
    rows = _rows(sections[4], ["ROUTE (local URL, through the router)", "TYPE", "TO"])
    assert rows == [
        {"ROUTE (local URL, through the router)": f"https://workers.localhost:{https}/", "TYPE": "upstream",
         "TO": "app app"},
        {"ROUTE (local URL, through the router)": f"http://workers.localhost:{http}/", "TYPE": "redirect",
         "TO": f"https://workers.localhost:{https}/"},
    ]


def test_without_a_router_port_there_is_no_router_and_no_route_table(project):
    plan = translate(project, Environment("main", "production", "workers.localhost"))
    text = plan_table(plan)
    sections = _sections(text)
    assert sections[0] == "project workers, environment main (production)"
    assert len(sections) == 4 and "ROUTE" not in text
    rows = _rows(sections[1], INSTANCE_HEADERS)
    assert "router" not in [row["INSTANCE"] for row in rows]


def test_a_multi_line_command_shows_its_first_line(tmp_path):
    (tmp_path / ".platform.app.yaml").write_text(
        "name: app\ntype: 'python:3.11'\nweb:\n  commands:\n    start: |\n      set -e\n      exec gunicorn app\n")
    project, problems = load_project(tmp_path, name="p")
    assert problems == []
    rows = _rows(_sections(plan_table(translate(project, "main")))[1], INSTANCE_HEADERS)
    assert {row["INSTANCE"]: row["COMMAND"] for row in rows}["app"] == "set -e…"
