"""Bounded reading of configuration files (mapper yaml, ``dataset.json``, ``data/results/*.json``).

A configuration is small; anything else given in its place must fail fast with one line, not block
or eat the machine. Every reader here therefore

* opens without blocking and refuses what is not a regular file (a named pipe would block forever,
  ``/dev/zero`` never ends, a directory is a mistake);
* reads at most ``limit`` bytes (:data:`MAX_CONFIG_BYTES` by default) and refuses larger files;
* parses yaml with a :class:`yaml.SafeLoader` subclass (no object construction, like
  ``yaml.safe_load``) that refuses more than :data:`MAX_YAML_ALIASES` aliases, cyclic aliases and
  documents that expand to more than :data:`MAX_YAML_NODES` nodes (a 2.6 KB "billion laughs" file
  expands to hundreds of millions) - checked on the composed node graph, before anything is built;
* turns every failure (missing, unreadable, not UTF-8, bad syntax, nested too deeply) into a
  one-line :class:`~helpers.errors.HelpersError` naming the file and what to do.

Board-safe: standard library only (PyYAML is imported inside :func:`load_yaml`).
"""
from __future__ import annotations

import errno
import functools
import json
import os
import stat
from pathlib import Path
from typing import Any

from helpers.errors import HelpersError, brief, name_too_long

#: our configs: a mapper yaml ~3 KB, dataset.json < 1 KB, a results file < 100 KB
MAX_CONFIG_BYTES = 1 << 20
#: nodes a yaml document may expand to once its aliases are followed (ours: about 60)
MAX_YAML_NODES = 100_000
#: aliases (``*name``) a yaml document may use (ours use none)
MAX_YAML_ALIASES = 1_000


def read_bytes(path, what: str = "file", limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The content of the regular file ``path``, at most ``limit`` bytes; one-line errors otherwise."""
    p = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise HelpersError(f"{what} not found: {p}") from None
    except IsADirectoryError:  # Windows; POSIX opens directories read-only and fstat tells
        raise HelpersError(f"{p} is a directory; give a {what}") from None
    except PermissionError:
        raise HelpersError(f"cannot read {p}: permission denied; check its permissions") from None
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:  # the same words as for a file we cannot write
            raise HelpersError(f"cannot read {brief(str(p), 160)[1:-1]}: {name_too_long(p)}") from None
        raise HelpersError(f"cannot read {p} ({e.strerror or type(e).__name__}); give a {what}") from None
    except ValueError:  # a NUL byte in the name
        raise HelpersError(f"{brief(str(p), 120)} is not a valid file name (it holds a NUL byte); give a {what}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise HelpersError(f"{p} is a directory; give a {what}")
        if not stat.S_ISREG(st.st_mode):
            raise HelpersError(f"{p} is not a regular file (a pipe, device or socket); give a {what}")
        if st.st_size > limit:
            raise HelpersError(f"{p} is {st.st_size:,} bytes, more than a {what} can be ({limit:,} bytes); "
                               "is it the right file?")
        chunks, total = [], 0
        while total <= limit:  # st_size can lie (procfs says 0): count what actually arrives
            try:
                chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            except BlockingIOError:  # pragma: no cover - regular files do not block
                break
            except OSError as e:
                raise HelpersError(f"cannot read {p} ({e.strerror or type(e).__name__})") from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise HelpersError(f"{p} is more than {limit:,} bytes, more than a {what} can be; is it the right file?")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path, what: str = "file", limit: int = MAX_CONFIG_BYTES) -> str:
    """:func:`read_bytes` decoded as UTF-8 (a byte-order mark is dropped)."""
    try:
        return read_bytes(path, what, limit).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HelpersError(f"{path} is not a UTF-8 text file; give a {what}") from None


def load_json(path, what: str = "JSON file", limit: int = MAX_CONFIG_BYTES, fix: str = "") -> Any:
    """Parse the JSON file ``path`` (bounded); ``fix`` ends the message of a parse error."""
    text = read_text(path, what, limit)
    try:
        return json.loads(text)
    except RecursionError:
        raise HelpersError(f"{Path(path).name} is not valid JSON (nested too deeply){_fix(fix)}") from None
    except ValueError as e:
        where = f" at line {e.lineno}" if isinstance(e, json.JSONDecodeError) else ""
        msg = e.msg if isinstance(e, json.JSONDecodeError) else brief(str(e), 60)
        raise HelpersError(f"{Path(path).name} is not valid JSON ({msg}{where}){_fix(fix)}") from None


def _fix(fix: str) -> str:
    return f"; {fix}" if fix else ""


class YamlTooLarge(Exception):
    """A yaml document expands to too many nodes, uses too many aliases, or refers to itself."""


def _expanded_size(root, cap: int) -> int:
    """Nodes of the document once aliases are followed, counted without expanding them (memoised)."""
    from yaml.nodes import MappingNode, SequenceNode

    def children(node):
        if isinstance(node, SequenceNode):
            return list(node.value)
        if isinstance(node, MappingNode):
            return [x for kv in node.value for x in kv]
        return []

    size, open_ = {}, set()
    stack = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        k = id(node)
        if leaving:
            open_.discard(k)
            size[k] = 1 + sum(size[id(c)] for c in children(node))
            if size[k] > cap:
                raise YamlTooLarge(f"it expands to more than {cap:,} values through its aliases")
            continue
        if k in size:
            continue
        if k in open_:
            raise YamlTooLarge("an alias refers to the node that contains it (a cycle)")
        open_.add(k)
        stack.append((node, True))
        stack.extend((c, False) for c in children(node))
    return size[id(root)]


@functools.lru_cache(maxsize=None)
def bounded_loader():
    """A :class:`yaml.SafeLoader` subclass with the alias and expansion caps (built on first use)."""
    import yaml
    from yaml.events import AliasEvent

    class BoundedSafeLoader(yaml.SafeLoader):
        max_nodes = MAX_YAML_NODES
        max_aliases = MAX_YAML_ALIASES

        def compose_node(self, parent, index):
            if self.check_event(AliasEvent):
                self._aliases = getattr(self, "_aliases", 0) + 1
                if self._aliases > self.max_aliases:
                    raise YamlTooLarge(f"it uses more than {self.max_aliases:,} aliases")
            return super().compose_node(parent, index)

        def compose_document(self):
            node = super().compose_document()
            if node is not None:
                _expanded_size(node, self.max_nodes)
            return node

    return BoundedSafeLoader


def load_yaml(path, what: str = "yaml file", limit: int = MAX_CONFIG_BYTES, fix: str = "") -> Any:
    """Safe-load the yaml file ``path`` (bounded: size, regular file, aliases, expansion)."""
    import yaml

    text = read_text(path, what, limit)
    try:
        return yaml.load(text, Loader=bounded_loader())  # noqa: S506 - a SafeLoader subclass
    except YamlTooLarge as e:
        raise HelpersError(f"{path} is refused: {e}; a {what} needs no such structure{_fix(fix)}") from None
    except RecursionError:
        raise HelpersError(f"{path} is not valid YAML (nested too deeply){_fix(fix)}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or type(e).__name__
        raise HelpersError(f"{path} is not valid YAML ({str(problem)[:80]}{where}){_fix(fix)}") from None
