"""Every image a deploy needs: resolve base and service images, and build each app's image once.

Resolution order for a base or service image: the image map (`--images FILE` / `$ORCHESTRATOR_IMAGES`,
YAML `name: image`, keyed by the official image or the platform type) -> already on the engine -> pull
-> a local stand-in built from the host's Debian package archive (debootstrap into a folder, import it,
then install the runtime's or server's packages), cached by tag so that happens once per machine.
A stand-in whose version differs from the configured one is used with a warning naming both.

App images are built from the app's source (`.dockerignore` honoured) with the rendered Dockerfile in
`templates/runtime/`; the tag comes from the plan (config + source digest), so an unchanged app is
never rebuilt, and web and every worker run the same image id.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import yaml

from orchestrator import identity, names, source
from orchestrator.catalog import templates_dir
from orchestrator.engine import Engine
from orchestrator.errors import OrchestratorError
from orchestrator.plan import ImageBuild
from orchestrator.platform_env import APP_DIR, BUILD_CACHE_DIR
from orchestrator.recipe import (BUILD_COMMAND, HOST_CA_DIR, IMAGE_ENV, SYSTEM_DIR, app_build_files,
                                 runtime_stand_in, runtime_stand_in_dockerfile, service_stand_in, stand_in_release,
                                 system_files)
from orchestrator.progress import Reporter
from orchestrator.state import state_dir

DEBIAN_SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))
PULL_RETRY_SECONDS = 3600

@dataclass
class Resolution:
    """An image ready on the engine, and what to tell the user about how it was chosen."""

    ref: str
    note: str = ""


def load_image_map(path: str | None) -> dict[str, str]:
    chosen = path or os.environ.get("ORCHESTRATOR_IMAGES")
    if not chosen:
        return {}
    try:
        data = yaml.safe_load(Path(chosen).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise OrchestratorError(f"cannot read the image map {chosen}: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise OrchestratorError(f"the image map {chosen} must be a YAML mapping of name to image")
    return data


def debian_mirror_and_suite() -> tuple[str, str]:
    """The host's Debian mirror and suite, read from its apt sources (never written into the repo)."""
    for path in DEBIAN_SOURCES:
        if not path.is_file():
            continue
        uri = suite = None
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if line.startswith("URIs:") and uri is None:
                uri = line.split()[1]
            elif line.startswith("Suites:") and suite is None:
                suite = line.split()[1]
            elif line.startswith("deb ") and uri is None:
                parts = line.split()
                uri, suite = parts[1], parts[2]
            if uri and suite:
                return uri, suite
    raise OrchestratorError("no Debian archive found in the host's apt sources; cannot build local stand-in images",)


