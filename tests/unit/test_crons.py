"""Cron specs as the web instance's scheduler gets them (orchestrator.crons): the platform's `H` resolved
into plain numbers that are stable for one app and cron but spread over projects, inside each field's
range or the `H(a-b)` range asked for; `H/n` kept a step; month and day names turned into numbers;
specs without any of these passed through untouched. The scheduler in the container only matches
numbers, so anything left unresolved here is a cron that silently never runs; and `cron list` shows
`next_run`, so it must agree with what the scheduler will do."""

from __future__ import annotations

import base64
import dataclasses
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.config.validate import load_project
from orchestrator.crons import FIELDS, crons_env, next_run, normalise

SEEDS = [f"app:cron{i}" for i in range(200)]
UTC = timezone.utc


def _app(tmp_path: Path, crons: str = "", extra: str = ""):
    """The app of a one-app project whose `crons:` block is `crons` (already indented by two)."""
    config = "name: app\ntype: 'python:3.11'\n" + extra
    if crons:
        config += "crons:\n" + crons
    config += "web:\n  commands:\n    start: sleep 1\n"
    (tmp_path / ".platform.app.yaml").write_text(config)
    project, problems = load_project(tmp_path, name="p")
    assert problems == []
    return project.apps[0]


# -- normalise: H ----------------------------------------------------------------------------------------

def test_the_same_app_and_cron_always_get_the_same_values():
    spec = "H H H H H"
    assert normalise(spec, "app:backup") == normalise(spec, "app:backup")
    assert normalise("H(10-20)/5 H * * *", "app:backup") == normalise("H(10-20)/5 H * * *", "app:backup")


def test_different_crons_are_spread_over_the_hour_rather_than_all_firing_together():
    minutes = {normalise("H * * * *", seed).split()[0] for seed in SEEDS}
    assert len(minutes) > 30  # 200 crons over 60 minutes: far more than a handful of distinct minutes


@pytest.mark.parametrize("index", range(5))
def test_a_hashed_field_is_a_single_number_within_that_fields_range(index):
    low, high = FIELDS[index]
    seen = set()
    for seed in SEEDS:
        field = normalise("H H H H H", seed).split()[index]
        assert re.fullmatch(r"\d+", field), field
        assert low <= int(field) <= high, (seed, field)
        seen.add(int(field))
    assert len(seen) > min(high - low, 5)  # not stuck on one value


def test_the_fields_ranges_are_the_cron_ones():
    assert FIELDS == ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def test_a_bare_h_is_the_whole_field_range_written_out():
    for seed in SEEDS[:50]:
        assert normalise("H H H H H", seed) == normalise("H(0-59) H(0-23) H(1-31) H(1-12) H(0-6)", seed)


@given(st.integers(0, 59), st.integers(0, 59), st.text(max_size=20))
def test_h_with_a_range_stays_inside_that_range(a, b, seed):
    low, high = min(a, b), max(a, b)
    field = normalise(f"H({low}-{high}) * * * *", seed).split()[0]
    assert low <= int(field) <= high


def test_a_one_value_range_leaves_no_choice():
    assert normalise("H(5-5) H(7-7) * * *", "app:x") == "5 7 * * *"


@pytest.mark.parametrize("seed", SEEDS[:40])
def test_h_with_a_step_becomes_a_stepped_range_from_a_hashed_offset_below_the_step(seed):
    minute, hour = normalise("H/15 H/6 * * *", seed).split()[:2]
    match = re.fullmatch(r"(\d+)-59/15", minute)
    assert match and 0 <= int(match.group(1)) < 15, minute
    match = re.fullmatch(r"(\d+)-23/6", hour)
    assert match and 0 <= int(match.group(1)) < 6, hour


@pytest.mark.parametrize("seed", SEEDS[:40])
def test_h_with_a_range_and_a_step_starts_inside_the_range_and_keeps_its_end(seed):
    minute = normalise("H(10-40)/10 * * * *", seed).split()[0]
    match = re.fullmatch(r"(\d+)-40/10", minute)
    assert match and 10 <= int(match.group(1)) < 20, minute


def test_a_stepped_h_fires_every_step_from_its_offset(app):
    cron = dataclasses.replace(app.crons[0], name="poll", spec="H/20 * * * *")
    offset = int(normalise("H/20 * * * *", "app:poll").split()[0].split("-")[0])
    runs, when = [], datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    for _ in range(6):
        when = next_run(cron, app, when)
        runs.append(when)
    assert [run.minute for run in runs] == [offset, offset + 20, offset + 40] * 2
    assert [run.hour for run in runs] == [0, 0, 0, 1, 1, 1]


