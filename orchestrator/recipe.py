"""The recipe of every image orchestrator makes, as plain data and text: no engine, no I/O but reading
the templates. `images` builds with it on the engine; `export.compose` writes the same recipe out as
Dockerfiles; so an app gets the same system files, global dependencies, build steps and build-time
variables either way, and the exporter needs no Docker SDK.

An app image is its runtime's base image, plus the system part (`system_files`: the init, `sv`, the cron
scheduler, the PHP-FPM and `.environment` wrappers, installed by prepare.sh with the app's global
`dependencies` and PHP extensions), plus the app's build (`app_build_files`: build.sh runs the build
flavor's steps and the build hook with the build-time variables, then deletes them). Where no registry
gives a base or service image, `templates/stand-ins.yaml` says what to build from Debian's archive.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from string import Template

from orchestrator import identity
from orchestrator.catalog import php_extensions, read_template, templates_dir
from orchestrator.plan import APP_DIR, ImageBuild

APP_ENV = "orchestrator-env"  # runs a command as the app's user with its .environment sourced (templates/runtime)
# what `ssh` runs: a login shell in the app dir, as the app's user, with .environment sourced
LOGIN_SHELL = ("cd /app 2>/dev/null; if command -v bash >/dev/null 2>&1; then exec orchestrator-env bash -l; "
               "else exec orchestrator-env sh -l; fi")
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")  # the host's extra CA certificates, carried into builds
ROUTER_BASE = "debian:bookworm-slim"  # the router's base in a Compose export


# -- stand-ins (templates/stand-ins.yaml) -------------------------------------------------------------
@dataclass(frozen=True)
class RuntimeStandIn:
    packages: str  # the runtime's own Debian packages and the tools every runtime stand-in carries
    dockerfile_extra: str  # an extra Dockerfile line


@lru_cache(maxsize=None)
def _stand_ins() -> dict:
    return read_template("stand-ins.yaml")


def runtime_stand_in(runtime: str) -> RuntimeStandIn | None:
    """What a local stand-in of `runtime` installs; None when there is none."""
    entry = _stand_ins()["runtimes"].get(runtime)
    if entry is None:
        return None
    return RuntimeStandIn(f"{entry['packages']} {_stand_ins()['runtime_tools']}", entry.get("dockerfile", ""))


def service_stand_in(service_type: str) -> tuple[str, str] | None:
    """(folder under templates/services, the version it provides) of a service type's stand-in, or None."""
    entry = _stand_ins()["services"].get(service_type)
    return (entry["template"], str(entry["version"])) if entry else None


def runtime_stand_in_dockerfile(base: str, stand_in: RuntimeStandIn) -> str:
    template = Template((templates_dir() / "runtime" / "stand-in.Dockerfile").read_text())
    return template.substitute(base_image=base, packages=stand_in.packages, extra=stand_in.dockerfile_extra)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def stand_in_release(runtime: str, version: str) -> tuple[str, str]:
    """(Debian release, the runtime version it carries) nearest to `version`: exact where a release has it;
    otherwise the smallest distance, counted in minor versions within a major and majors between."""
    wanted = _version_key(version)

    def distance(candidate: str) -> tuple[int, int, tuple[int, ...]]:
        have = _version_key(candidate)
        major = abs(have[0] - wanted[0])
        minor = abs((have[1] if len(have) > 1 else 0) - (wanted[1] if len(wanted) > 1 else 0))
        return (major, minor if major == 0 else 0, tuple(-part for part in have))  # ties: the newer

    releases_by_age = _stand_ins()["debian_releases"]
    releases = [(release, str(versions[runtime])) for release, versions in releases_by_age.items()
                if runtime in versions]
    age = {release: -position for position, release in enumerate(releases_by_age)}  # the newer first
    return min(releases, key=lambda item: (distance(item[1]), age[item[0]]))


