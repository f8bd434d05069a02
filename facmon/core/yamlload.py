"""The one YAML loader of facmon's input files: the registry, rules, auditors, integrators and FACMON_CONFIG.

Safe loading is not enough for files an operator may take from someone else. A 460-byte document of nested
aliases (a "billion laughs") stands for 10⁹ nodes: PyYAML builds it cheaply as shared references, but whatever
walks it afterwards (validation, an error message) walks all of them. A registry of millions of entries exhausts
memory before validation can say what is wrong. So before anything is built, each file is held to limits:

- its size in bytes (checked before reading it);
- the number of nodes the document expands to, aliases counted as the nodes they stand for, and the number of
  alias uses; both are counted from the parser's event stream in constant memory, so a bomb is refused after
  reading a few hundred events;
- duplicate mapping keys, which plain YAML silently resolves to the last one, are refused.

Each refusal is one line naming the limit. Merge keys (``<<: *defaults``) and a few aliases stay usable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import yaml

from facmon.core.errors import ConfigError

# libyaml's parser when PyYAML has it: a 2,000-facility registry then loads in a fraction of the time.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Limits:
    max_bytes: int
    max_nodes: int
    max_aliases: int


MIB = 1024 * 1024
#: The registry: 64 MiB holds well over 200,000 facilities written out in full (sensors.registry.MAX_FACILITIES).
REGISTRY = Limits(max_bytes=64 * MIB, max_nodes=8_000_000, max_aliases=10_000)
#: Rules, auditors, integrators, FACMON_CONFIG: small files written by hand.
CONFIG = Limits(max_bytes=1 * MIB, max_nodes=200_000, max_aliases=1_000)


class YamlError(ConfigError, ValueError):
    """The text is not YAML facmon will read; the message is one line (the caller adds the file's name)."""


class _StrictLoader(_SafeLoader):  # type: ignore[valid-type,misc]
    """A SafeLoader that rejects duplicate keys, which plain YAML silently resolves to the last one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key; the base class reports it
            if duplicate:
                shown = repr(key)
                problem = f"found duplicate key {shown if len(shown) <= 60 else shown[:57] + '...'}"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)  # the stubs say Any
        return mapping


def read_text(path: str | os.PathLike[str], limits: Limits) -> str:
    """The file's text (UTF-8, a BOM dropped), refused before reading when it is over the byte limit.

    Raises OSError and UnicodeDecodeError as reading does, YamlError when the file is too big.
    """
    return read_bytes(path, limits).decode("utf-8-sig")


def read_bytes(path: str | os.PathLike[str], limits: Limits) -> bytes:
    """The file's bytes, refused before reading when it is over the byte limit (OSError as reading raises it,
    YamlError when the file is too big)."""
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limits.max_bytes:
            raise YamlError(f"the file has {size:,} bytes, over the limit of {limits.max_bytes:,} bytes")
        data = handle.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:  # grew while read, or a special file
        raise YamlError(f"the file has over {limits.max_bytes:,} bytes, the limit")
    return data


def check_size(text: str, limits: Limits) -> None:
    """Refuse, in constant memory, a document over the limits; aliases count as the nodes they stand for."""
    if len(text) > limits.max_bytes:
        raise YamlError(f"the text has over {limits.max_bytes:,} characters, over the limit")
    anchors: dict[str, int] = {}
    open_nodes: list[list[Any]] = []  # [expanded size so far, anchor] of each collection being read
    aliases = total = 0

    def add(size: int) -> None:
        nonlocal total
        if open_nodes:
            open_nodes[-1][0] += size
            size = open_nodes[-1][0]
        else:
            total += size
            size = total
        if size > limits.max_nodes:
            raise YamlError(f"the document expands to more than {limits.max_nodes:,} nodes (the limit; nested "
                            "aliases, or far too many entries)")

    for event in yaml.parse(text, Loader=_SafeLoader):
        if isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                anchors[event.anchor] = 1
            add(1)
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > limits.max_aliases:
                raise YamlError(f"the document uses more than {limits.max_aliases:,} aliases (the limit)")
            add(anchors.get(event.anchor or "", 1))
        elif isinstance(event, yaml.CollectionStartEvent):
            open_nodes.append([1, event.anchor])
        elif isinstance(event, yaml.CollectionEndEvent):
            size, anchor = open_nodes.pop()
            if anchor:
                anchors[anchor] = size
            add(size)


def load(text: str, limits: Limits) -> object:
    """Parse one YAML document within the limits; YamlError with the line of a syntax error."""
    try:
        check_size(text, limits)
        loader = _StrictLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        detail = exc.problem or "unreadable"
        if exc.context and exc.context_mark:
            detail += f" ({exc.context} from line {exc.context_mark.line + 1})"
        raise YamlError(f"invalid YAML{where}: {detail}") from None
    except yaml.YAMLError as exc:
        raise YamlError(f"invalid YAML: {str(exc)[:200]}") from None
    except RecursionError:
        raise YamlError("invalid YAML: nested too deeply") from None