def test_h_is_resolved_in_every_field_and_list_item_it_appears_in():
    resolved = normalise("H,30 H(1-3),H(20-22) * * *", "app:x")
    minute, hour = resolved.split()[:2]
    first, second = minute.split(",")
    assert 0 <= int(first) <= 59 and second == "30"
    early, late = (int(part) for part in hour.split(","))
    assert 1 <= early <= 3 and 20 <= late <= 22
    assert "H" not in resolved


# -- normalise: names, ? and specs that need nothing ------------------------------------------------------

@pytest.mark.parametrize("spec", ["*/5 * * * *", "0 3 * * 1-5", "15,45 0-6 1 */2 *", "0 0 1 1 0", "59 23 31 12 6",
                                  "1-59/2 * * * *", "* * * * *"])
def test_a_plain_numeric_spec_is_passed_through_unchanged(spec):
    for seed in ("app:a", "other:b"):
        assert normalise(spec, seed) == spec


@pytest.mark.parametrize("spec, expected", [
    ("0 0 1 jan,dec mon-fri", "0 0 1 1,12 1-5"),
    ("0 0 * JAN-MAR SUN", "0 0 * 1-3 0"),
    ("0 0 * Feb Sat", "0 0 * 2 6"),
    ("0 0 * jun-aug tue,wed", "0 0 * 6-8 2,3"),
    ("0 0 * sep,oct,nov fri", "0 0 * 9,10,11 5"),
    ("0 0 * apr,may mon", "0 0 * 4,5 1"),
])
def test_month_and_day_names_become_the_numbers_the_scheduler_matches(spec, expected):
    assert normalise(spec, "app:x") == expected


def test_names_are_only_read_in_their_own_field():
    # "mon" is a day, not a month: left alone in the month field (and rejected later by croniter)
    assert normalise("0 0 * mon *", "app:x").split()[3] == "mon"


def test_a_question_mark_means_any():
    assert normalise("0 0 ? * ?", "app:x") == "0 0 * * *"


def test_extra_spaces_between_fields_do_not_matter():
    assert normalise("  0   3 *  * *  ", "app:x") == "0 3 * * *"


def test_upper_case_thu_is_thursday():
    """The H of a day's name is a letter of the name, not the platform's hash."""
    assert normalise("0 0 * * THU", "app:x") == "0 0 * * 4"


def test_a_stepped_range_never_starts_after_its_end():
    """A step wider than its range starts within it: the container's scheduler never matches `6-5/10`."""
    # 'app:c2' hashes to an offset of 6 for a step of 10
    start, end = normalise("H(0-5)/10 * * * *", "app:c2").split()[0].split("/")[0].split("-")
    assert int(start) <= int(end)


# -- crons_env ---------------------------------------------------------------------------------------------

def test_an_app_without_crons_gets_no_scheduler_env(tmp_path):
    assert crons_env(_app(tmp_path)) == {}


def test_each_cron_is_one_tab_separated_line_with_its_commands_in_base64(tmp_path):
    app = _app(tmp_path, "  backup:\n    spec: 'H 3 * * *'\n    commands:\n      start: |\n        echo one\n"
                         "        echo two\n      stop: pkill -f backup\n    shutdown_timeout: 20\n    timeout: 600\n"
                         "  poll:\n    spec: '*/5 * * * *'\n    cmd: 'echo\tpoll'\n")
    env = crons_env(app)
    assert set(env) == {"ORCHESTRATOR_CRONS", "ORCHESTRATOR_CRON_TZ"}
    lines = env["ORCHESTRATOR_CRONS"].split("\n")
    assert len(lines) == 2  # multi-line commands and tabs do not break the one-line-per-cron format
    backup, poll = (line.split("\t") for line in lines)
    assert backup[0] == "backup" and poll[0] == "poll"
    assert backup[1] == normalise("H 3 * * *", "app:backup") and re.fullmatch(r"\d+ 3 \* \* \*", backup[1])
    assert backup[2:4] == ["20", "600"]
    assert base64.b64decode(backup[4]).decode() == "echo one\necho two\n"
    assert base64.b64decode(backup[5]).decode() == "pkill -f backup"
    assert poll[1:4] == ["*/5 * * * *", "10", "86400"]  # the defaults: 10 s to stop, a day to run
    assert base64.b64decode(poll[4]).decode() == "echo\tpoll" and poll[5] == ""


def test_the_hash_seed_is_the_app_and_cron_name(tmp_path):
    app = _app(tmp_path, "  a:\n    spec: 'H H H H H'\n    cmd: 'true'\n  b:\n    spec: 'H H H H H'\n    cmd: 'true'\n")
    specs = [line.split("\t")[1] for line in crons_env(app)["ORCHESTRATOR_CRONS"].split("\n")]
    assert specs == [normalise("H H H H H", "app:a"), normalise("H H H H H", "app:b")]


