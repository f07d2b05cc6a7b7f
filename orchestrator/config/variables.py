"""How an app's `variables.env` entries are named in the environment, at build time and at run time alike.

The platform shows `env` variables in capitals (`env: {type: web}` is `$TYPE`), while apps written for the
older behaviour read the name as written (`$type`); both spellings are exported so either kind of app works.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def env_names(entries: Mapping[str, Any]) -> dict[str, Any]:
    """Each entry under its upper-case name and, where that differs, under its name as written too.

    A name written in capitals is the user's own choice, so it beats another entry that only upper-cases to
    it (`{TYPE: a, type: b}` gives `TYPE=a`, `type=b`); between two such aliases the later entry wins, as
    in a YAML mapping."""
    upper = {name.upper(): value for name, value in entries.items()}
    return {**upper, **entries}
