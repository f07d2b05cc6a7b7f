"""Shared test helpers: where the repo, its examples and the shared corpus are; running the CLI for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
CORPUS = Path(os.environ.get("ORCHESTRATOR_CORPUS", REPO.parent / "shared" / "corpus"))


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the installed CLI in a child process, as a user would."""
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def cli():
    return run_cli
