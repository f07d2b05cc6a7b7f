"""The README's architecture section names every module of the package, so the map stays true to the tree."""

from __future__ import annotations

import re

from tests.conftest import REPO


def _architecture() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return text[text.index("## Architecture"):]


def test_every_module_of_the_package_is_on_the_map():
    section = _architecture()
    package = REPO / "orchestrator"
    modules = sorted(path.relative_to(package).as_posix() for path in package.rglob("*.py")
                     if path.name != "__init__.py")
    missing = []
    for module in modules:
        folder, _, name = module.rpartition("/")
        stem = name[:-3]
        named = f"`{module}`" in section or f"{module} " in section or f"`{stem}`" in section \
            or re.search(rf"\b{re.escape(module)}\b", section)
        if not named:
            missing.append(module)
    assert missing == []


def test_every_module_the_map_names_exists():
    section = _architecture()
    named = {name for name in re.findall(r"`([a-z_/]+\.py)`", section) if not name.startswith("test_")}
    assert named and all((REPO / "orchestrator" / name).is_file() for name in named), \
        sorted(n for n in named if not (REPO / "orchestrator" / n).is_file())
    tests = set(re.findall(r"`(test_[a-z_]+\.py)`", section))
    assert all((REPO / "tests" / "unit" / name).is_file() for name in tests), tests
