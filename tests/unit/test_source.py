"""What goes into an app's build: `.dockerignore`, the platform config kept out, and the digest that tags the image."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator import source
from orchestrator.images import load_image_map
from orchestrator.errors import OrchestratorError


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_dockerignore_git_and_platform_config_are_left_out(tmp_path):
    write(tmp_path, {"app.py": "x", "node_modules/a/b.js": "x", "logs/today.log": "x", "logs/keep.log": "x",
                     ".git/HEAD": "x", ".platform.app.yaml": "x", ".platform/services.yaml": "x",
                     ".dockerignore": "node_modules\n*.log\n**/*.log\n!logs/keep.log\n", "sub/.platform.app.yaml": "x"})
    files = [rel for rel, _ in source.list_files(tmp_path)]
    assert files == [".dockerignore", "app.py", "logs/keep.log"]


def test_digest_follows_content_but_not_the_platform_config(tmp_path):
    write(tmp_path, {"app.py": "print(1)", ".platform.app.yaml": "name: app"})
    first = source.digest(tmp_path)
    (tmp_path / ".platform.app.yaml").write_text("name: app\n# changed")
    assert source.digest(tmp_path) == first
    (tmp_path / "app.py").write_text("print(2)")
    assert source.digest(tmp_path) != first


def test_image_map_is_a_mapping_of_names_to_images(tmp_path, monkeypatch):
    good = tmp_path / "images.yaml"
    good.write_text("python:3.11-slim: local/python:3.11\nmariadb:10.11: mine/mariadb:10.11\n")
    assert load_image_map(str(good))["mariadb:10.11"] == "mine/mariadb:10.11"
    monkeypatch.setenv("ORCHESTRATOR_IMAGES", str(good))
    assert len(load_image_map(None)) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("- python\n")
    with pytest.raises(OrchestratorError):
        load_image_map(str(bad))
