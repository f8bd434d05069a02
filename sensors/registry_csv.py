"""Import the facility registry from a spreadsheet, because facility managers keep theirs in Excel.

``facmon registry import CSV`` reads the sheet saved as CSV (UTF-8, with or without Excel's BOM), reports
every bad cell by spreadsheet row and column, and writes YAML that ``load_registry`` reads back unchanged. The
columns are the YAML entry's keys (README, "The facility registry"), plus ``type_zh_CN`` and ``type_en`` for the
registry's ``types:`` names, given on a row of the type.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from typing import Any

import yaml
from pydantic import ValidationError

from facmon.core.config import Loc
from sensors.contract import is_valid_id
from sensors.facility_types import LANGUAGES
from sensors.registry import DAYS, Facility, Registry, RegistryError, TypeNames, explain

#: The type's display name in each language (the YAML registry's ``types:``), given on any row of that type.
TYPE_NAME_COLUMNS = {f"type_{language}": language for language in LANGUAGES}
COLUMNS = (
    *("id", "name", "type", "region", "capacity", "timezone"),
    *DAYS,
    *("closures", "lat", "lon", "department", "holidays", "adjusted_workdays"),
    *TYPE_NAME_COLUMNS,
)
REQUIRED_COLUMNS = ("id", "name", "type", "region", "capacity", *DAYS)
_CANONICAL = {name.lower(): name for name in COLUMNS}  # headers match whatever their case: type_zh_cn too
_INT_RE = re.compile(r"[+-]?\d+")
_DATE = r"\d{4}-\d{1,2}-\d{1,2}"
_CLOSURE_RE = re.compile(rf"({_DATE})(?:\s*\.\.\s*({_DATE}))?\s+(\S.*)")
_CLOSURE_HINT = 'write closures like "2025-10-01..2025-10-07 holiday; 2025-12-25 repairs"'


def import_csv(path: str | os.PathLike[str]) -> Registry:
    """Read a registry spreadsheet saved as CSV; all problems are reported together."""
    source = os.fspath(path)
    try:
        with open(source, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except UnicodeDecodeError as exc:
        raise RegistryError(
            f"is not UTF-8 text (bad byte at offset {exc.start}); save the sheet as 'CSV UTF-8'", source
        ) from None
    except OSError as exc:
        raise RegistryError(f"cannot read the file: {exc.strerror or exc}", source) from None
    except csv.Error as exc:
        raise RegistryError(f"is not valid CSV: {exc}", source) from None
    return parse_rows(rows, source)


def _check_header(header: Sequence[str]) -> list[str]:
    named = [name for name in header if name]  # unnamed columns are fine while their cells stay empty
    known = ", ".join(COLUMNS)
    problems = [f"column {name!r} is unknown; use {known}" for name in named if name not in COLUMNS]
    problems += [f"column {name!r} appears twice" for name in sorted(set(named)) if named.count(name) > 1]
    problems += [f"column {name!r} is missing" for name in REQUIRED_COLUMNS if name not in header]
    return [f"row 1 (header): {problem}" for problem in problems]


def _closures(cell: str) -> list[dict[str, str]] | None:
    """Parse ``2025-10-01..2025-10-07 holiday; 2025-12-25 repairs``; None if malformed."""
    closures = []
    for part in filter(None, (piece.strip() for piece in cell.split(";"))):
        match = _CLOSURE_RE.fullmatch(part)
        if not match:
            return None
        start, end, reason = match.groups()
        closures.append({"from": start, "to": end or start, "reason": reason})
    return closures


def _row_data(row: dict[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Turn cells into the mapping a YAML entry would give, plus problems only the CSV layout can have."""
    data: dict[str, Any] = {key: row[key] for key in ("id", "name", "type", "region")}
    problems: list[tuple[str, str]] = []
    capacity = row["capacity"]
    data["capacity"] = int(capacity) if _INT_RE.fullmatch(capacity) else capacity
    if row.get("timezone"):
        data["timezone"] = row["timezone"]
    data["opening_hours"] = {day: [s for s in (p.strip() for p in row[day].split(";")) if s] for day in DAYS}
    closures = _closures(row.get("closures", ""))
    if closures is None:
        problems.append(("closures", f"{_CLOSURE_HINT} (got {row['closures']!r})"))
    elif closures:
        data["closures"] = closures
    lat, lon = row.get("lat", ""), row.get("lon", "")
    if bool(lat) != bool(lon):
        problems.append(("lat" if not lat else "lon", "lat and lon must both be filled in or both be empty"))
    elif lat:
        data["location"] = {"lat": _number(lat), "lon": _number(lon)}
    for key in ("department", "holidays", "adjusted_workdays"):
        if row.get(key):
            data[key] = row[key]
    return data, problems


def _number(cell: str) -> float | str:
    try:
        return float(cell)
    except ValueError:
        return cell  # validation reports it, naming the column


def _column(loc: Loc) -> str:
    """The spreadsheet column a validation error belongs to."""
    if loc[0] == "opening_hours":
        return str(loc[1]) if len(loc) > 1 else "mon..sun"
    if loc[0] == "location":
        return str(loc[1]) if len(loc) > 1 else "lat/lon"
    return str(loc[0])


