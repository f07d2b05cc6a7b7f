"""Engine object names (orchestrator.names): a config name that is already a valid engine name and short
enough is used as it is, anything else becomes a valid, bounded name ending in a hash of the original, so
the result is always accepted by the engine and two different config names do not end up as one
container, network or volume. `join` keeps composed names within the engine's 63 characters, and
`project_name` is the project folder's name made safe."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from orchestrator.names import MAX_NAME, join, project_name, safe, short_hash

VALID = re.compile(r"[a-z0-9][a-z0-9_.-]*")
VALID_NAMES = st.from_regex(r"[a-z0-9][a-z0-9_.-]{0,80}", fullmatch=True)
NAMEISH = st.text(alphabet="abcXYZ019-_. /é", max_size=80)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


# -- safe --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["app", "mariadb", "my-app", "app_2", "v1.2.3", "0", "a" * 63, "app--queue"])
def test_a_valid_name_that_fits_is_used_as_it_is(name):
    assert safe(name) == name


@pytest.mark.parametrize("name, expected_head", [
    ("App", "app"), ("My App", "my-app"), ("café", "caf"), ("a/b", "a-b"), ("-lead", "lead"),
    ("trail.", "trail"), ("_x_", "x"), ("a  b//c", "a-b-c"), ("ÉTÉ", "t"),
])
def test_a_changed_name_is_the_cleaned_name_and_a_hash_of_the_original(name, expected_head):
    assert safe(name) == f"{expected_head}-{_hash(name)}"


@pytest.mark.parametrize("name", ["", "-", "...", "___", "é", "///"])
def test_a_name_with_nothing_left_after_cleaning_is_x_and_the_hash(name):
    assert safe(name) == f"x-{_hash(name)}"


def test_the_hash_is_the_start_of_the_sha256_of_the_original():
    assert short_hash("App") == hashlib.sha256(b"App").hexdigest()[:8]
    assert short_hash("App", 12) == hashlib.sha256(b"App").hexdigest()[:12]


def test_a_valid_name_one_character_too_long_is_shortened_with_a_hash():
    name = "a" * 64
    assert safe(name) == "a" * (63 - 9) + "-" + _hash(name)
    assert len(safe(name)) == 63


def test_the_length_bound_can_be_tighter():
    assert safe("a" * 40, 40) == "a" * 40
    name = "a" * 41
    assert safe(name, 40) == "a" * 31 + "-" + _hash(name)


def test_shortening_does_not_leave_a_separator_before_the_hash():
    name = "a" * 53 + "-" + "b" * 20  # the cut falls right after the "-"
    result = safe(name)
    assert result == "a" * 53 + "-" + _hash(name)
    assert "--" not in result


def test_names_differing_only_in_case_or_punctuation_stay_apart():
    variants = ["shop", "Shop", "SHOP", "shop-", "-shop", "shop.", "sh op", "sh/op", "sh-op"]
    assert len({safe(v) for v in variants}) == len(variants)


@given(NAMEISH | st.text(max_size=120))
def test_every_result_is_a_valid_engine_name_within_the_bound(text):
    result = safe(text)
    assert VALID.fullmatch(result), result
    assert 1 <= len(result) <= MAX_NAME


@given(NAMEISH | st.text(max_size=120), st.integers(min_value=10, max_value=100))
def test_every_result_fits_a_given_bound(text, bound):
    result = safe(text, bound)
    assert VALID.fullmatch(result) and len(result) <= bound


@given(NAMEISH | st.text(max_size=120))
def test_a_safe_name_is_its_own_safe_name(text):
    assert safe(safe(text)) == safe(text)


@given(VALID_NAMES)
def test_valid_names_are_unchanged_exactly_when_they_fit(name):
    assert (safe(name) == name) == (len(name) <= MAX_NAME and not name.endswith(("-", ".", "_")))


@example("App", "app")
@example("a" * 64, "a" * 63)
@example("my app", "my-app")
@example("", "x")
@given(NAMEISH | st.text(max_size=100), NAMEISH | st.text(max_size=100))
def test_two_different_originals_never_map_to_the_same_name(a, b):
    assume(a != b)
    assert safe(a) != safe(b)


@pytest.mark.xfail(strict=True, reason="the promise holds only when a valid name does not itself look like "
                                       "'<name>-<8 hex>': such a name is kept as it is and can equal another "
                                       "name's hashed form")
def test_a_valid_name_shaped_like_a_hashed_one_does_not_collide():
    hashed = safe("Shop")
    assert hashed == f"shop-{_hash('Shop')}"
    assert safe(hashed) != safe("Shop")


# -- join --------------------------------------------------------------------------------------------------

def test_short_parts_are_joined_with_dashes():
    assert join("shop", "app", "data") == "shop-app-data"
    assert join("shop") == "shop"


def test_a_joined_name_of_exactly_the_limit_is_kept():
    parts = ("p" * 30, "q" * 32)
    assert len("-".join(parts)) == MAX_NAME
    assert join(*parts) == "-".join(parts)


def test_a_joined_name_over_the_limit_is_shortened_with_a_hash_of_the_whole():
    parts = ("p" * 30, "q" * 33)
    joined = "-".join(parts)
    assert join(*parts) == joined[:54] + "-" + _hash(joined)
    assert len(join(*parts)) == MAX_NAME


@given(st.lists(VALID_NAMES, min_size=1, max_size=5))
def test_joined_names_always_fit_and_stay_valid(parts):
    result = join(*parts)
    assert len(result) <= MAX_NAME
    assert VALID.fullmatch(result)
    if len("-".join(parts)) <= MAX_NAME:
        assert result == "-".join(parts)


@given(st.lists(VALID_NAMES, min_size=1, max_size=3), st.lists(VALID_NAMES, min_size=1, max_size=3))
def test_long_joined_names_of_different_parts_stay_apart(a, b):
    prefix = "project-" + "x" * 60  # the same long start: only a hash of the whole can tell them apart
    assume("-".join(a) != "-".join(b))
    assert join(prefix, *a) != join(prefix, *b)
    assert len(join(prefix, *a)) == MAX_NAME


# -- project_name ------------------------------------------------------------------------------------------

def test_the_project_name_is_its_folders_name(tmp_path):
    (tmp_path / "shop").mkdir()
    assert project_name(tmp_path / "shop") == "shop"


def test_a_project_folder_name_that_is_not_valid_is_made_safe_within_40(tmp_path):
    folder = tmp_path / "My Shop"
    folder.mkdir()
    assert project_name(folder) == f"my-shop-{_hash('My Shop')}"
    long_folder = tmp_path / ("a" * 50)
    long_folder.mkdir()
    assert project_name(long_folder) == "a" * 31 + "-" + _hash("a" * 50)
    assert len(project_name(long_folder)) == 40


def test_the_project_name_is_of_the_resolved_folder(tmp_path, monkeypatch):
    (tmp_path / "shop" / "sub").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "shop" / "sub")
    assert project_name(Path("..")) == "shop"
    assert project_name(Path(".")) == "sub"


def test_the_file_system_root_is_called_project():
    assert project_name(Path("/")) == "project"
