"""The platform's runtime and build-time environment of an app: every `PLATFORM_*` variable in one place.

An app reads its deployment through these variables (`PLATFORM_RELATIONSHIPS`, `PLATFORM_ROUTES`,
`PLATFORM_VARIABLES`, ...), so they must have the platform's names and shapes, and each must change
exactly when what it describes changes (a changed variable recreates the instance). The translator asks
this module for them; the web layer's variables (`PORT`/`SOCKET`, the nginx config) stay with it.
Pure: the same config, environment and credentials give the same variables.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from orchestrator.config.model import App, InstanceSettings, Project
from orchestrator.config.variables import env_names
from orchestrator.crons import crons_env
from orchestrator.identity import InstanceRef
from orchestrator.platform_routes import routes_json
from orchestrator.relationships import Credentials, encode, relationship_env, relationships_json

APP_DIR = "/app"
BUILD_CACHE_DIR = "/tmp/cache"  # PLATFORM_CACHE_DIR during a build (a volume kept across builds)


@dataclass(frozen=True)
class Environment:
    """Which environment is being deployed: the git branch, its type and the default route domain."""

    name: str
    type: str = "development"
    domain: str = ""
    http_port: int = 0  # where the project's router answers on 127.0.0.1 (0: no router)
    https_port: int = 0


@dataclass(frozen=True)
class Commands:
    """An instance's start command and the ones around it, as the init runs them."""

    start: str | None
    pre_start: str | None = None
    post_start: str | None = None


def project_entropy(project: str) -> str:
    """PLATFORM_PROJECT_ENTROPY: stable per project, the same at build time and at run time."""
    return hashlib.sha224(f"orchestrator:{project}".encode()).hexdigest()


def env_value(value: Any) -> str:
    """An `env:` variable as the platform exports it: strings as written, everything else as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, ensure_ascii=False)


def application_json(app: App, worker: str | None) -> dict[str, Any]:
    """The app's config for PLATFORM_APPLICATION. `workers` keeps only the instance's own worker (its
    mounts), so adding, changing or removing one worker leaves every other instance's environment alone."""
    raw = dict(app.raw)
    workers = raw.pop("workers", None)
    if worker is not None and isinstance(workers, dict) and isinstance(workers.get(worker), dict):
        raw["workers"] = {worker: {"mounts": workers[worker].get("mounts", {})}}
    return raw


def platform_variables(variables: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """PLATFORM_VARIABLES: every `variables` entry but `env:` ones, as `prefix:name`."""
    return {f"{prefix}:{key}": value for prefix, entries in variables.items() if prefix != "env"
            for key, value in entries.items()}


def php_ini(variables: dict[str, dict[str, Any]]) -> str:
    """`variables.php` as php.ini lines for the PHP-FPM pool (`name=value`, one a line)."""
    values = variables.get("php", {})
    return "\n".join(f"{name}={'1' if value is True else '0' if value is False else value}"
                     for name, value in sorted(values.items()))


def _env_variables(variables: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {name: env_value(value) for name, value in env_names(variables.get("env", {})).items()}


def runtime_env(project: Project, environment: Environment, credentials: Credentials, app: App, ref: InstanceRef,
                settings: InstanceSettings, tree_id: str, commands: Commands) -> dict[str, str]:
    """What an app instance's processes see: the relationships (and on Upsun their `<REL>_*` variables),
    `variables.env`, every PLATFORM_* variable, php.ini values and, on the web instance, its crons."""
    services = {s.name: s for s in project.services}
    apps = {a.name: a for a in project.apps}
    rels = relationships_json(settings.relationships, services, apps, project.name, environment.name, credentials)
    env: dict[str, str] = dict(relationship_env(rels)) if project.layout == "upsun" else {}
    env.update(_env_variables(settings.variables))
    env.update({
        "PLATFORM_APPLICATION_NAME": app.name,
        "PLATFORM_APP_DIR": APP_DIR,
        "PLATFORM_APPLICATION": encode(application_json(app, ref.worker)),
        "PLATFORM_BRANCH": environment.name,
        "PLATFORM_ENVIRONMENT": environment.name,
        "PLATFORM_ENVIRONMENT_TYPE": environment.type,
        "PLATFORM_PROJECT": project.name,
        "PLATFORM_PROJECT_ENTROPY": project_entropy(project.name),
        "PLATFORM_TREE_ID": tree_id,
        "PLATFORM_RELATIONSHIPS": encode(rels),
        "PLATFORM_VARIABLES": encode(platform_variables(settings.variables)),
        "PLATFORM_ROUTES": encode(routes_json(project.routes, environment.domain)),
        "PLATFORM_SMTP_HOST": "",
        "PLATFORM_APP_COMMAND": commands.start or "",
        "PLATFORM_PRE_APP_COMMAND": commands.pre_start or "",
        "PLATFORM_POST_APP_COMMAND": commands.post_start or "",
    })
    if app.runtime.name == "php" and settings.variables.get("php"):
        env["ORCHESTRATOR_PHP_INI"] = php_ini(settings.variables)  # php.ini values, written by the init
    root_location = next((loc for loc in app.web.locations if loc.path == "/"), None)
    env["PLATFORM_DOCUMENT_ROOT"] = f"{APP_DIR}/{root_location.root.strip('/')}".rstrip("/") \
        if root_location and root_location.root else APP_DIR
    if ref.role == "web":  # crons run on the web instance only, as on the platform
        env.update(crons_env(app))
    return env


def build_env(project: Project, app: App, tree_id: str) -> dict[str, str]:
    """What the platform documents at build time; given to the build only, never baked into the image."""
    env = {"PLATFORM_APPLICATION_NAME": app.name, "PLATFORM_APP_DIR": APP_DIR, "PLATFORM_PROJECT": project.name,
           "PLATFORM_TREE_ID": tree_id, "PLATFORM_CACHE_DIR": BUILD_CACHE_DIR, "PLATFORM_OUTPUT_DIR": APP_DIR,
           "PLATFORM_PROJECT_ENTROPY": project_entropy(project.name),
           "PLATFORM_APPLICATION": encode(application_json(app, None)),
           "PLATFORM_VARIABLES": encode(platform_variables(app.settings.variables)),
           **_env_variables(app.settings.variables)}
    return dict(sorted(env.items()))
