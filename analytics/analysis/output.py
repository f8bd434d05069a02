"""Renderers for an analysis run: JSON (documented in docs/analytics.md), CSV (one row per facility), a table.

All three come from ``result_dict``, so they never disagree. Figures are rounded to 6 decimals, which keeps the
output stable across platforms while far finer than any threshold.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import fields
from typing import Any

import orjson

from analytics.analysis.model import DISPLAY_ORDER, AnalysisRun, FacilityResult, Figures, Integrity, Window

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
        "fired": [_round(_plain(fired)) for fired in result.fired],
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


def render_json(run: AnalysisRun) -> str:
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


def render_csv(run: AnalysisRun) -> str:
    """One row per facility; empty cells for figures the data cannot give, reasons joined by " | "."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in sorted(run.facilities, key=sort_key):
        data = result_dict(result)
        row: dict[str, Any] = {**data, **data["figures"], **data["window"]}
        row.update(as_of=run.as_of.isoformat(), window_days=run.window_days, reasons=" | ".join(result.reasons),
                   suspect=result.integrity.suspect, integrity=" | ".join(result.integrity.reasons),
                   integrity_detectors=",".join(d.value for d in result.integrity.detectors))
        row["change_occupancy_rate"] = data["change"].get("occupancy_rate")
        row["change_visits_per_open_day"] = data["change"].get("visits_per_open_day")
        writer.writerow(["" if row.get(column) is None else row[column] for column in CSV_COLUMNS])
    return out.getvalue()


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
    return "-" if value is None else f"{value * 100:.0f}%"


def _per_day(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


_TABLE = (("STATUS", 9), ("FACILITY", 18), ("NAME", 24), ("TYPE", 16), ("COVER", 5), ("OCC", 4), ("PEAK", 4),
          ("VISITS/D", 8), ("USES/D", 6), ("IDLE", 4))


SUSPECT = "DATA_SUSPECT"


def render_table(run: AnalysisRun) -> str:
    """A fixed-width table for people, flagged facilities first, with the first reason of each; a facility whose
    data look forged or broken gets a DATA_SUSPECT line per finding under its row."""
    suspect = sum(1 for r in run.facilities if r.integrity.suspect)
    lines = [f"as of {run.as_of.isoformat()}, {run.window_days} days: "
             + ", ".join(f"{n} {status}" for status, n in run.counts().items() if n)
             + (f"; {suspect} {SUSPECT}" if suspect else "")]
    lines.append("  ".join(fit_columns(title, width) for title, width in _TABLE) + "  REASON")
    for r in sorted(run.facilities, key=sort_key):
        f = r.figures
        cells = (r.status.value, r.facility_id, r.name, r.type, _pct(f.coverage), _pct(f.occupancy_rate),
                 _pct(f.peak_rate), _per_day(f.visits_per_open_day), _per_day(f.uses_per_open_day),
                 _pct(f.idle_day_share))
        row = "  ".join(fit_columns(cell, width) for cell, (_, width) in zip(cells, _TABLE, strict=True))
        lines.append(f"{row}  {r.reasons[0] if r.reasons else ''}".rstrip())
        lines.extend(f"{'':9}  {SUSPECT} {f.detector.value}: {f.reason}" for f in r.integrity.findings)
    return "\n".join(lines) + "\n"


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}
