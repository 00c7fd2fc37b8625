"""Read service maps and other hand-written files: open and decode here, validate in `build`.

Every YAML file impactlens reads (the service map, an ingest ``--mapping``) goes through
`load_yaml`, which refuses what a hostile or broken file could do to a plain
``yaml.safe_load``: a file too large to be hand-written, and a "billion laughs" document
whose few hundred bytes of nested aliases expand to billions of nodes (PyYAML shares the
aliased objects, so loading is cheap, but every reader that walks or prints the result
pays for the whole expansion: minutes, gigabytes of memory, gigabytes of error text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import yaml
from impactlens.service_map.build import build_service_map
from impactlens.service_map.model import ServiceMap
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.events import NodeEvent
from yaml.nodes import MappingNode, Node, SequenceNode
from yaml.reader import ReaderError

from impactlens.errors import (
    FileValidationError,
    InputFileError,
    MapIssue,
    MapValidationError,
    excerpt,
)

__all__ = [
    "ALIAS_NODE_BUDGET",
    "MAX_YAML_BYTES",
    "existing_file",
    "load_service_map",
    "load_yaml",
    "not_utf8",
    "parse_yaml",
    "read_text",
]

MAX_YAML_BYTES = 5 * 1024 * 1024  # a hand-written map of 10,000 services is about 2 MiB
# Nodes that aliases may add to a document beyond those it writes out: a map that reuses
# an anchored block per service stays far below the larger of this and its own size; a
# billion laughs passes it within its first few levels.
ALIAS_NODE_BUDGET = 100_000


def existing_file(path: str | Path, *, what: str) -> Path:
    """`path` when it names a file; otherwise an `InputFileError` that says what it is.

    >>> existing_file("/", what="incidents")
    Traceback (most recent call last):
    ...
    impactlens.errors.InputFileError: incidents /: is a directory, not a file
    """
    file = Path(path)
    if file.is_dir():
        raise InputFileError(f"{what} {file}: is a directory, not a file")
    if not file.exists():
        raise InputFileError(f"{what} {file}: no such file")
    if not file.is_file():
        raise InputFileError(f"{what} {file}: not a regular file")
    return file


def read_text(path: str | Path, *, what: str, max_bytes: int | None = None) -> str:
    """The file's text as UTF-8, or an `InputFileError` that says why not.

    Parameters
    ----------
    path : str or Path
        The file.
    what : str
        What the file is to the user (``service map``, ``mapping``), to start messages.
    max_bytes : int, optional
        Refuse a larger file (reading stops one byte past it, so a device such as
        ``/dev/zero`` is refused too, not read forever).

    Returns
    -------
    str
    """
    file = Path(path)
    try:
        with file.open("rb") as handle:
            data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputFileError(f"{what} {file}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{what} {file}: is a directory, not a file") from None
    except OSError as error:
        raise InputFileError(f"{what} {file}: {error.strerror or error}") from None
    if max_bytes is not None and len(data) > max_bytes:
        size = file.stat().st_size if file.is_file() else len(data)
        more = "" if file.is_file() else "more than "
        raise InputFileError(
            f"{what} {file}: {more}{_size(size)}, over the {_size(max_bytes)} a {what} may have"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputFileError(f"{what} {file}: {not_utf8(data, error.start)}") from None


def not_utf8(data: bytes, start: int) -> str:
    """Say where `data` stops being UTF-8: the line, the column and the byte at `start`.

    >>> not_utf8("id,name\\n1,café\\n".encode("latin-1"), 13)
    'not UTF-8 text (line 2, column 6: byte 0xe9); save it as UTF-8 (it may be Latin-1 or Windows-1252)'
    """
    line = data.count(b"\n", 0, start) + 1
    column = start - (data.rfind(b"\n", 0, start) + 1) + 1
    return (
        f"not UTF-8 text (line {line}, column {column}: byte 0x{data[start]:02x}); "
        "save it as UTF-8 (it may be Latin-1 or Windows-1252)"
    )


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):,.1f} MiB ({count:,} bytes)"
    return f"{count:,} bytes"


class _Mark(Protocol):
    """A place in the text: PyYAML's mark, from its Python parser or its C one."""

    line: int
    column: int


