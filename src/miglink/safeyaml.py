"""Reading the YAML files a user hands miglink (study files, concept-set files): a size limit, UTF-8
with the line of the first bad byte, and no alias bombs, recursive aliases or duplicate keys (which
PyYAML would silently resolve to the last value). Every problem is a one-line MiglinkError."""

from __future__ import annotations

from pathlib import Path

import yaml

from miglink.errors import MiglinkError

#: A study file larger than this is refused unread (the protocol's own is about 11 kB) ...
MAX_FILE_BYTES = 1_000_000
#: ... and a concept-set file larger than this (an ATLAS export of a large set is a few MB).
MAX_SET_FILE_BYTES = 50_000_000
#: ... and one whose YAML, with aliases expanded, has more nodes than this ("billion laughs":
#: a few hundred bytes of nested aliases that expand to 10^9 nodes and hang validation).
MAX_YAML_NODES = 100_000


def read_text(p: Path, what: str, limit: int = MAX_FILE_BYTES) -> str:
    """The file as UTF-8 text, or a one-line error naming the path and the line of the bad byte."""
    data = read_bytes(p, what, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise MiglinkError(
            f"{what} {p} is not UTF-8 text (first bad byte on line {line})"
        ) from None


def read_bytes(p: Path, what: str, limit: int = MAX_FILE_BYTES) -> bytes:
    try:
        if p.is_dir():
            raise MiglinkError(f"{what} {p} is a folder, not a file")
        size = p.stat().st_size
        if size > limit:
            raise MiglinkError(f"{what} {p} is {size:,} bytes, more than the {limit:,} accepted")
        return p.read_bytes()
    except FileNotFoundError:
        raise MiglinkError(f"{what} not found: {p}") from None
    except OSError as e:
        raise MiglinkError(f"cannot read {what} {p}: {e.strerror or e}") from None


def safe_yaml(text: str, path: Path, what: str) -> object:
    """``yaml.safe_load`` after refusing alias bombs, recursive aliases and duplicate keys
    (which PyYAML would silently resolve to the last value)."""
    return safe_yaml_nodes(text, path, what)[0]


def safe_yaml_nodes(text: str, path: Path, what: str) -> tuple[object, yaml.Node | None]:
    """:func:`safe_yaml` and the composed node tree, whose marks give the line of every key and
    item (a validation error then names its line, :mod:`miglink.claims.validation`)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        msg = " ".join(str(e).split())
        raise MiglinkError(f"{what} {path} is not valid YAML: {msg}") from None
    if node is not None:
        _walk(node, path, what)
    try:
        return yaml.safe_load(text), node
    except (yaml.YAMLError, RecursionError) as e:
        msg = " ".join(str(e).split())
        raise MiglinkError(f"{what} {path} is not valid YAML: {msg}") from None


def _walk(root: yaml.Node, path: Path, what: str) -> None:
    """Count nodes with aliases expanded (memoised per node), refuse cycles and duplicate keys."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active or depth > 200:
            raise MiglinkError(f"{what} {path} has a recursive or too deeply nested alias")
        active.add(key)
        n = 1
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode):
                    if k.value in seen:
                        raise MiglinkError(
                            f"{what} {path} has the key {k.value!r} twice in one mapping "
                            f"(line {k.start_mark.line + 1})"
                        )
                    seen.add(k.value)
                n += size(k, depth + 1) + size(v, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            n += sum(size(v, depth + 1) for v in node.value)
        active.discard(key)
        if n > MAX_YAML_NODES:
            raise MiglinkError(
                f"{what} {path} expands to more than {MAX_YAML_NODES:,} YAML nodes "
                "(nested aliases, a 'billion laughs' file)"
            )
        sizes[key] = n
        return n

    size(root, 0)