@dataclass
class ImageResolver:
    """Finds or makes the images a plan needs; remembers what it did for this run."""

    engine: Engine
    reporter: Reporter
    image_map: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _cache: dict[str, Resolution] = field(default_factory=dict)

    def _available(self, ref: str, *aliases: str) -> Resolution | None:
        for key in (ref, *aliases):
            if key in self.image_map:
                mapped = self.image_map[key]
                if self.engine.image_id(mapped) or self.engine.pull(mapped):
                    return Resolution(mapped, f"{ref}: using {mapped} from the image map")
                raise OrchestratorError(f"the image map names {mapped} for {key}, but it is neither on the engine "
                                        "nor pullable")
        if self.engine.image_id(ref):
            return Resolution(ref)
        if self._recently_failed(ref):
            return None
        if self.engine.pull(ref):
            self.reporter.step(f"pulled {ref}")
            return Resolution(ref)
        self._remember_failure(ref)
        return None

    def _failures_file(self) -> Path:
        return state_dir() / "pull-failures.json"

    def _recently_failed(self, ref: str) -> bool:
        """A pull that failed within PULL_RETRY_SECONDS is not tried again (no registry here, most likely)."""
        try:
            failures = json.loads(self._failures_file().read_text())
        except (OSError, ValueError):
            return False
        return time.time() - failures.get(ref, 0) < PULL_RETRY_SECONDS

    def _remember_failure(self, ref: str) -> None:
        path = self._failures_file()
        try:
            failures = json.loads(path.read_text())
        except (OSError, ValueError):
            failures = {}
        failures[ref] = time.time()
        path.write_text(json.dumps(failures, sort_keys=True))

    def runtime_base(self, runtime: str, version: str, official: str | None) -> Resolution:
        key = f"runtime:{runtime}:{version}"
        if key not in self._cache:
            found = self._available(official, f"{runtime}:{version}") if official else None
            if found is None and f"{runtime}:{version}" in self.image_map:
                found = self._available(self.image_map[f"{runtime}:{version}"])
            self._cache[key] = found or self._runtime_stand_in(runtime, version, official)
            self._note(self._cache[key].note)
        return self._cache[key]

    def service_image(self, service_type: str, version: str, official: str) -> Resolution:
        key = f"service:{service_type}:{version}"
        if key not in self._cache:
            found = self._available(official, f"{service_type}:{version}")
            self._cache[key] = found or self._service_stand_in(service_type, version, official)
            self._note(self._cache[key].note)
        return self._cache[key]

    def _note(self, note: str) -> None:
        """Tell the user now (not after every build succeeded) how an image was chosen; once each."""
        if note and note not in self.notes:
            self.notes.append(note)
            self.reporter.step(f"note: {note}")

    # -- stand-ins ----------------------------------------------------------------------------------
    def debian_base(self, release: str | None = None) -> str:
        """The Debian base image of `release` (default: the host's own), debootstrapped once per machine."""
        mirror, host_suite = debian_mirror_and_suite()
        suite = release or host_suite
        ref = f"orchestrator/debian-base:{suite}"
        if self.engine.image_id(ref):
            return ref
        if os.geteuid() != 0:
            raise OrchestratorError("building the local base image needs root (debootstrap); run "
                                    "`sudo orchestrator images prepare` once, or map the images with --images")
        if shutil.which("debootstrap") is None:
            raise OrchestratorError("no registry answered and debootstrap is not installed; install it "
                                    "(apt-get install debootstrap) or map the images with --images")
        with self.reporter.working(f"building the local base image {ref} from Debian {suite} (once per machine)"):
            workdir = Path(tempfile.mkdtemp(prefix="orchestrator-rootfs-", dir="/var/tmp"))
            rootfs = workdir / "rootfs"
            try:
                log = workdir / "debootstrap.log"
                with open(log, "w") as handle:
                    result = subprocess.run(
                        ["debootstrap", "--variant=minbase", "--include=python3,ca-certificates,procps",
                         suite, str(rootfs), mirror], stdout=handle, stderr=subprocess.STDOUT)
                if result.returncode != 0:
                    tail = log.read_text(errors="replace").splitlines()[-15:]
                    raise OrchestratorError("debootstrap failed:\n  " + "\n  ".join(tail))
                certificates = sorted(HOST_CA_DIR.glob("*.crt")) if HOST_CA_DIR.is_dir() else []
                for certificate in certificates:
                    shutil.copy(certificate, rootfs / "usr/local/share/ca-certificates" / certificate.name)
                if certificates:
                    subprocess.run(["chroot", str(rootfs), "update-ca-certificates"], capture_output=True)
                subprocess.run(["chroot", str(rootfs), "apt-get", "clean"], capture_output=True)
                for junk in ("var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale"):
                    shutil.rmtree(rootfs / junk, ignore_errors=True)
                (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
                tar_path = workdir / "rootfs.tar"
                subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar_path), "."], check=True)
                self.engine.import_rootfs(str(tar_path), ref, [
                    "ENV LANG=C.UTF-8 REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt",
                    f"LABEL {identity.STAND_IN}=debian-base", 'CMD ["bash"]'])
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
        return ref

    def _build_stand_in(self, ref: str, dockerfile: str, files: dict[str, bytes], label: str) -> None:
        context = _tar({"Dockerfile": dockerfile.encode(), **files})
        with self.reporter.working(f"building the local stand-in {ref}"):
            self.engine.build(context, ref, {identity.STAND_IN: label}, self.reporter.detail)

    def _runtime_stand_in(self, runtime: str, version: str, official: str | None) -> Resolution:
        stand_in = runtime_stand_in(runtime)
        if stand_in is None:
            raise OrchestratorError(f"no image for runtime {runtime}:{version}: {official or 'no official image'} "
                                    "cannot be pulled and there is no local stand-in for it; map one with --images")
        release, debian_version = stand_in_release(runtime, version)
        note = "" if debian_version == version else (
            f"{runtime}:{version}: {official or 'its image'} cannot be pulled here; using Debian {release}'s "
            f"{runtime} {debian_version} instead of {version} (an app that names {runtime}{version} may fail to "
            f"build; map an image of {runtime} {version} with --images FILE, key '{runtime}:{version}')")
        self._note(note)  # said before anything is built, so it is on screen when a build fails for it
        base = self.debian_base(release)
        dockerfile = runtime_stand_in_dockerfile(base, stand_in)
        ref = f"orchestrator/stand-in-{runtime}:{debian_version}-{release}-{_short_digest(dockerfile.encode())}"
        if not self.engine.image_id(ref):
            self._build_stand_in(ref, dockerfile, {}, f"{runtime}:{debian_version}")
        return Resolution(ref, note)

    def _service_stand_in(self, service_type: str, version: str, official: str) -> Resolution:
        stand_in = service_stand_in(service_type)
        if stand_in is None:
            raise OrchestratorError(f"no image for service {service_type}:{version}: {official} cannot be pulled "
                                    "and there is no local stand-in for it; map one with --images")
        name, debian_version = stand_in
        ref = self._from_template(templates_dir() / "services" / name, f"orchestrator/stand-in-{name}",
                                  debian_version, f"{name}:{debian_version}")
        note = "" if debian_version == version else (
            f"{service_type}:{version}: {official} cannot be pulled here; using Debian's {name} {debian_version} "
            f"({ref}) instead of {version}")
        return Resolution(ref, note)

    def router_image(self) -> Resolution:
        """The router's image (templates/router: Debian's nginx and openssl), built once per template."""
        if "router" not in self._cache:
            self._cache["router"] = Resolution(self._from_template(templates_dir() / "router", "orchestrator/router",
                                                                   "nginx", "router"))
        return self._cache["router"]

    def _from_template(self, folder: Path, repository: str, version: str, label: str) -> str:
        """An image built FROM the Debian base with `folder`'s Dockerfile and files, tagged by their digest."""
        base = self.debian_base()
        dockerfile = Template((folder / "Dockerfile").read_text()).substitute(base_image=base)
        files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "Dockerfile"}
        content = dockerfile.encode() + b"".join(k.encode() + v for k, v in sorted(files.items()))
        ref = f"{repository}:{version}-{base.split(':')[1]}-{_short_digest(content)}"
        if not self.engine.image_id(ref):
            self._build_stand_in(ref, dockerfile, files, label)
        return ref


