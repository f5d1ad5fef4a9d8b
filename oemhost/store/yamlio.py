"""Reading and writing state files: strict YAML in, canonical YAML out, atomic writes.

The state files are read only by oemhost (the store, ``oemhost inventory check`` and the
``oemhost_state`` inventory / ``oemhost_tenants`` vars plugins), never by Ansible's own
YAML loader, so nothing in them is ever a template or a tag Ansible acts on. The loader is
stricter than YAML itself so that a hand edit cannot smuggle in structure:

- only the YAML core types (mapping, sequence, str, int, float, bool, null): dates stay
  strings (``2026-11-01``), any explicit tag (``!!python/object``, ``!unsafe``) is an error;
- no anchors or aliases (no shared structure, no "billion laughs");
- no duplicate keys (YAML would keep the last one silently).

The dumper writes one canonical form (document start, block style, sequences indented,
Unicode kept readable) that passes ``yamllint -s`` with the repository's ``.yamllint``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from oemhost.errors import ValidationError

try:  # the C parser is ~10x faster; the constructor below stays in Python either way
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - libyaml is part of the PyYAML wheel
    from yaml import SafeLoader as _BaseLoader


class StateLoader(_BaseLoader):
    """Safe loader without timestamps, tags, aliases or duplicate keys."""


# Keep dates as the strings they are written as (the model stores ISO dates as text).
StateLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}

_CORE_TAGS = {
    "tag:yaml.org,2002:" + t
    for t in ("map", "seq", "str", "int", "float", "bool", "null")
}


def _construct_mapping(loader: StateLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    if node.tag not in _CORE_TAGS:
        raise yaml.constructor.ConstructorError(
            None, None, f"tag {node.tag} is not allowed", node.start_mark)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            raise yaml.constructor.ConstructorError(
                None, None, "merge keys (<<) are not allowed", key_node.start_mark)
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, f"keys must be strings, found {key!r}", key_node.start_mark)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        result[key] = loader.construct_object(value_node, deep=True)
    return result


def _construct_other(loader: StateLoader, node: yaml.Node) -> Any:
    tag = node.tag
    if tag == "tag:yaml.org,2002:str":
        return loader.construct_scalar(node)
    if tag == "tag:yaml.org,2002:seq":
        return [loader.construct_object(n, deep=True) for n in node.value]
    if tag == "tag:yaml.org,2002:int":
        return loader.construct_yaml_int(node)
    if tag == "tag:yaml.org,2002:bool":
        return loader.construct_yaml_bool(node)
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:float":
        return loader.construct_yaml_float(node)
    raise yaml.constructor.ConstructorError(
        None, None, f"tag {tag} is not allowed", node.start_mark)


def _construct_object(self: StateLoader, node: yaml.Node, deep: bool = False) -> Any:
    # A node met twice is an alias (the composer resolves ``*a`` to the anchored node).
    if node in self.constructed_objects or node in self.recursive_objects:
        raise yaml.constructor.ConstructorError(
            None, None, "YAML anchors and aliases are not allowed", node.start_mark)
    return _BaseLoader.construct_object(self, node, deep=deep)


StateLoader.construct_object = _construct_object
StateLoader.yaml_constructors = {}
StateLoader.yaml_multi_constructors = {}
StateLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
for _t in ("seq", "str", "int", "float", "bool", "null"):
    StateLoader.add_constructor("tag:yaml.org,2002:" + _t, _construct_other)
StateLoader.add_constructor(None, _construct_other)  # any other tag is an error


class StateDumper(yaml.SafeDumper):
    """Canonical output: block style, indented sequences, no timestamp resolver."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


StateDumper.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeDumper.yaml_implicit_resolvers.items()
}


# plain scalars that YAML 1.2 readers (and yamllint) would take for numbers: quote them
_NUMBER_LIKE = re.compile(r"^[-+]?(?:0o[0-7_]+|0x[0-9a-f_]+|0b[01_]+|\.inf|\.nan|"
                          r"[0-9][0-9_]*(?:\.[0-9_]*)?(?:e[-+]?[0-9]+)?)$", re.IGNORECASE)


def _represent_str(dumper: StateDumper, data: str):
    style = None
    if "\n" in data:
        style = "|"
    elif _NUMBER_LIKE.match(data):
        style = "'"
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


StateDumper.add_representer(str, _represent_str)


class StateFileError(ValidationError):
    """A state file that is not valid YAML of the allowed kind."""


def loads(data: bytes | str, *, source: str = "<state>") -> Any:
    """Parse one state document; raise :class:`StateFileError` with a one-line reason."""
    try:
        loader = StateLoader(data)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except UnicodeDecodeError as exc:
        raise StateFileError({"": f"not UTF-8 ({exc.reason})"}, subject=source) from None
    except yaml.YAMLError as exc:
        raise StateFileError({"": _yaml_error_line(exc)}, subject=source) from None


def _yaml_error_line(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
    return f"invalid YAML: {where}{problem}"


def dumps(record: dict[str, Any]) -> bytes:
    """The canonical bytes of one state record."""
    text = yaml.dump(record, Dumper=StateDumper, sort_keys=False, allow_unicode=True,
                     explicit_start=True, default_flow_style=False, width=100)
    return text.encode("utf-8")


def blob_id(data: bytes) -> str:
    """Git's blob id of ``data``: the version of a state file (same as ``git hash-object``)."""
    h = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    h.update(data)
    return h.hexdigest()


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