def test_the_scheduler_timezone_is_the_apps_or_utc(tmp_path):
    cron = "  c:\n    spec: '0 0 * * *'\n    cmd: 'true'\n"
    assert crons_env(_app(tmp_path, cron))["ORCHESTRATOR_CRON_TZ"] == "UTC"
    assert crons_env(_app(tmp_path, cron, "timezone: Europe/Paris\n"))["ORCHESTRATOR_CRON_TZ"] == "Europe/Paris"


@pytest.mark.parametrize("spec, why", [("H(6-5) * * * *", "H(6-5) is not a range within 0-59"),
                                       ("H/0 * * * *", "a step of 0"), ("0 H(0-24) * * *", "within 0-23")])
def test_a_hash_that_cannot_be_resolved_is_a_config_error_naming_the_spec(tmp_path, spec, why):
    """Refused at load time with the file, line and key, rather than crashing the translation."""
    from orchestrator.errors import ConfigError
    with pytest.raises(ConfigError) as raised:
        _app(tmp_path, f"  c:\n    spec: '{spec}'\n    cmd: 'true'\n")
    assert ".platform.app.yaml:5: crons.c.spec" in str(raised.value) and why in str(raised.value)


# -- next_run ----------------------------------------------------------------------------------------------

def _cron(app, spec: str):
    return dataclasses.replace(app.crons[0], spec=spec)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return _app(tmp_path_factory.mktemp("app"), "  job:\n    spec: '* * * * *'\n    cmd: 'true'\n")


@pytest.mark.parametrize("spec, after, expected", [
    ("*/15 * * * *", datetime(2024, 1, 1, 10, 7, tzinfo=UTC), datetime(2024, 1, 1, 10, 15, tzinfo=UTC)),
    ("30 2 * * *", datetime(2024, 1, 1, 3, 0, tzinfo=UTC), datetime(2024, 1, 2, 2, 30, tzinfo=UTC)),
    ("0 0 * * mon", datetime(2024, 1, 3, 12, 0, tzinfo=UTC), datetime(2024, 1, 8, 0, 0, tzinfo=UTC)),
    ("0 0 1 feb ?", datetime(2024, 3, 1, 0, 0, tzinfo=UTC), datetime(2025, 2, 1, 0, 0, tzinfo=UTC)),
])
def test_the_next_run_is_the_first_matching_minute_after_the_given_time(app, spec, after, expected):
    assert next_run(_cron(app, spec), app, after) == expected


def test_the_next_run_of_a_hashed_spec_is_at_the_hashed_minute(app):
    cron = _cron(app, "H * * * *")
    minute = int(normalise("H * * * *", "app:job").split()[0])
    after = datetime(2024, 5, 5, 12, 0, 30, tzinfo=UTC)
    expected = after.replace(second=0, minute=minute) if minute > 0 else datetime(2024, 5, 5, 13, 0, tzinfo=UTC)
    assert next_run(cron, app, after) == expected


@pytest.mark.parametrize("spec", ["61 * * * *", "0 0 * mon *", "0 25 * * *"])
def test_a_spec_the_scheduler_cannot_read_has_no_next_run(app, spec):
    assert next_run(_cron(app, spec), app, datetime(2024, 1, 1, tzinfo=UTC)) is None


def test_the_next_run_is_in_the_apps_timezone(tmp_path):
    """The container's scheduler reads the spec in the app's timezone (ORCHESTRATOR_CRON_TZ)."""
    app = _app(tmp_path, "  job:\n    spec: '0 0 * * *'\n    cmd: 'true'\n", "timezone: Europe/Paris\n")
    upcoming = next_run(app.crons[0], app, datetime(2024, 1, 1, 12, 0, tzinfo=UTC))
    assert upcoming is not None and upcoming.astimezone(UTC) == datetime(2024, 1, 1, 23, 0, tzinfo=UTC)


@settings(max_examples=50)
@given(name=st.from_regex(r"[a-z][a-z0-9_-]{0,15}", fullmatch=True),
       after=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_a_hashed_daily_spec_runs_at_its_hashed_time_within_a_day(app, name, after):
    cron = dataclasses.replace(app.crons[0], name=name, spec="H H * * *")
    minute, hour = (int(part) for part in normalise("H H * * *", f"app:{name}").split()[:2])
    upcoming = next_run(cron, app, after)
    assert upcoming is not None and after < upcoming <= after + timedelta(days=1)
    assert (upcoming.hour, upcoming.minute, upcoming.second) == (hour, minute, 0)
