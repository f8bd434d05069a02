"""How a large HTML report is cut into parts by region: which facilities go in which part, and each part's file name.
Pure: no I/O.

One HTML file for a province (20,000 facilities, thousands of charts) is too large for a browser or a mail. Above
``AUTO_LIMIT`` facilities the report is an index beside one self-contained file per region prefix of a chosen
depth (``浙江省/杭州市`` at depth 2). A part's file name comes from its region path, which may be written in any
script and, read back from InfluxDB, may hold anything: the name keeps letters, digits, ``-`` and ``_`` (Chinese
stays readable), turns everything else into ``_``, never starts with a dot, is bounded in bytes, and two parts
whose names would be equal (also when a file system ignores case) are numbered.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

from analytics.report.data import StatusRow

#: With --split auto, reports of more facilities than this are split, into parts of at most about this many.
AUTO_LIMIT = 2000
AUTO, NONE, REGION = "auto", "none", "region"
#: Bytes (UTF-8) of a part name's region and of the report's own name in it: well below a file system's 255.
MAX_REGION_BYTES = 80
MAX_STEM_BYTES = 100
_KEEP = frozenset("-_")


class SplitError(ValueError):
    """A --split value that is not auto, none or region[:DEPTH]."""


@dataclass(frozen=True, slots=True)
class Split:
    mode: str = AUTO
    depth: int | None = None  # region mode: the levels of the prefix; None: chosen by the sizes


@dataclass(frozen=True, slots=True)
class Part:
    """One file of a split report: the facilities under ``region`` (a path prefix; "" for those without)."""

    region: str
    file: str
    rows: tuple[StatusRow, ...]

    @property
    def link(self) -> str:
        """The part's file name as a relative URL (percent-encoded)."""
        return quote(self.file, safe="")


def parse_split(value: str) -> Split:
    """``auto``, ``none``, ``region`` or ``region:DEPTH`` (DEPTH 1 to 8)."""
    mode, colon, depth = value.strip().partition(":")
    if mode in (AUTO, NONE) and not colon:
        return Split(mode)
    if mode == REGION and not colon:
        return Split(REGION)
    if mode == REGION and depth.isascii() and depth.isdigit() and 1 <= int(depth) <= 8:
        return Split(REGION, int(depth))
    raise SplitError(f"--split {value!r}: expected auto, none, region or region:DEPTH with DEPTH from 1 to 8")


def prefix(region: str, depth: int) -> str:
    """The first ``depth`` levels of a region path."""
    return "/".join(region.strip("/").split("/")[:depth])


def groups(rows: Sequence[StatusRow], depth: int) -> dict[str, list[StatusRow]]:
    """The facilities by region prefix, prefixes sorted."""
    found: dict[str, list[StatusRow]] = {}
    for row in rows:
        found.setdefault(prefix(row.region, depth), []).append(row)
    return {key: found[key] for key in sorted(found)}


def choose_depth(rows: Sequence[StatusRow], limit: int = AUTO_LIMIT) -> int:
    """The shallowest depth whose parts hold at most ``limit`` facilities each; the deepest there is when none
    does (a single region larger than ``limit`` stays one part)."""
    deepest = max((len(row.region.strip("/").split("/")) for row in rows), default=1)
    for depth in range(1, deepest + 1):
        if max(len(found) for found in groups(rows, depth).values()) <= limit:
            return depth
    return deepest


def plan(rows: Sequence[StatusRow], split: Split, stem: str, limit: int = AUTO_LIMIT) -> list[Part] | None:
    """The parts of the report, or None when it stays one file (``none``, or ``auto`` at ``limit`` or below)."""
    if split.mode == NONE or (split.mode == AUTO and len(rows) <= limit):
        return None
    depth = split.depth or choose_depth(rows, limit)
    found = groups(rows, depth)
    names = part_names(list(found), stem)
    return [Part(region, name, tuple(members)) for (region, members), name in zip(found.items(), names, strict=True)]


def _cut(text: str, size: int) -> str:
    """``text`` cut to at most ``size`` bytes of UTF-8, never inside a character."""
    return text.encode("utf-8")[:size].decode("utf-8", errors="ignore")


def safe_name(text: str, fallback: str) -> str:
    """``text`` as part of a file name in any script: letters and digits kept (NFC), every other character ``_``,
    no leading dots or ``_``; ``fallback`` when nothing is left."""
    kept = "".join(c if c in _KEEP or (c.isalnum() and c.isprintable()) else "_"
                   for c in unicodedata.normalize("NFC", text))
    return kept.strip("_") or fallback


def part_names(regions: Sequence[str], stem: str) -> list[str]:
    """A distinct, safe file name per region, ``STEM-REGION.html``, numbered (``-2``, ``-3``) where two would be the
    same, case ignored."""
    base = _cut(safe_name(stem, "report"), MAX_STEM_BYTES).lstrip(".")
    taken: set[str] = set()
    out = []
    for region in regions:
        name = _cut(safe_name(region.replace("/", "_"), "none"), MAX_REGION_BYTES)
        candidate, number = f"{base}-{name}", 1
        while candidate.casefold() in taken:
            number += 1
            candidate = f"{base}-{name}-{number}"
        taken.add(candidate.casefold())
        out.append(candidate + ".html")
    return out
