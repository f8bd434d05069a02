"""Region paths: where a facility sits in the administrative tree, e.g. ``浙江省/丽水市/缙云县`` or ``zhejiang/lishui``.

A region travels into InfluxDB tags, InfluxQL literals and regexes, Grafana variables, alert texts and
spreadsheet cells, so it is checked once here, strictly, and every place it goes escapes it for that place
(facmon.core.lineproto, facmon.core.influxql, dashboards.common). Segments may be written in any script: Unicode
letters and digits (normalised to NFC, so the same name typed on two keyboards is one region), plus ``-`` and
``_``; nothing else — no spaces, dots, control, format or zero-width characters (U+202E would turn a path around
on screen, U+200B would make two regions that look the same). Letters are lowercase where the script has case,
so one place has one spelling. The registry, the access rules (``regions:``) and the auditors file all use this
check. Pure: no I/O.
"""

from __future__ import annotations

import functools
import unicodedata

MAX_SEGMENT = 63
MAX_DEPTH = 8
MAX_LENGTH = 255
HINT = "a region path like zhejiang/wenzhou/lucheng or 浙江省/丽水市/缙云县"
_LETTERS_DIGITS = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nd", "Nl"})
_ALLOWED_ASCII = frozenset("-_")


def _show(value: str) -> str:
    """The value quoted, cut to a readable length, with control and invisible characters as ``\\uXXXX`` escapes
    (Chinese stays readable, U+202E cannot turn the message around)."""
    text = value if len(value) <= 64 else value[:64] + "…"
    return "'" + "".join(c if c.isprintable() and c != "'" else f"\\u{ord(c):04x}" for c in text) + "'"


def _char_problem(char: str) -> str | None:
    if char in _ALLOWED_ASCII or unicodedata.category(char) in _LETTERS_DIGITS:
        return None
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def region_problems(value: str) -> list[str]:
    """Every reason ``value`` (already NFC) is not a region path; empty when it is one."""
    return list(_region_problems(value))


@functools.lru_cache(maxsize=65536)
def _region_problems(value: str) -> tuple[str, ...]:
    """region_problems, once per distinct value: a province's registry names each region hundreds of times."""
    problems: list[str] = []
    if not value:
        return ("is empty",)
    if len(value) > MAX_LENGTH:
        problems.append(f"is {len(value)} characters long (at most {MAX_LENGTH})")
    segments = value.split("/")
    if len(segments) > MAX_DEPTH:
        problems.append(f"has {len(segments)} levels (at most {MAX_DEPTH})")
    if any(not s for s in segments):
        problems.append("has an empty level ('//', or '/' at an end)")
    long = [s for s in segments if len(s) > MAX_SEGMENT]
    if long:
        problems.append(f"has a level longer than {MAX_SEGMENT} characters")
    if any(s[:1] in _ALLOWED_ASCII for s in segments if s):
        problems.append("has a level starting with '-' or '_'")
    bad = dict.fromkeys(p for p in map(_char_problem, value.replace("/", "")) if p)
    if bad:
        problems.append("contains " + ", ".join(bad) + " (only letters, digits, '-' and '_' between the '/')")
    if value != value.lower():
        problems.append("has uppercase letters")
    return tuple(problems)


def check_region(value: str) -> str:
    """The region in NFC, or ValueError naming every problem with it."""
    region = unicodedata.normalize("NFC", value)
    problems = region_problems(region)
    if problems:
        raise ValueError(f"must be {HINT}; {_show(value)} {'; '.join(problems)}")
    return region


def normalize_prefix(prefix: str) -> str:
    """A region prefix as typed on the command line (``--region``): NFC, without slashes at its ends."""
    return unicodedata.normalize("NFC", prefix).strip("/")


def is_within(region: str, prefix: str) -> bool:
    """Whole-segment prefix match: ``浙江省/丽水市`` holds ``浙江省/丽水市/缙云县``, not ``浙江省/丽水市区``; an
    empty prefix holds every region."""
    prefix = normalize_prefix(prefix)
    return not prefix or region == prefix or region.startswith(prefix + "/")
