"""Renderers for an analysis run: JSON (documented in docs/analytics.md), CSV (one row per facility), a table.

All three come from ``result_dict``, so they never disagree. Figures are rounded to 6 decimals, which keeps the
output stable across platforms while far finer than any threshold.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import orjson

from analytics.analysis.model import (
    DISPLAY_ORDER,
    AnalysisRun,
    FacilityResult,
    Figures,
    Fired,
    Integrity,
    Status,
    Window,
)
from analytics.analysis.spreadsheet import csv_string
from facmon.core.i18n import N_, _, current, format_percent
from sensors.facility_types import display_type

#: A facility type's code -> its name for people in the current language (Registry.display_type, or the built-in
#: names when the renderer is given none). JSON and CSV keep the codes.
TypeNames = Callable[[str], str]


def builtin_type_names(code: str) -> str:
    """The built-in display name of a type in the current language (sensors.facility_types)."""
    return display_type(code, current())

FORMAT_VERSION = 1
DECIMALS = 6


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, DECIMALS)
    if isinstance(value, dict):
        return {key: _round(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_round(item) for item in value]
    return value


#: Numbers rounded as analyze's JSON rounds them (the national status export writes them the same way).
rounded = _round


def window_dict(window: Window) -> dict[str, Any]:
    return {
        "first_day": window.first_day.isoformat(),
        "last_day": window.last_day.isoformat(),
        "days": window.days,
        "timezone": window.timezone,
    }


def _plain(obj: Any) -> dict[str, Any]:
    """A flat dataclass as a dict (dataclasses.asdict deep-copies, which costs seconds for 2,000 facilities)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def fired_dict(fired: Fired) -> dict[str, Any]:
    """A threshold that fired, its numbers rounded (analyze's JSON and the national status export)."""
    return _round(_plain(fired))  # type: ignore[no-any-return]


def figures_dict(figures: Figures) -> dict[str, Any]:
    return {key: _round(value) for key, value in _plain(figures).items()}


def integrity_dict(integrity: Integrity) -> dict[str, Any]:
    """The integrity flag with each finding's reason and numbers."""
    return {
        "suspect": integrity.suspect,
        "detectors": [d.value for d in integrity.detectors],
        "findings": [{"detector": f.detector.value, "reason": f.reason, "evidence": _round(dict(f.evidence))}
                     for f in integrity.findings],
    }


def result_dict(result: FacilityResult) -> dict[str, Any]:
    """One facility as plain JSON-ready data."""
    return {
        "facility_id": result.facility_id,
        "name": result.name,
        "type": result.type,
        "region": result.region,
        "department": result.department,
        "capacity": result.capacity,
        "status": result.status.value,
        "reasons": list(result.reasons),
        "fired": [fired_dict(fired) for fired in result.fired],
        "coverage": _round(result.figures.coverage),
        "window": window_dict(result.window),
        "figures": figures_dict(result.figures),
        "thresholds": _round(dict(result.thresholds)),
        "previous": None if result.previous is None else {
            "window": None if result.previous_window is None else window_dict(result.previous_window),
            "figures": figures_dict(result.previous),
        },
        "change": _round(dict(result.change)),
        "type_percentile": _round(result.type_percentile),
        "type_peers": result.type_peers,
        "integrity": integrity_dict(result.integrity),
    }


def sort_key(result: FacilityResult) -> tuple[int, str]:
    """Flagged first (idle, underused, no data), then exempt and active; by id within a status."""
    return DISPLAY_ORDER.index(result.status), result.facility_id


def run_dict(run: AnalysisRun) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "as_of": run.as_of.isoformat(),
        "window_days": run.window_days,
        "counts": run.counts(),
        "facilities": [result_dict(r) for r in sorted(run.facilities, key=sort_key)],
    }


def render_json(run: AnalysisRun, type_names: TypeNames | None = None) -> str:
    """The documented JSON (docs/analytics.md): codes only, the same in every language; reasons as analyzed."""
    return orjson.dumps(run_dict(run), option=orjson.OPT_INDENT_2).decode() + "\n"


CSV_FIGURES = (
    "coverage", "occupancy_rate", "peak_rate", "visits_per_open_day", "uses_per_open_day", "idle_day_share",
    "open_days", "observed_days", "idle_days", "open_hours", "covered_hours", "closed_hours", "closed_share",
)
CSV_COLUMNS = (
    "as_of", "window_days", "facility_id", "name", "type", "region", "department", "capacity", "status",
    *CSV_FIGURES, "change_occupancy_rate", "change_visits_per_open_day", "type_percentile", "first_day", "last_day",
    "timezone", "reasons", "suspect", "integrity_detectors", "integrity",
)