# -- an app's image -------------------------------------------------------------------------------------
def extension_names(entries: object) -> list[str]:
    """`runtime.extensions` as names: each entry is a name, or a mapping with `name` (and configuration)."""
    names = []
    for entry in entries if isinstance(entries, list) else []:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if isinstance(name, str) and name.strip():
            names.append(name.strip().lower())
    return names


def php_extension_problems(build: ImageBuild) -> list[str]:
    """Extensions of a PHP app that no local image can have; empty when every one can be had."""
    if build.runtime != "php":
        return []
    known = php_extensions()
    wanted = extension_names(build.runtime_options.get("extensions"))
    return [f"app {build.app}: PHP extension '{name}' (runtime.extensions) cannot be had here: no Debian package "
            "brings it; remove it or map an image that has it with --images"
            for name in wanted if name not in known.included and name not in known.packages
            and name not in known.agents]


def php_extension_steps(build: ImageBuild) -> list[str]:
    """Shell lines installing `runtime.extensions` (Debian's packages) and disabling `disabled_extensions`."""
    if build.runtime != "php":
        return []
    known = php_extensions()
    packages = sorted({known.packages[n] for n in extension_names(build.runtime_options.get("extensions"))
                       if n in known.packages})
    disabled = extension_names(build.runtime_options.get("disabled_extensions"))
    steps = []
    if packages:
        steps.append("echo 'orchestrator: installing PHP extensions: " + " ".join(packages) + "'")
        steps.append("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
                     "--no-install-recommends " + " ".join(shlex.quote(p) for p in packages)
                     + " >/dev/null && rm -rf /var/lib/apt/lists/*")
    for name in disabled:
        steps.append(f"phpdismod -v ALL -s ALL {shlex.quote(name)} 2>/dev/null "
                     f"|| echo 'orchestrator: PHP extension {name} is compiled in; it cannot be disabled here'")
    return steps


def system_dependency_script(build: ImageBuild) -> str:
    """Shell lines, run as root in the app's system image, that install its PHP extensions and global
    `dependencies` (they change the system, never the app dir)."""
    steps = php_extension_steps(build)
    python_deps = {**build.dependencies.get("python", {}), **build.dependencies.get("python3", {})}
    if python_deps:
        specs = " ".join(shlex.quote(_pip_spec(name, c)) for name, c in sorted(python_deps.items()))
        steps.append(f"python3 -m pip install --no-cache-dir {specs}")
    node_deps = build.dependencies.get("nodejs", {})
    if node_deps:
        specs = " ".join(shlex.quote(f"{n}@{c}" if c not in ("*", "") else n) for n, c in sorted(node_deps.items()))
        steps.append(f"npm install -g {specs}")
    return "\n".join(steps) + "\n" if steps else ""


def flavor_script(build: ImageBuild) -> str:
    """The build flavor's steps, run from /app as the app's user before the build hook."""
    steps = []
    if build.flavor in (None, "default") and build.runtime == "nodejs":
        steps.append("if [ -f package.json ]; then npm prune && npm install; fi")
    if build.flavor in (None, "composer") and build.runtime == "php":
        steps.append("if [ -f composer.json ]; then composer --no-ansi --no-interaction install --no-progress "
                     "--prefer-dist --optimize-autoloader; fi")
    return "\n".join(steps) + "\n" if steps else ""


IMAGE_ENV = {"REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
             "LANG": "C.UTF-8", "HOME": APP_DIR}
"""What an app image keeps in its environment: what the runtime needs, never a build-time variable."""
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def build_env_file(build: ImageBuild) -> str:
    """The build-time variables as shell assignments: build.sh exports them for the build and deletes the
    file, so they exist during the build only (names a shell cannot export are left out)."""
    return "".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(build.build_env.items())
                   if _SHELL_NAME.fullmatch(name))


def _pip_spec(name: str, constraint: str) -> str:
    constraint = constraint.strip()
    if constraint in ("*", ""):
        return name
    if constraint[0].isdigit():
        return f"{name}=={constraint}"
    return f"{name}{constraint}"


