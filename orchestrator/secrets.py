"""Masking of secrets in what the tool prints: passwords live in containers, never in the output of
`plan`, `relationships` or `logs` (unless `--show-secrets`).

The masked plan keeps its shape: `PLATFORM_RELATIONSHIPS` stays decodable base64 JSON with each
password replaced, so a masked plan is still a faithful picture of everything else.

In text (log lines, hook output) a secret also hides in encoded form: a process that prints its
environment shows `PLATFORM_RELATIONSHIPS=eyJ...`, which `base64 -d` turns back into every password.
So `secret_values` gives, besides each password, the whole value of every variable that carries a secret
in any form (`PLATFORM_RELATIONSHIPS` with a password, `PLATFORM_PROJECT_ENTROPY`, any other base64
JSON holding a secret, the init SQL) and the base64 of each password as it sits inside such a blob, at
each of the three byte alignments, so a piece of a blob (a line cut by the engine, a substring) does not
give it away either.
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
BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
ALWAYS_SECRET = ("PLATFORM_PROJECT_ENTROPY",)  # the platform's secret seed: apps derive their own keys from it
SHORTEST_ENCODED_IN_TEXT = 8  # a password's base64 inside a blob, shorter than this, would match by chance


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
        elif (SECRET_NAME.search(name) or name in ALWAYS_SECRET) and value:
            masked[name] = MASK
        elif name == "ORCHESTRATOR_INIT_SQL":
            masked[name] = SQL_PASSWORD.sub(lambda m: f"{m.group(1)}'{MASK}'", value)
        else:
            masked[name] = URL_PASSWORD.sub(lambda m: f"{m.group(1)}{MASK}@", value)
    return masked


def _strict_decoded(value: str) -> object | None:
    """`value` as base64 JSON (strictly: a plain word that happens to decode is not taken), else None."""
    if len(value) < 4 or len(value) % 4 or not BASE64.fullmatch(value):
        return None
    try:
        return json.loads(base64.b64decode(value, validate=True))
    except ValueError:
        return None


def _json_secrets(value: object) -> Iterator[str]:
    """Each non-empty value under a secret-looking key (`password`, `api_token`, `env:API_KEY`,
    `django:secret_key`...) anywhere in decoded JSON."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (str, int, float)) and not isinstance(item, bool) and str(item) and \
                    (str(key).lower() in ("password", "api_token") or SECRET_NAME.search(str(key).upper())):
                yield str(item)
            else:
                yield from _json_secrets(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_secrets(item)


def carries_secret(name: str, value: str) -> bool:
    """Whether the variable holds a secret in any form: as itself, in a URL, in SQL or inside base64
    JSON. What the Compose export keeps out of its file, and what `secret_values` hides whole."""
    if not value:
        return False
    if name in ALWAYS_SECRET or SECRET_NAME.search(name):
        return True
    if name == "ORCHESTRATOR_INIT_SQL":
        return any(match.group(2) for match in SQL_PASSWORD.finditer(value))
    if URL_PASSWORD.search(value):
        return True
    decoded = _strict_decoded(value)
    return decoded is not None and any(_json_secrets(decoded))


def _encoded_forms(secret: str) -> set[str]:
    """The base64 characters that encode `secret` (as JSON writes it) inside any longer base64 text, at
    each of the three byte alignments: what a piece of a blob still shows of it."""
    forms = set()
    for text in {secret, json.dumps(secret)[1:-1]}:
        data = text.encode("utf-8")
        for offset in range(3):
            encoded = base64.b64encode(b"\0" * offset + data).decode("ascii")
            first, end = -(-8 * offset // 6), 8 * (offset + len(data)) // 6  # characters made of its bits only
            if end - first >= SHORTEST_ENCODED_IN_TEXT:
                forms.add(encoded[first:end])
    return forms


def secret_values(env: dict[str, str]) -> set[str]:
    """What to hide wherever it turns up in text (an app that logs its database URL, a worker that prints
    its environment): each password (alone, in a URL, in the init SQL, inside base64 JSON), the whole
    value of every variable that carries one in any form (`carries_secret`: the base64 blobs, the
    project entropy), and the base64 of each password as a piece of a blob shows it."""
    found: set[str] = set()
    passwords: set[str] = set()
    for name, value in env.items():
        if name == "PLATFORM_RELATIONSHIPS":
            passwords.update(str(holder[key]) for holder, key in _secret_fields(_decoded(value) or {}))
        elif SECRET_NAME.search(name) and value:
            passwords.add(value)
        elif name == "ORCHESTRATOR_INIT_SQL":  # every endpoint's password, as the server may log a statement
            for match in SQL_PASSWORD.finditer(value):
                passwords.update((match.group(2), _sql_unquote(match.group(2))))  # as written, and as the server has it
        else:
            passwords.update(match.group(2) for match in URL_PASSWORD.finditer(value))
            decoded = _strict_decoded(value)
            if decoded is not None:
                passwords.update(_json_secrets(decoded))
        if carries_secret(name, value) and not URL_PASSWORD.search(value):
            found.add(value)  # whole: a URL keeps its host and user (its password is masked inside it)
    passwords = {value for value in passwords if len(value) >= SHORTEST_MASKED_IN_TEXT}
    found |= passwords
    for password in passwords:
        found |= _encoded_forms(password)
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
