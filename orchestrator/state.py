"""Where the orchestrator keeps what belongs to the person running it, never to a deployment or the
repository: a copy of the local CA certificate to trust, a note of registries that did not answer, and
(read once, then moved into the deployment: see `deployment`) the passwords earlier versions kept here.

`$ORCHESTRATOR_STATE_DIR`, else `$XDG_STATE_HOME/orchestrator`, else `~/.local/state/orchestrator`; its
directories are private to their owner (0700), its files 0600 unless meant to be shared (the CA).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

PRIVATE = 0o700


def _base() -> Path:
    return Path(os.environ.get("ORCHESTRATOR_STATE_DIR") or os.path.join(
        os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state"), "orchestrator"))


def state_dir() -> Path:
    """The directory, made (private) when it is not there yet: for commands that write into it."""
    path = _base()
    path.mkdir(mode=PRIVATE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077 and path.stat().st_uid == os.getuid():
        path.chmod(PRIVATE)  # made by an earlier version with the umask's 0755
    return path


def _legacy_file(project: str) -> Path:
    return _base() / "projects" / project / "credentials.json"  # only read or removed: nothing is made


def legacy_credentials(project: str) -> dict[tuple[str, str], str]:
    """The passwords an earlier version generated for `project` and kept here ({} when there are none).
    Read only: a deployment's passwords now live with it."""
    if "/" in project or project in ("", ".", ".."):
        return {}
    try:
        stored = json.loads(_legacy_file(project).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(stored, dict):
        return {}
    return {(service, endpoint): password for service, endpoints in stored.items() if isinstance(endpoints, dict)
            for endpoint, password in endpoints.items() if isinstance(password, str)}


def forget_legacy_credentials(project: str) -> None:
    """Once the deployment holds the passwords (or its data is gone), the copy here is only a leak."""
    if "/" in project or project in ("", ".", ".."):
        return
    path = _legacy_file(project)
    try:
        path.unlink()
        path.parent.rmdir()
    except OSError:
        pass
