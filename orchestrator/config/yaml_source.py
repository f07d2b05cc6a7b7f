"""Parse one YAML file into plain Python values that remember where every key came from.

Mappings become `MarkedMap` (a dict that also knows its file, its own line and the line of each key)
and sequences become `MarkedList`, so validation can report `file:line: key.path` for anything it finds.
`!archive` is read here, relative to the file that holds it. `!include` is parsed into an `IncludeRef`
and read by `resolve_includes` once the loader knows which app it belongs to: inside an app the
platform reads the path from the app's directory (`source.root`), elsewhere from the including file's
directory. Either is refused when it points outside the project directory.

Hostile input is bounded: files above `MAX_FILE_BYTES`, documents that alias-expand beyond
`MAX_EXPANDED_NODES`, nesting deeper than `MAX_DEPTH` and include chains deeper than `MAX_INCLUDE_DEPTH`
become ordinary config problems instead of a hang, a memory blow-up or a traceback.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from orchestrator.errors import ConfigProblem

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_EXPANDED_NODES = 200_000
MAX_DEPTH = 64
MAX_INCLUDE_DEPTH = 8


class MarkedMap(dict):
    """A mapping from YAML that knows its file, its own line and the line of each of its keys."""

    __slots__ = ("file", "line", "key_lines")

    def __init__(self, file: str = "", line: int = 0) -> None:
        super().__init__()
        self.file = file
        self.line = line
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class MarkedList(list):
    """A sequence from YAML that knows its file, its own line and the line of each item."""

    __slots__ = ("file", "line", "item_lines")

    def __init__(self, file: str = "", line: int = 0) -> None:
        super().__init__()
        self.file = file
        self.line = line
        self.item_lines: list[int] = []

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else self.line


@dataclass(frozen=True)
class ArchiveRef:
    """A directory named by `!archive` (or `!include {type: archive}`), e.g. a Solr config set."""

    path: str
    exists: bool


@dataclass(frozen=True)
class IncludeRef:
    """An `!include` as written; `chain` is the files it is nested in, the one that holds it last."""

    kind: str  # yaml | string | binary | archive
    path: str
    file: str
    line: int
    chain: tuple[Path, ...]

    @property
    def directory(self) -> Path:
        return self.chain[-1].parent


@dataclass
class ParseContext:
    """What tag constructors need while a file is parsed: where the project is and where problems go."""

    root: Path
    problems: list[ConfigProblem] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    include_stack: tuple[Path, ...] = ()

    def rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present: ~5x faster


class _MarkedLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that builds MarkedMap/MarkedList and resolves the platform's include tags."""

    def __init__(self, stream: str, file: str, path: Path, context: ParseContext) -> None:
        super().__init__(stream)
        self.file = file
        self.path = path
        self.context = context


def _construct_map(loader: _MarkedLoader, node: yaml.MappingNode):
    data = MarkedMap(loader.file, node.start_mark.line + 1)
    yield data
    _report_duplicate_keys(loader, node)
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            loader.context.problems.append(
                ConfigProblem(loader.file, key_node.start_mark.line + 1, "(key)",
                              "a mapping key must be a plain value, not a list or mapping"))
            continue
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_lines[key] = key_node.start_mark.line + 1


def _report_duplicate_keys(loader: _MarkedLoader, node: yaml.MappingNode) -> None:
    """A key written twice in one mapping is a mistake the platform rejects; merge keys (`<<`) are fine."""
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        line = key_node.start_mark.line + 1
        if key_node.value in seen:
            loader.context.problems.append(
                ConfigProblem(loader.file, line, str(key_node.value),
                              f"key written twice in one mapping (first on line {seen[key_node.value]})",
                              "keep one of them; YAML would silently use the last"))
        else:
            seen[key_node.value] = line


def _construct_list(loader: _MarkedLoader, node: yaml.SequenceNode):
    data = MarkedList(loader.file, node.start_mark.line + 1)
    yield data
    for item in node.value:
        data.append(loader.construct_object(item, deep=True))
        data.item_lines.append(item.start_mark.line + 1)


def _path_problem(raw_path: Any, file: str, line: int, tag: str) -> ConfigProblem | None:
    if isinstance(raw_path, str) and raw_path:
        return None
    return ConfigProblem(file, line, tag, "the included path must be a non-empty string")


