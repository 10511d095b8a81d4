"""The one reader of params files (params.yaml, datasets.yaml, and both at a git revision):
YAML as plain data, refusing in well under a second whatever could hang a stage or exhaust
its memory.

Refused, each as one ``ParamsError`` line ``<file>: <what> (line N)``: anything but a regular
file (a directory, a FIFO, /dev/zero), over 1 MB, not UTF-8, not YAML, a key written twice
(DVC refuses it too; PyYAML would keep the second), a YAML alias (the "billion laughs" is
aliases of aliases: a 1 kB file that expands to gigabytes), more than 10,000 values, nesting
over 32 levels, a number of over 100 digits. Numbers are read as YAML 1.2 reads them (DVC's
ruamel.yaml): ``2e-05``, which ``dvc exp run -S key=0.00002`` writes, is a float, not YAML
1.1's string.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from mnist_pipeline.plumbing.files import NotRegularFileError, open_regular

MAX_BYTES = 1_000_000
MAX_VALUES = 10_000
"""Scalars, lists and mappings; the shipped params.yaml has about 300."""
MAX_DEPTH = 32
MAX_DIGITS = 100
_NUMBERS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


class ParamsError(ValueError):
    """A params file that cannot be read, or a key in it missing, unknown or of a wrong value."""


class _Refused(Exception):
    """A refusal found while parsing, before the message names the file."""


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser: 4x faster
    """PyYAML's safe loader with YAML 1.2 floats, stopping after ``MAX_VALUES`` values."""

    values = 0

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:
        self.values += 1
        if self.values > MAX_VALUES:
            raise _Refused(f"more than {MAX_VALUES:,} values: too many for a params file")
        return super().resolve(kind, value, implicit)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+
                  |[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def check_size(size: int, source: str) -> None:
    """Refuse ``size`` bytes if a params file may not hold that many."""
    if size > MAX_BYTES:
        raise ParamsError(f"{source}: over {MAX_BYTES:,} bytes: too large for a params file")


def read_yaml(path: Path | str, source: str | None = None) -> Any:
    """The YAML file at ``path`` (named ``source`` in errors) as plain data: never blocking
    on a FIFO, never reading more than ``MAX_BYTES`` + 1 bytes; see ``parse_yaml``."""
    source = str(path) if source is None else source
    try:
        with open_regular(path) as fh:
            data = fh.read(MAX_BYTES + 1)
    except NotRegularFileError as err:
        raise ParamsError(f"{source}: expected a regular file, got {err.kind}") from None
    except FileNotFoundError:
        raise ParamsError(f"{source}: no such params file") from None
    except OSError as err:
        raise ParamsError(f"{source}: cannot read: {err.strerror}") from None
    return parse_yaml(data, source)


def parse_yaml(data: bytes, source: str) -> Any:
    """``data``, the bytes of the params file ``source``, as plain data."""
    check_size(len(data), source)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise ParamsError(
            f"{source}: not UTF-8: byte 0x{data[err.start]:02x} (line {line})"
        ) from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node)
        return loader.construct_document(node)
    except _Refused as err:
        raise ParamsError(f"{source}: {err}") from None
    except yaml.MarkedYAMLError as err:
        line = f" (line {err.problem_mark.line + 1})" if err.problem_mark else ""
        raise ParamsError(f"{source}: not valid YAML: {err.problem}{line}") from None
    except yaml.reader.ReaderError as err:  # a control character
        line = text.count("\n", 0, err.position) + 1
        raise ParamsError(f"{source}: not valid YAML: {err.reason} (line {line})") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{source}: not valid YAML: {str(err).splitlines()[0]}") from None
    finally:
        loader.dispose()


def _check_nodes(root: yaml.Node) -> None:
    """Refuse a key written twice, a node met twice (an alias) and nesting over ``MAX_DEPTH``,
    each with its dotted key and line. A loop, not a recursion: depth is what it checks."""
    seen: set[int] = set()
    todo = [(root, "", 0, root.start_mark.line + 1)]
    while todo:
        node, key, depth, line = todo.pop()
        where = f"{key if len(key) <= 60 else key[:57] + '...'}: " if key else ""
        if id(node) in seen:
            first = node.start_mark.line + 1
            raise _Refused(
                f"{where}YAML aliases are refused; this one repeats line {first} (line {line})"
            )
        if depth > MAX_DEPTH:
            raise _Refused(f"{where}nested deeper than {MAX_DEPTH} levels (line {line})")
        seen.add(id(node))
        if node.tag in _NUMBERS and len(node.value) > MAX_DIGITS:
            raise _Refused(f"{where}a number of {len(node.value):,} digits (line {line})")
        children = []
        if isinstance(node, yaml.SequenceNode):
            children = [(item, f"{key}[{i}]", line) for i, item in enumerate(node.value)]
        elif isinstance(node, yaml.MappingNode):
            lines: dict[str, int] = {}
            for name_node, value in node.value:
                scalar = isinstance(name_node, yaml.ScalarNode)
                name, line = name_node.value if scalar else "?", name_node.start_mark.line + 1
                dotted = f"{key}.{name}" if key else name
                if scalar and name in lines:
                    first = lines[name]
                    raise _Refused(
                        f"{dotted}: key written twice, first at line {first} (line {line})"
                    )
                lines[name] = line
                children += [(name_node, dotted, line), (value, dotted, line)]
        todo += [(child, dotted, depth + 1, line) for child, dotted, line in reversed(children)]