class _TypeNames:
    """The type names the rows give (type_zh_CN, type_en), checked as the YAML registry's ``types:`` is; a type
    is named once: another row of the type may repeat the name or leave the cell empty, not give another."""

    def __init__(self) -> None:
        self.names: dict[str, dict[str, str]] = {}
        self._row: dict[tuple[str, str], str] = {}

    def add(self, label: str, row: dict[str, str], type_code: str | None) -> list[str]:
        given = {language: row[column] for column, language in TYPE_NAME_COLUMNS.items() if row.get(column)}
        if not given:
            return []
        try:
            names = TypeNames.model_validate(given).model_dump(exclude_none=True)
        except ValidationError as exc:
            return [f"{label} column type_{loc[0]}: {message}" for loc, message in explain(exc)]
        if type_code is None:
            return []  # the type itself is wrong, and said so
        problems = []
        known = self.names.setdefault(type_code, {})
        for language, name in names.items():
            if known.setdefault(language, name) != name:
                problems.append(f"{label} column type_{language}: {type_code} is called {known[language]!r} in "
                                f"{self._row[type_code, language]}; a type has one name (got {name!r})")
            self._row.setdefault((type_code, language), label)
        return problems


def parse_rows(rows: Sequence[Sequence[str]], source: str = "<csv>") -> Registry:
    """Validate CSV rows, the first being the header; pure. Rows are numbered as Excel shows them."""
    if not rows:
        raise RegistryError("the file is empty; the first row must name the columns", source)
    header = [_CANONICAL.get(cell.strip().lower(), cell.strip().lower()) for cell in rows[0]]
    problems = _check_header(header)
    if problems:
        raise RegistryError(problems, source)
    facilities: list[Facility] = []
    type_names = _TypeNames()
    first_row: dict[str, int] = {}
    for number, cells in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue
        row = {name: (cells[i].strip() if i < len(cells) else "") for i, name in enumerate(header) if name}
        label = f"row {number}" + (f" ({row['id']})" if is_valid_id(row["id"]) else "")
        stray = [i for i, cell in enumerate(cells) if cell.strip() and (i >= len(header) or not header[i])]
        if stray:
            problems.append(f"{label}: cell {stray[0] + 1} has no column name; is a comma misplaced?")
            continue
        if is_valid_id(row["id"]) and row["id"] in first_row:
            problems.append(f"{label} column id: duplicate of row {first_row[row['id']]}")
            continue
        first_row.setdefault(row["id"], number)
        data, layout_problems = _row_data(row)
        problems += [f"{label} column {column}: {message}" for column, message in layout_problems]
        try:
            facility = Facility.model_validate(data)
        except ValidationError as exc:
            errors = explain(exc)
            problems += [f"{label} column {_column(loc)}: {message}" for loc, message in errors]
            problems += type_names.add(label, row, None if any(loc[0] == "type" for loc, _ in errors) else row["type"])
            continue
        problems += type_names.add(label, row, facility.type)
        facilities.append(facility)
    if not problems and not facilities:
        problems.append("no facility rows below the header")
    if problems:
        raise RegistryError(dict.fromkeys(problems), source)  # a one-day closure's bad date shows once
    return Registry(facilities=tuple(facilities),
                    type_names={code: TypeNames.model_validate(names) for code, names in type_names.names.items()})


class _Dumper(yaml.SafeDumper):
    """Writes opening hours as ``["09:00-12:00"]`` and short mappings inline, as people write them by hand."""


class _Flow(list[Any]):
    pass


class _FlowMap(dict[str, Any]):
    pass


class _Quoted(str):
    __slots__ = ()


def _flow_list(dumper: yaml.SafeDumper, value: _Flow) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=True)


def _flow_map(dumper: yaml.SafeDumper, value: _FlowMap) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value, flow_style=True)


def _quoted(dumper: yaml.SafeDumper, value: _Quoted) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"')


_Dumper.add_representer(_Flow, _flow_list)
_Dumper.add_representer(_FlowMap, _flow_map)
_Dumper.add_representer(_Quoted, _quoted)


def _entry(facility: Facility) -> dict[str, Any]:
    entry: dict[str, Any] = facility.model_dump(include={"id", "name", "type", "region", "capacity"})
    entry["timezone"] = facility.timezone
    entry["opening_hours"] = {
        day: _Flow(_Quoted(span) for span in spans) for day, spans in facility.opening_hours.items()
    }
    if facility.closures:
        entry["closures"] = [_FlowMap(c.model_dump(by_alias=True)) for c in facility.closures]
    if facility.location is not None:
        entry["location"] = _FlowMap(facility.location.model_dump())
    if facility.department is not None:
        entry["department"] = facility.department
    for policy in ("holidays", "adjusted_workdays"):
        if getattr(facility, policy) != "as_usual":
            entry[policy] = getattr(facility, policy)
    if facility.simulation is not None:
        entry["simulation"] = facility.simulation
    return entry


def registry_to_yaml(registry: Registry) -> str:
    """The registry as YAML that ``load_registry`` reads back to an equal Registry; Chinese stays readable."""
    document: dict[str, Any] = {}
    if registry.type_names:
        document["types"] = {code: _FlowMap(names.model_dump(exclude_none=True))
                             for code, names in registry.type_names.items()}
    document["facilities"] = [_entry(facility) for facility in registry]
    return yaml.dump(document, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=4096)