def _inside_project(base: Path, raw_path: str, context: ParseContext, file: str, line: int, tag: str) -> Path | None:
    """`raw_path` from `base`, or None (with a problem) when it leaves the project, symbolic links followed."""
    target = (base / raw_path).resolve()
    root = context.root.resolve()
    if target != root and root not in target.parents:
        context.problems.append(
            ConfigProblem(file, line, tag, f"'{raw_path}' points outside the project directory",
                          "includes may only read files inside the project"))
        return None
    return target


def _construct_include(loader: _MarkedLoader, node: yaml.Node) -> IncludeRef | None:
    """The include as written; what it names is read later (`resolve_includes`), from the right directory."""
    line = node.start_mark.line + 1
    if isinstance(node, yaml.ScalarNode):
        kind, raw_path = "yaml", loader.construct_scalar(node)
    elif isinstance(node, yaml.MappingNode):
        spec = {loader.construct_object(k): loader.construct_object(v) for k, v in node.value}
        unknown = sorted(str(k) for k in spec if k not in ("type", "path"))
        if unknown:
            loader.context.problems.append(
                ConfigProblem(loader.file, line, "!include", f"unknown key(s) {', '.join(unknown)}",
                              "an !include mapping takes only `type` and `path`"))
        kind, raw_path = spec.get("type", "yaml"), spec.get("path")
    else:
        loader.context.problems.append(
            ConfigProblem(loader.file, line, "!include", "expects a path or a {type, path} mapping"))
        return None
    if kind not in ("yaml", "string", "binary", "archive"):
        loader.context.problems.append(
            ConfigProblem(loader.file, line, "!include", f"unknown include type '{kind}'",
                          "use one of: yaml, string, binary, archive"))
        return None
    problem = _path_problem(raw_path, loader.file, line, node.tag)
    if problem is not None:
        loader.context.problems.append(problem)
        return None
    chain = loader.context.include_stack or (loader.path.resolve(),)
    return IncludeRef(kind, raw_path, loader.file, line, chain)


@dataclass
class _Resolver:
    """Reads every `!include` under a value once (an include repeated by a YAML alias is read once)."""

    context: ParseContext
    app_dir: Path | None  # where an app's includes are read from; None: from the including file's directory
    done: dict[int, tuple[Any, Any]] = field(default_factory=dict)  # id -> (the object, kept alive; its value)

    def resolve(self, value: Any) -> Any:
        if not isinstance(value, (IncludeRef, MarkedMap, MarkedList)):
            return value
        if id(value) in self.done:
            return self.done[id(value)][1]
        if isinstance(value, IncludeRef):
            result = self.resolve(self.read(value))
        else:
            result = value
            self.done[id(value)] = (value, value)  # before the walk: aliases may lead back into it
            keys = list(value) if isinstance(value, MarkedMap) else range(len(value))
            for key in keys:
                value[key] = self.resolve(value[key])
        self.done[id(value)] = (value, result)
        return result

    def read(self, ref: IncludeRef) -> Any:
        """What `ref` names, with the includes inside an included YAML file still unread."""
        base = self.app_dir or ref.directory
        target = _inside_project(base, ref.path, self.context, ref.file, ref.line, "!include")
        if target is None:
            return None
        if ref.kind == "archive":
            return ArchiveRef(self.context.rel(target), target.is_dir())
        if not target.is_file():
            where = "the app's directory (source.root)" if self.app_dir is not None else "the including file"
            self.context.problems.append(
                ConfigProblem(ref.file, ref.line, "!include", f"included file '{ref.path}' does not exist",
                              f"paths are relative to {self.context.rel(base) or '.'}/, {where}"))
            return None
        if ref.kind == "yaml":
            return self._parse(ref, target)
        data = _read_bounded(target, self.context, ref.file, ref.line)
        if data is None:
            return None
        if ref.kind == "binary":
            return base64.b64encode(data).decode("ascii")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.context.problems.append(
                ConfigProblem(self.context.rel(target), 1, "!include", f"not UTF-8 text ({exc.reason})",
                              "use `type: binary` to include bytes"))
            return None

    def _parse(self, ref: IncludeRef, target: Path) -> Any:
        if target in ref.chain or len(ref.chain) > MAX_INCLUDE_DEPTH:
            self.context.problems.append(
                ConfigProblem(ref.file, ref.line, "!include", "include cycle or include chain too deep"))
            return None
        context = self.context
        return parse_file(target, ParseContext(context.root, context.problems, context.files, ref.chain + (target,)))


