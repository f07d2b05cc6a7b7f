"""Every project of the shared corpus validates and translates, except those expected.yaml lists as invalid,
which are rejected with exit 2 and an error naming the file, the line and the listed key.

The corpus is read from ../shared/corpus (or $ORCHESTRATOR_CORPUS); nothing of it is kept in this repo.
A new project folder is picked up without touching this file.
"""

from __future__ import annotations

import re
import time

import pytest
import yaml

from orchestrator.config.loader import choose_layout
from orchestrator.config.validate import load_project
from orchestrator.errors import ConfigError
from orchestrator.plan import Environment, translate

from tests.conftest import CORPUS

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"no corpus at {CORPUS} (shared/ is not beside the repo)")

PROJECTS = sorted(p for p in CORPUS.iterdir() if p.is_dir()) if CORPUS.is_dir() else []
EXPECTED = yaml.safe_load((CORPUS / "expected.yaml").read_text()) if CORPUS.is_dir() else {}
ENV = Environment("main", "production", "corpus.localhost")
ERROR_LINE = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?P<key>\S+): ", re.M)


def _layouts(project):
    found = [layout for layout in ("upsun", "platform") if choose_layout(project, layout)[0]]
    return found or ["auto"]


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_corpus_project(project, cli):
    expected = EXPECTED.get(project.name, {"outcome": "valid"})
    if expected["outcome"] == "valid":
        for layout in _layouts(project):
            loaded, _ = load_project(project, layout)
            plan = translate(loaded, ENV)
            assert plan.instances, f"{layout}: no instances"
            assert len(plan.images) == len(loaded.apps)
            assert plan.to_json() == translate(loaded, ENV).to_json()
        return
    result = cli("validate", str(project))
    if expected["outcome"] == "either" and result.returncode == 0:
        return
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    hits = [m for m in ERROR_LINE.finditer(result.stderr)
            if expected["key"] in re.split(r"[.\[\]]", m.group("key").replace('"', ""))]
    assert hits, f"no error naming key {expected['key']!r}:\n{result.stderr}"
    for hit in hits:
        path = hit.group("file")
        assert (CORPUS.parent / path).is_file() or (project / path).is_file() or path.startswith(str(project)), path
        assert int(hit.group("line")) > 0


def test_whole_corpus_validates_and_translates_well_under_a_second():
    """Not a timing assertion: records the figure (pytest -s shows it); bench/ holds the timing goal."""
    start = time.perf_counter()
    count = 0
    for project in PROJECTS:
        try:
            loaded, _ = load_project(project)
            translate(loaded, ENV)
            count += 1
        except ConfigError:
            pass
    print(f"\ncorpus: {count} of {len(PROJECTS)} projects validated and translated in "
          f"{time.perf_counter() - start:.3f} s")
    assert count >= sum(1 for p in PROJECTS if EXPECTED.get(p.name, {}).get("outcome", "valid") == "valid")