SYSTEM_FILES = ("prepare.sh", "orchestrator-init", "sv", "orchestrator-cron", "orchestrator-php-fpm",
                "orchestrator-env")
"""What every app's system image gets from `templates/runtime/`; prepare.sh installs them."""
SYSTEM_DIR = "/opt/orchestrator"
BUILD_COMMAND = ["/bin/sh", f"{APP_DIR}/.orchestrator/build.sh"]


def system_files(build: ImageBuild) -> dict[str, bytes]:
    """The files of an app's system image, by name: the runtime's tools, the script installing them with
    the app's global dependencies, and the host's extra CA certificates (`ca/NAME.crt`)."""
    runtime = templates_dir() / "runtime"
    files = {name: (runtime / name).read_bytes() for name in SYSTEM_FILES}
    dependencies = system_dependency_script(build)
    if dependencies:
        files["system-dependencies.sh"] = dependencies.encode()
    if HOST_CA_DIR.is_dir():
        for certificate in sorted(HOST_CA_DIR.glob("*.crt")):
            files[f"ca/{certificate.name}"] = certificate.read_bytes()
    return files


def app_build_files(build: ImageBuild) -> dict[str, bytes]:
    """The files of the app's build, by name under `/app/.orchestrator/`: the build script, the build-time
    variables, the flavor's steps and the build hook."""
    files = {"build.sh": (templates_dir() / "runtime" / "build.sh").read_bytes(),
             "build-env": build_env_file(build).encode()}
    flavor = flavor_script(build)
    if flavor:
        files["flavor.sh"] = flavor.encode()
    if build.build_hook:
        files["build-hook.sh"] = build.build_hook.encode()
    return files


# -- the same recipe as Dockerfiles (the Compose export) ------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def dockerfile(build: ImageBuild) -> str:
    """A Dockerfile that needs nothing but the app's source as its context: the system part (prepare.sh)
    and the app's build (build.sh) in one RUN. The build files (build-time variables included) are
    written and build.sh deletes them within that RUN, so no layer keeps them; Compose's builder has no
    cache volume, so PLATFORM_CACHE_DIR starts empty there. The host's CA certificates are not carried."""
    files = {name: data for name, data in {**system_files(build), **app_build_files(build)}.items()
             if not name.startswith("ca/")}
    writes = " && ".join(f"echo {_b64(data)} | base64 -d > {name}" for name, data in files.items())
    lines = [
        f"# Image of app {build.app}, generated by `orchestrator compose`; the build context is the app's source.",
        f"ARG BASE_IMAGE={build.base_image or 'debian:bookworm-slim'}",
        "FROM ${BASE_IMAGE}",
        "ENV " + " \\\n    ".join(f"{k}={json.dumps(v)}" for k, v in sorted(IMAGE_ENV.items())),
        "COPY . /app/",
        f"RUN mkdir -p /app/.orchestrator && cd /app/.orchestrator && {writes} "
        "&& sh /app/.orchestrator/prepare.sh && sh /app/.orchestrator/build.sh",
        "WORKDIR /app",
        f'LABEL "{identity.IMAGE_APP}"={json.dumps(build.app)}',
    ]
    return "\n".join(lines) + "\n"


def router_dockerfile() -> str:
    """The router's image: Debian's nginx and openssl, and the entrypoint of templates/router inline."""
    entrypoint = (templates_dir() / "router" / "entrypoint.sh").read_bytes()
    return "\n".join([
        "# The project's router, generated by `orchestrator compose`.",
        f"ARG BASE_IMAGE={ROUTER_BASE}",
        "FROM ${BASE_IMAGE}",
        "RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx "
        "openssl && apt-get clean && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* "
        f"&& echo {_b64(entrypoint)} | base64 -d > /usr/local/bin/orchestrator-router "
        "&& chmod 0755 /usr/local/bin/orchestrator-router",
        "ENTRYPOINT [\"/usr/local/bin/orchestrator-router\"]",
    ]) + "\n"