def read_include(value: Any, context: ParseContext) -> Any:
    """`value`, or what it names when it is itself an `!include` (read from the including file's directory):
    an app written whole in another file. The includes inside it are left for `resolve_includes`."""
    return _Resolver(context, None).read(value) if isinstance(value, IncludeRef) else value


def resolve_includes(value: Any, context: ParseContext, app_dir: Path | None = None) -> Any:
    """`value` with every `!include` in it (and in the files they include) replaced by what it names. Inside
    an app pass its directory (`source.root`), which the platform reads include paths from; elsewhere (services,
    routes) paths are read from the directory of the file that holds the include."""
    return _Resolver(context, app_dir).resolve(value)


def _construct_archive(loader: _MarkedLoader, node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        loader.context.problems.append(
            ConfigProblem(loader.file, node.start_mark.line + 1, "!archive", "expects a directory path"))
        return None
    raw_path, line = loader.construct_scalar(node), node.start_mark.line + 1
    problem = _path_problem(raw_path, loader.file, line, node.tag)
    if problem is not None:
        loader.context.problems.append(problem)
        return None
    target = _inside_project(loader.path.parent, raw_path, loader.context, loader.file, line, node.tag)
    return None if target is None else ArchiveRef(loader.context.rel(target), target.is_dir())


def _construct_unknown_tag(loader: _MarkedLoader, suffix: str, node: yaml.Node) -> Any:
    loader.context.problems.append(
        ConfigProblem(loader.file, node.start_mark.line + 1, f"!{suffix}", "unknown YAML tag",
                      "the platform knows !include and !archive"))
    return None


_MarkedLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_MarkedLoader.add_constructor("tag:yaml.org,2002:seq", _construct_list)
_MarkedLoader.add_constructor("!include", _construct_include)
_MarkedLoader.add_constructor("!archive", _construct_archive)
_MarkedLoader.add_multi_constructor("!", _construct_unknown_tag)


def _read_bounded(path: Path, context: ParseContext, file: str, line: int) -> bytes | None:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            context.problems.append(
                ConfigProblem(context.rel(path), 1, "(file)",
                              f"file is {size} bytes; config files above {MAX_FILE_BYTES} bytes are refused"))
            return None
        return path.read_bytes()
    except OSError as exc:
        context.problems.append(ConfigProblem(file, line, "(file)", f"cannot read {context.rel(path)}: {exc.strerror}"))
        return None


def _expanded_size(value: Any, limit: int) -> int:
    """Node count with aliases expanded, memoised per object, so a 'billion laughs' document is caught cheaply."""
    sizes: dict[int, int] = {}

    def size(v: Any, depth: int) -> int:
        if depth > MAX_DEPTH:
            return limit + 1
        if not isinstance(v, (dict, list)):
            return 1
        if id(v) in sizes:
            return sizes[id(v)]
        children = v.values() if isinstance(v, dict) else v
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > limit:
                break
        sizes[id(v)] = total
        return total

    return size(value, 0)


def parse_file(path: Path, context: ParseContext) -> Any:
    """Parse `path` (inside `context.root`); problems go to `context.problems` and None is returned for them."""
    file = context.rel(path)
    if not context.include_stack:
        context.files.append(file)
    raw = _read_bounded(path, context, file, 1)
    if raw is None:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        context.problems.append(ConfigProblem(file, line, "(encoding)",
                                              f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
                                              "save the file as UTF-8"))
        return None
    loader = _MarkedLoader(text, file, path, context)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and "end of stream" in str(exc.problem or ""):
            mark = exc.context_mark  # an unclosed quote or bracket: point at where it was opened
        line = mark.line + 1 if mark else 1
        message = " ".join(str(part) for part in (exc.context, exc.problem) if part)
        context.problems.append(ConfigProblem(file, line, "(syntax)", f"malformed YAML: {message}",
                                              "check indentation, quotes and colons around this line"))
        return None
    except yaml.YAMLError as exc:
        context.problems.append(ConfigProblem(file, 1, "(syntax)", f"malformed YAML: {exc}"))
        return None
    except RecursionError:
        context.problems.append(ConfigProblem(file, 1, "(syntax)", "YAML nested too deeply"))
        return None
    finally:
        loader.dispose()
    if _expanded_size(data, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
        context.problems.append(
            ConfigProblem(file, 1, "(aliases)",
                          f"document expands to more than {MAX_EXPANDED_NODES} values or nests deeper than {MAX_DEPTH}",
                          "YAML aliases that multiply (a 'billion laughs' document) are refused"))
        return None
    return data
