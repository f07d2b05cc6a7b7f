"""Find a project's config files in any of the platform's layouts and parse them, keeping line marks.

Layouts:
- Upsun: every `.upsun/*.yaml` (and `.yml`) at the first level, read in name order; `applications`,
  `services` and `routes` are merged per entry, a later file's entry replacing an earlier one whole.
- Platform.sh: `.platform.app.yaml` anywhere in the tree (its directory is the app's default
  `source.root`), and/or `.platform/applications.yaml` (list or mapping form), with
  `.platform/services.yaml` and `.platform/routes.yaml`.

When a project has both, Upsun wins (it is what the platform reads for such a project today) and a
warning says so; `layout="platform"` picks the other. The result is still raw: validation gives it types.

`!include` is read here, per entry: an app written whole in another file is read from the including
file's directory; the includes inside an app from the app's directory (`source.root`), as the platform
reads them; those in services and routes from the including file's directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.config.yaml_source import (MarkedList, MarkedMap, ParseContext, parse_file, read_include,
                                             resolve_includes)
from orchestrator.errors import ConfigProblem

UPSUN_DIR = ".upsun"
PLATFORM_DIR = ".platform"
APP_FILE = ".platform.app.yaml"
UPSUN_TOP_KEYS = ("applications", "services", "routes")
SKIPPED_DIRS = {".git", ".hg", ".svn", "node_modules", "vendor", ".venv", "venv", "__pycache__", ".tox"}
LAYOUTS = ("auto", "upsun", "platform")


@dataclass(frozen=True)
class RawEntry:
    """One named app, service or route as written, with where it was written."""

    name: str
    data: Any
    file: str
    key_prefix: str  # dotted path of `data` inside its file; "" when the file is the entry itself
    line: int
    default_root: str = ""  # apps only: source.root when the config gives none


@dataclass
class RawConfig:
    """Everything the loader found, still untyped; `problems` are errors, `warnings` are not."""

    root: Path
    layout: str
    apps: list[RawEntry] = field(default_factory=list)
    services: list[RawEntry] = field(default_factory=list)
    routes: list[RawEntry] = field(default_factory=list)
    routes_file: str | None = None
    files: list[str] = field(default_factory=list)  # every config file read, in order
    problems: list[ConfigProblem] = field(default_factory=list)
    warnings: list[ConfigProblem] = field(default_factory=list)


def _yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def _find_app_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for current, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        if APP_FILE in files:
            found.append(Path(current) / APP_FILE)
    return found


def choose_layout(root: Path, requested: str = "auto") -> tuple[str | None, list[ConfigProblem]]:
    """Which layout to read, and a warning when the other one is present too."""
    has_upsun = bool(_yaml_files(root / UPSUN_DIR))
    has_platform = (root / PLATFORM_DIR / "applications.yaml").is_file() or bool(_find_app_files(root))
    notes: list[ConfigProblem] = []
    if requested == "upsun":
        return ("upsun" if has_upsun else None), notes
    if requested == "platform":
        return ("platform" if has_platform else None), notes
    if has_upsun and has_platform:
        notes.append(ConfigProblem(UPSUN_DIR, 0, "(layout)",
                                   "both .upsun/ and .platform config are present; reading .upsun/",
                                   "pass --layout platform to read the .platform config instead"))
    if has_upsun:
        return "upsun", notes
    if has_platform:
        return "platform", notes
    return None, notes


def load(root: Path, layout: str = "auto") -> RawConfig:
    """Read the project at `root`; never raises for bad config (problems are collected instead)."""
    chosen, notes = choose_layout(root, layout)
    raw = RawConfig(root=root, layout=chosen or layout, warnings=notes)
    if chosen is None:
        wanted = {"upsun": ".upsun/*.yaml", "platform": ".platform.app.yaml or .platform/applications.yaml"}
        what = wanted.get(layout, ".upsun/*.yaml, .platform.app.yaml or .platform/applications.yaml")
        raw.problems.append(ConfigProblem("", 0, "(project)", f"no config found in {root}: looked for {what}",
                                          "run this in the project's root directory or pass it as DIR"))
        return raw
    context = ParseContext(root=root, problems=raw.problems, files=raw.files)
    if chosen == "upsun":
        _load_upsun(root, raw, context)
    else:
        _load_platform(root, raw, context)
    return raw


def _load_upsun(root: Path, raw: RawConfig, context: ParseContext) -> None:
    merged: dict[str, dict[str, RawEntry]] = {key: {} for key in UPSUN_TOP_KEYS}
    for path in _yaml_files(root / UPSUN_DIR):
        document = read_include(parse_file(path, context), context)
        file = context.rel(path)
        if document is None:
            continue
        if not isinstance(document, MarkedMap):
            raw.problems.append(ConfigProblem(file, getattr(document, "line", 1), "(document)",
                                              "an .upsun file must be a mapping with applications/services/routes"))
            continue
        for key, value in document.items():
            line = document.line_of(key)
            if key not in UPSUN_TOP_KEYS:
                raw.warnings.append(ConfigProblem(
                    file, line, str(key), "top-level key not read by the platform; ignored",
                    f"top-level keys are {', '.join(UPSUN_TOP_KEYS)}; did you mean to put it under `services:`?"))
                continue
            value = read_include(value, context)
            if value is None:
                continue
            if not isinstance(value, MarkedMap):
                hint = "write `applications:` as a mapping of app name to its config" if key == "applications" else \
                    f"write `{key}:` as a mapping of name to config"
                raw.problems.append(ConfigProblem(file, line, str(key),
                                                  f"must be a mapping, not a {_kind(value)}", hint))
                continue
            for name, entry in value.items():
                previous = merged[key].get(str(name))
                if previous is not None:
                    raw.warnings.append(ConfigProblem(
                        file, value.line_of(name), f"{key}.{name}",
                        f"also defined in {previous.file}:{previous.line}; this later definition replaces it whole",
                        "Upsun merges files only at the top level: keep one definition"))
                data = _app_data(entry, context, "") if key == "applications" else resolve_includes(entry, context)
                merged[key][str(name)] = RawEntry(str(name), data, file, f"{key}.{name}", value.line_of(name))
    raw.apps = list(merged["applications"].values())
    raw.services = list(merged["services"].values())
    raw.routes = list(merged["routes"].values())
    if raw.routes:
        raw.routes_file = raw.routes[0].file


def _load_platform(root: Path, raw: RawConfig, context: ParseContext) -> None:
    for path in _find_app_files(root):
        before = len(raw.problems)
        default_root = context.rel(path.parent)
        default_root = "" if default_root == "." else default_root
        document = _app_data(parse_file(path, context), context, default_root)
        file = context.rel(path)
        if document is None:
            if len(raw.problems) == before:
                raw.problems.append(ConfigProblem(file, 1, "(document)", "the app file is empty",
                                                  "write the app's config in it, or delete it"))
            continue
        if not isinstance(document, MarkedMap):
            raw.problems.append(ConfigProblem(file, 1, "(document)", "an app file must be a mapping"))
            continue
        name = document.get("name")
        raw.apps.append(RawEntry(str(name) if name is not None else "", document, file, "", document.line,
                                 default_root))
    applications = root / PLATFORM_DIR / "applications.yaml"
    if applications.is_file():
        _load_applications_yaml(applications, raw, context)
    for attr, filename in (("services", "services.yaml"), ("routes", "routes.yaml")):
        path = root / PLATFORM_DIR / filename
        if not path.is_file():
            continue
        document = resolve_includes(read_include(parse_file(path, context), context), context)
        file = context.rel(path)
        if attr == "routes":
            raw.routes_file = file
        if document is None:
            continue
        if not isinstance(document, MarkedMap):
            raw.problems.append(ConfigProblem(file, getattr(document, "line", 1), "(document)",
                                              f"{filename} must be a mapping of name to config"))
            continue
        getattr(raw, attr).extend(RawEntry(str(k), v, file, str(k), document.line_of(k)) for k, v in document.items())


def _load_applications_yaml(path: Path, raw: RawConfig, context: ParseContext) -> None:
    document = read_include(parse_file(path, context), context)
    file = context.rel(path)
    if document is None:
        return
    if isinstance(document, MarkedList):
        for index, entry in enumerate(document):
            entry = _app_data(entry, context, "")
            name = entry.get("name") if isinstance(entry, MarkedMap) else None
            raw.apps.append(RawEntry(str(name) if name is not None else "", entry, file,
                                     str(name) if name else f"[{index}]", document.line_of(index)))
    elif isinstance(document, MarkedMap):
        for name, entry in document.items():
            raw.apps.append(RawEntry(str(name), _app_data(entry, context, ""), file, str(name),
                                     document.line_of(name)))
    else:
        raw.problems.append(ConfigProblem(file, 1, "(document)",
                                          "applications.yaml must be a list of apps or a mapping of name to app"))


def source_root_of(data: Any, default_root: str) -> str:
    """The app's `source.root` as written (no leading or trailing slash), or `default_root`."""
    source = data.get("source") if isinstance(data, dict) else None
    root = source.get("root") if isinstance(source, dict) else None
    return root.strip().strip("/") if isinstance(root, str) else default_root


def _app_data(entry: Any, context: ParseContext, default_root: str) -> Any:
    """One app's config with its includes read: the entry itself, when an `!include`, from the including
    file's directory; every include inside it from the app's directory, which the platform reads them from."""
    data = read_include(entry, context)
    return resolve_includes(data, context, context.root / source_root_of(data, default_root))


def _kind(value: Any) -> str:
    return {list: "list", MarkedList: "list", str: "string", int: "number", float: "number",
            bool: "boolean"}.get(type(value), type(value).__name__)
