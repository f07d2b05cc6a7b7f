"""Masking of secrets in what the tool prints: passwords live in containers, never in the output of
`plan`, `relationships` or `logs` (unless `--show-secrets`).

The masked plan keeps its shape: `PLATFORM_RELATIONSHIPS` stays decodable base64 JSON with each
password replaced, so a masked plan is still a faithful picture of everything else.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from dataclasses import replace

from orchestrator.plan import ContainerSpec, Plan
from orchestrator.relationships import encode

MASK = "********"
SECRET_NAME = re.compile(r"(?<!RANDOM_ROOT_)(PASSWORD|PASS|SECRET|TOKEN|_KEY)$")
URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)@")
SHORTEST_MASKED_IN_TEXT = 4  # a shorter "secret" would garble ordinary log text wherever it appears
SQL_PASSWORD = re.compile(r"((?:IDENTIFIED BY|PASSWORD) )'((?:[^'\\]|\\.|'')*)'")


def _decoded(value: str) -> dict | None:
    try:
        return json.loads(base64.b64decode(value))
    except ValueError:
        return None


def _secret_fields(relationships: dict) -> Iterator[tuple[dict, str]]:
    """Each (mapping, key) of decoded PLATFORM_RELATIONSHIPS that holds a secret: passwords and API tokens."""
    for endpoints in relationships.values():
        for endpoint in endpoints:
            for holder, key in ((endpoint, "password"), (endpoint.get("query"), "api_token")):
                if isinstance(holder, dict) and holder.get(key):
                    yield holder, key


def mask_relationships(relationships: dict) -> dict:
    """Decoded PLATFORM_RELATIONSHIPS with every secret replaced by the mask (changed in place)."""
    for holder, key in list(_secret_fields(relationships)):
        holder[key] = MASK
    return relationships


def _mask_relationships(value: str) -> str:
    decoded = _decoded(value)
    return MASK if decoded is None else encode(mask_relationships(decoded))


def mask_env(env: dict[str, str]) -> dict[str, str]:
    masked = {}
    for name, value in env.items():
        if name == "PLATFORM_RELATIONSHIPS":
            masked[name] = _mask_relationships(value)
        elif SECRET_NAME.search(name) and value:
            masked[name] = MASK
        elif name == "ORCHESTRATOR_INIT_SQL":
            masked[name] = SQL_PASSWORD.sub(lambda m: f"{m.group(1)}'{MASK}'", value)
        else:
            masked[name] = URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}@", value)
    return masked


def secret_values(env: dict[str, str]) -> set[str]:
    """The values `mask_env` hides, so they can be hidden wherever else they turn up (an app that logs
    its database URL, say)."""
    found: set[str] = set()
    for name, value in env.items():
        if name == "PLATFORM_RELATIONSHIPS":
            found.update(str(holder[key]) for holder, key in _secret_fields(_decoded(value) or {}))
        elif SECRET_NAME.search(name) and value:
            found.add(value)
        elif name == "ORCHESTRATOR_INIT_SQL":  # every endpoint's password, as the server may log a statement
            for match in SQL_PASSWORD.finditer(value):
                found.update((match.group(2), _sql_unquote(match.group(2))))  # as written, and as the server has it
        else:
            found.update(match.group(2) for match in URL_PASSWORD.finditer(value))
    return {value for value in found if len(value) >= SHORTEST_MASKED_IN_TEXT}


def _sql_unquote(quoted: str) -> str:
    return re.sub(r"\\(.)|''", lambda m: m.group(1) or "'", quoted)


def mask_text(text: str, values: set[str]) -> str:
    """`text` with every occurrence of each secret value replaced by the mask (longest first, so a secret
    that contains another is hidden whole)."""
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, MASK)
    return text


def mask_plan(plan: Plan) -> Plan:
    def masked(spec: ContainerSpec) -> ContainerSpec:
        return replace(spec, env=mask_env(spec.env))
    return replace(plan, instances=tuple(masked(spec) for spec in plan.instances))
