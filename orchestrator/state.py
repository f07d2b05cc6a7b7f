"""Where the orchestrator keeps what must outlive one command but never belongs in the repository:
per-project locks and generated credentials, and a note of registries that did not answer.

`$ORCHESTRATOR_STATE_DIR`, else `$XDG_STATE_HOME/orchestrator`, else `~/.local/state/orchestrator`.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from orchestrator.config.model import Project


def state_dir() -> Path:
    base = os.environ.get("ORCHESTRATOR_STATE_DIR") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "orchestrator")
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _credentials_file(project: str) -> Path:
    return state_dir() / "projects" / project / "credentials.json"


def credentials(project: Project) -> dict[tuple[str, str], str]:
    """A password per (service, endpoint), generated once and kept, so they survive `up` and `down`."""
    path = _credentials_file(project.name)
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        stored = {}
    changed = False
    for service in project.services:
        for endpoint in service.endpoints:
            entry = stored.setdefault(service.credentials_owner, {})  # a replica's users are its primary's
            if endpoint.name not in entry:
                entry[endpoint.name] = secrets.token_hex(12)
                changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
            json.dump(stored, handle, indent=1, sort_keys=True)
        os.replace(temporary, path)
    return {(service, endpoint): password for service, endpoints in stored.items()
            for endpoint, password in endpoints.items()}


def forget_credentials(project: str) -> None:
    """With the data gone (`down --volumes`), the old passwords mean nothing: new data gets new ones."""
    try:
        _credentials_file(project).unlink()
    except FileNotFoundError:
        pass