class _YamlRefused(Exception):
    """A document refused for what it would cost to read, at a place in the text."""

    def __init__(self, message: str, mark: _Mark | None) -> None:
        super().__init__(message)
        self.mark = mark


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader that counts what aliases would expand to while it composes.

    PyYAML's ``compose_node`` answers an alias with the very node its anchor named, so a
    document of a thousand nodes can stand for 10**9 of them. Here each alias adds its
    node's expanded size (memoised per node) to a running count that may not pass
    `ALIAS_NODE_BUDGET` or the document's own node count, whichever is larger; an alias
    to a node still being composed (a recursive structure) is refused as well.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.composed_nodes = 0
        self.alias_nodes = 0
        self.open_anchors: set[str] = set()
        self.expanded: dict[int, int] = {}  # id(node) -> nodes it stands for, aliases expanded

    def _next_event(self) -> NodeEvent:
        """The node event ``compose_node`` is about to compose (not consumed)."""
        # types-PyYAML leaves Parser.peek_event unannotated.
        event: NodeEvent = self.peek_event()  # type: ignore[no-untyped-call]
        return event

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            event = self._next_event()
            target = self.anchors.get(event.anchor)
            if event.anchor in self.open_anchors:
                raise _YamlRefused(
                    f"the alias *{excerpt(event.anchor, 40, quote=False)} refers to a node "
                    "that contains it (a recursive structure)",
                    event.start_mark,
                )
            if target is not None:  # else PyYAML reports the undefined alias
                self.alias_nodes += self._expanded_size(target)
                if self.alias_nodes > max(ALIAS_NODE_BUDGET, self.composed_nodes):
                    raise _YamlRefused(
                        "too many YAML aliases (possible billion laughs): they expand to "
                        f"more than {max(ALIAS_NODE_BUDGET, self.composed_nodes):,} nodes",
                        event.start_mark,
                    )
            return super().compose_node(parent, index)
        self.composed_nodes += 1
        anchor = self._next_event().anchor
        if anchor is None:
            return super().compose_node(parent, index)
        self.open_anchors.add(anchor)
        try:
            return super().compose_node(parent, index)
        finally:
            self.open_anchors.discard(anchor)

    def _expanded_size(self, root: Node) -> int:
        """Nodes `root` stands for with every alias below it expanded (no recursion)."""
        sizes = self.expanded
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            if id(node) in sizes:
                continue
            children = _children(node)
            if children_done:
                sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
                continue
            stack.append((node, True))
            stack.extend((child, False) for child in children if id(child) not in sizes)
        return sizes[id(root)]

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        # Scalars that match a YAML type but not its range (2026-02-30, an int of 5,000
        # digits) raise ValueError or OverflowError from Python's constructors: make
        # them YAML errors with the node's place.
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as error:
            # The first clause says it: "Exceeds the limit (4300 digits) for integer string
            # conversion: value has 6001 digits; use sys.set_int_max_str_digits() ..."
            reason = str(error).strip().split(": ")[0] or type(error).__name__
            value = excerpt(node.value) if isinstance(node.value, str) else "a value"
            raise ConstructorError(
                None,
                None,
                f"cannot read {value} ({excerpt(reason, 120, quote=False)})",
                node.start_mark,
            ) from None


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def parse_yaml(
    text: str,
    *,
    what: str,
    source: str | None = None,
    invalid: type[FileValidationError] = FileValidationError,
) -> Any:
    """Decode YAML text as `yaml.safe_load` does, refusing alias bombs and deep nesting.

    Parameters
    ----------
    text : str
        The document.
    what : str
        What the document is (``service map``), to start messages.
    source : str, optional
        Where it came from (its path), for messages.
    invalid : type of FileValidationError
        The error for text that is not valid YAML (`MapValidationError` for a map): one
        issue, placed at its line and column.

    Returns
    -------
    Any
        The decoded document (None for an empty one).

    Raises
    ------
    InputFileError
        For too many aliases (see `ALIAS_NODE_BUDGET`), a recursive alias, or nesting
        deeper than Python can follow.
    FileValidationError
        Of type `invalid`, for text that is not YAML.

    Examples
    --------
    >>> parse_yaml("services: &s [web, db]\\nagain: *s", what="map")
    {'services': ['web', 'db'], 'again': ['web', 'db']}
    >>> bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\\n" + "".join(
    ...     f"{n}: &{n} [{', '.join(['*' + p] * 10)}]\\n" for p, n in zip("abcdefg", "bcdefgh"))
    >>> parse_yaml(bomb, what="map", source="bomb.yaml")
    Traceback (most recent call last):
    ...
    impactlens.errors.InputFileError: map bomb.yaml: line 5, column 36: too many YAML aliases (possible billion laughs): they expand to more than 100,000 nodes
    """
    where = f"{what} {source}" if source else what
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text)  # refuses control characters (a ReaderError) at once
        return loader.get_single_data()
    except _YamlRefused as refused:
        raise InputFileError(f"{where}: {_place(refused.mark)}{refused}") from None
    except RecursionError:
        raise InputFileError(
            f"{where}: the YAML is nested too deeply to read (hundreds of levels)"
        ) from None
    except ReaderError as error:  # a control character, before any parsing
        at = error.position
        place = f"line {text.count(chr(10), 0, at) + 1}, column {at - text.rfind(chr(10), 0, at)}"
        character = error.character if isinstance(error.character, str) else chr(error.character)
        message = f"not valid YAML: {error.reason} (character U+{ord(character):04X})"
        raise invalid([MapIssue(place, message)], source=source) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None)
        if isinstance(error, ComposerError) and context and error.context_mark:
            # "found duplicate anchor 'x'; first occurrence" + "second occurrence"
            first = error.context_mark.line + 1
            problem = f"{context.split(';')[0]} (first at line {first})"
        message = f"not valid YAML: {excerpt(problem, 200, quote=False)}"
        raise invalid([MapIssue(place, message)], source=source) from None
    finally:
        if loader is not None:
            loader.dispose()


def _place(mark: _Mark | None) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""


def load_yaml(
    path: str | Path,
    *,
    what: str,
    invalid: type[FileValidationError] = FileValidationError,
    max_bytes: int = MAX_YAML_BYTES,
) -> Any:
    """Read a YAML file at most `max_bytes` long and decode it with `parse_yaml`.

    Raises `InputFileError` for a file that cannot be read, is too large, is not UTF-8
    or holds an alias bomb, and `invalid` for text that is not YAML.
    """
    text = read_text(path, what=what, max_bytes=max_bytes)
    return parse_yaml(text, what=what, source=str(path), invalid=invalid)


def load_service_map(path: str | Path) -> ServiceMap:
    """Read a YAML service map and validate it (see `build_service_map`)."""
    records = load_yaml(path, what="service map", invalid=MapValidationError)
    return build_service_map(records, source=str(path))