#: The CSV headers as a person reads them; in English the column codes themselves (what scripts read), in Chinese
#: the words officials use. The cells keep their codes (status, type, detectors) in every language.
CSV_HEADERS = {
    "as_of": N_("as_of"), "window_days": N_("window_days"), "facility_id": N_("facility_id"), "name": N_("name"),
    "type": N_("type"), "region": N_("region"), "department": N_("department"), "capacity": N_("capacity"),
    "status": N_("status"), "coverage": N_("coverage"), "occupancy_rate": N_("occupancy_rate"),
    "peak_rate": N_("peak_rate"), "visits_per_open_day": N_("visits_per_open_day"),
    "uses_per_open_day": N_("uses_per_open_day"), "idle_day_share": N_("idle_day_share"),
    "open_days": N_("open_days"), "observed_days": N_("observed_days"), "idle_days": N_("idle_days"),
    "open_hours": N_("open_hours"), "covered_hours": N_("covered_hours"), "closed_hours": N_("closed_hours"),
    "closed_share": N_("closed_share"), "change_occupancy_rate": N_("change_occupancy_rate"),
    "change_visits_per_open_day": N_("change_visits_per_open_day"), "type_percentile": N_("type_percentile"),
    "first_day": N_("first_day"), "last_day": N_("last_day"), "timezone": N_("timezone"), "reasons": N_("reasons"),
    "suspect": N_("suspect"), "integrity_detectors": N_("integrity_detectors"), "integrity": N_("integrity"),
}


def render_csv(run: AnalysisRun, type_names: TypeNames | None = None) -> str:
    """One row per facility; empty cells for figures the data cannot give, reasons joined by " | "; cells as
    analytics.analysis.spreadsheet writes them (text never evaluated, floats rounded). Headers in the current
    language; the cells' codes (type, status) as in the JSON, so `type_names` is not used."""
    lines: list[list[Any]] = [[_(CSV_HEADERS[column]) for column in CSV_COLUMNS]]
    for result in sorted(run.facilities, key=sort_key):
        data = result_dict(result)
        row: dict[str, Any] = {**data, **data["figures"], **data["window"]}
        row.update(as_of=run.as_of.isoformat(), window_days=run.window_days, reasons=" | ".join(result.reasons),
                   suspect=result.integrity.suspect, integrity=" | ".join(result.integrity.reasons),
                   integrity_detectors=",".join(d.value for d in result.integrity.detectors))
        row["change_occupancy_rate"] = data["change"].get("occupancy_rate")
        row["change_visits_per_open_day"] = data["change"].get("visits_per_open_day")
        lines.append([row.get(column) for column in CSV_COLUMNS])
    return csv_string(lines)


def display_width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def fit_columns(text: str, width: int) -> str:
    """Pad or cut ``text`` to exactly ``width`` terminal columns, marking a cut with an ellipsis."""
    if display_width(text) <= width:
        return text + " " * (width - display_width(text))
    out = ""
    for char in text:
        if display_width(out + char) > width - 1:
            break
        out += char
    return out + "…" + " " * (width - 1 - display_width(out))


def _pct(value: float | None) -> str:
    return "-" if value is None else format_percent(value)


def _per_day(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


#: Column titles (translated where shown) and their least widths; a title wider than that widens its column.
_TABLE = ((N_("STATUS"), 9), (N_("FACILITY"), 18), (N_("NAME"), 24), (N_("TYPE"), 16), (N_("COVER"), 5),
          (N_("OCC"), 4), (N_("PEAK"), 4), (N_("VISITS/D"), 8), (N_("USES/D"), 6), (N_("IDLE"), 4))


SUSPECT = N_("DATA_SUSPECT")  # the code; its words in Chinese are 数据存疑


def counts_line(run: AnalysisRun) -> str:
    """`as of 2026-11-28, 28 days: 5 IDLE, …; 11 DATA_SUSPECT` in the current language (statuses as labels)."""
    suspect = sum(1 for r in run.facilities if r.integrity.suspect)
    counted = [_("{count} {status}").format(count=n, status=Status(status).label)
               for status, n in run.counts().items() if n]
    line = _("as of {as_of}, {days} days: {counts}").format(as_of=run.as_of.isoformat(), days=run.window_days,
                                                            counts=_(", ").join(counted))
    if suspect:
        line += _("; {count} {suspect}").format(count=suspect, suspect=_(SUSPECT))
    return line


def render_table(run: AnalysisRun, type_names: TypeNames | None = None) -> str:
    """A fixed-width table for people, in the current language, flagged first, with the first reason of each and
    each type's display name; a facility whose data look forged or broken gets a DATA_SUSPECT line per finding
    under its row (the detector's code beside its reason)."""
    name_of = type_names or builtin_type_names
    columns = [(_(title), max(size, display_width(_(title)))) for title, size in _TABLE]
    indent = " " * columns[0][1]
    lines = [counts_line(run)]
    lines.append("  ".join(fit_columns(title, width) for title, width in columns) + "  " + _("REASON"))
    for r in sorted(run.facilities, key=sort_key):
        f = r.figures
        cells = (r.status.label, r.facility_id, r.name, name_of(r.type), _pct(f.coverage), _pct(f.occupancy_rate),
                 _pct(f.peak_rate), _per_day(f.visits_per_open_day), _per_day(f.uses_per_open_day),
                 _pct(f.idle_day_share))
        row = "  ".join(fit_columns(cell, width) for cell, (_title, width) in zip(cells, columns, strict=True))
        lines.append(f"{row}  {r.reasons[0] if r.reasons else ''}".rstrip())
        lines.extend(f"{indent}  {_(SUSPECT)} {f.detector.value}: {f.reason}" for f in r.integrity.findings)
    return "\n".join(lines) + "\n"


Renderer = Callable[[AnalysisRun, TypeNames | None], str]
RENDERERS: dict[str, Renderer] = {"table": render_table, "json": render_json, "csv": render_csv}