def _short_digest(content: bytes) -> str:
    """Part of a stand-in's tag: a changed template gives a new tag, so it is rebuilt, not reused stale."""
    return hashlib.sha256(content).hexdigest()[:8]


def _tar(files: dict[str, bytes], modes: dict[str, int] | None = None) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mode = (modes or {}).get(name, 0o755 if name.endswith(".sh") or "init" in name else 0o644)
            archive.addfile(info, io.BytesIO(files[name]))
    buffer.seek(0)
    return buffer


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    """As COPY does: the source belongs to root in the image, whoever owns it on the host."""
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _add_files(archive: tarfile.TarFile, prefix: str, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        info = tarfile.TarInfo(f"{prefix}/{name}")
        info.size = len(data)
        info.mode = 0o755 if name.endswith(".sh") or "/" not in name and name.startswith(("orchestrator-", "sv")) \
            else 0o644
        archive.addfile(info, io.BytesIO(data))


def system_context(build: ImageBuild) -> bytes:
    """A tar to unpack at /: the system image's files under SYSTEM_DIR."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        _add_files(archive, SYSTEM_DIR.strip("/"), system_files(build))
    return buffer.getvalue()


def build_context(build: ImageBuild, project_root: Path) -> io.BytesIO:
    """A tar to unpack at /: the app's source under /app (`.dockerignore` honoured) with the build's files
    in /app/.orchestrator."""
    app_root = (project_root / build.context).resolve()
    prefix = APP_DIR.strip("/")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        folder = tarfile.TarInfo(prefix)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(folder)
        _add_files(archive, f"{prefix}/.orchestrator", app_build_files(build))
        for rel, path in source.list_files(app_root):
            if not rel.startswith(".orchestrator/"):
                archive.add(str(path), arcname=f"{prefix}/{rel}", recursive=False, filter=_root_owned)
    buffer.seek(0)
    return buffer


def _restored_entrypoint(engine: Engine, base_ref: str) -> list[str]:
    config = engine.image_config(base_ref)
    return [f"WORKDIR {APP_DIR}", f"ENTRYPOINT {json.dumps(config.get('Entrypoint') or [])}",
            f"CMD {json.dumps(config.get('Cmd') or ['/bin/sh'])}"]


def system_image(engine: Engine, build: ImageBuild, base: Resolution, reporter: Reporter, project: str) -> str:
    """The app's system image (base + prepare.sh): made by a commit, slow on some storage drivers, so
    tagged by its inputs alone and shared by every app and project with the same base, global
    dependencies and runtime tools; remade only when one of those changes."""
    context = system_context(build)
    base_id = engine.image_id(base.ref) or base.ref
    ref = f"orchestrator/system-{names.safe(build.runtime)}:{_short_digest(base_id.encode() + context)}"
    if engine.image_id(ref):
        return ref
    with reporter.working(f"preparing the system image {ref} (from {base.ref}; once per base and global "
                          "dependencies)"):
        engine.build_in_container(
            name=names.join(project, names.safe(build.app), "system"), base=base.ref, context=context,
            command=["/bin/sh", f"{SYSTEM_DIR}/prepare.sh"], env=IMAGE_ENV, labels={identity.SYSTEM: build.runtime},
            volumes=[], tag=ref, on_line=reporter.detail, changes=_restored_entrypoint(engine, base.ref))
    return ref


def build_app_image(engine: Engine, resolver: ImageResolver, build: ImageBuild, project_root: Path,
                    reporter: Reporter, project: str, force: bool = False) -> str:
    """The app's image id, building it only when its tag is missing or its base image changed.

    The build runs in a container of the app's system image, with /app in a volume of its own and the
    app's build cache volume at PLATFORM_CACHE_DIR (kept from one build to the next, as on the platform);
    the image is the system image plus one layer, /app: the build-time variables and the cache never
    enter it."""
    base = resolver.runtime_base(build.runtime, build.version, build.base_image)
    base_id = engine.image_id(base.ref) or base.ref
    existing = engine.image_id(build.image)
    found = engine.image_labels(build.image) if existing else {}
    # an image made before identity labels left images carries one: rebuild it, or its containers look ours
    if existing and not force and found.get(identity.BASE) == base_id and identity.PROJECT not in found:
        return existing
    system = system_image(engine, build, base, reporter, project)
    labels = {identity.BASE: base_id, identity.IMAGE_APP: build.app, identity.IMAGE_PROJECT: project}
    with reporter.working(f"building image {build.image} for app {build.app} (from {base.ref})"):
        engine.ensure_volume(build.cache_volume, build.cache_labels)
        return engine.build_in_container(
            name=names.join(project, names.safe(build.app), "build"), base=system,
            context=build_context(build, project_root), command=BUILD_COMMAND, env=IMAGE_ENV, labels=labels,
            volumes=[(build.cache_volume, BUILD_CACHE_DIR)], tag=build.image, on_line=reporter.detail,
            layer_of=APP_DIR)


def prune_app_images(engine: Engine, project: str, keep_previous: bool = True) -> list[str]:
    """Remove the project's old app images: per app, every image but the ones containers use (the running
    one) and, with `keep_previous`, the newest other one (by creation time: what a rollback by hand or
    an edit undone would need); `down --volumes` passes False and so removes every image no container
    uses. An image a container uses (of any project, running or not) is never removed, and the engine
    refuses it anyway. Never fails the command that calls it: what it could not remove stays for the next
    time. Returns the removed images' ids."""
    removed: list[str] = []
    try:
        found = [image for image in engine.labelled_images(identity.label_filter(identity.IMAGE_PROJECT, project))
                 if image["labels"].get(identity.IMAGE_PROJECT) == project and image["labels"].get(identity.IMAGE_APP)]
        if not found:
            return removed
        used = engine.images_in_use()
        by_app: dict[str, list[dict]] = {}
        for image in found:
            by_app.setdefault(image["labels"][identity.IMAGE_APP], []).append(image)
        for images in by_app.values():
            spare = sorted((image for image in images if image["id"] not in used),
                           key=lambda image: (image["created"], image["id"]))
            if keep_previous and spare:
                spare.pop()  # the previous one: the newest the app's containers do not use
            for image in spare:
                if all([engine.remove_unused_image(ref) for ref in image["tags"] or [image["id"]]]):
                    removed.append(image["id"])
    except OrchestratorError:  # the engine refused or went away: the images stay until the next up or down
        pass
    return removed
