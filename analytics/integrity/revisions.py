"""Integrity: readings whose values were changed after they were first stored (revisions, issue 17).

The ingester writes a `revision` point (ingest.revisions) whenever a sensor re-sends a reading it already sent,
same ts, with other values; the `reading` point then holds the new values, so figures use the latest. Here the
revisions of a facility's window become a finding when there are at least `revision_min_count` of them: how many,
how late (from the reading's time to the new value's arrival), how large (the biggest change of a count), and the
first few, so the report lists them. Pure apart from `statement` (InfluxQL text).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pandas as pd

from analytics.analysis.model import Detector, Finding
from analytics.integrity.rules import IntegrityThresholds
from analytics.integrity.series import decimal
from facmon.core.i18n import _
from facmon.core.influxql import MAX_NAMED, ident, literal

MEASUREMENT = "revision"
FIELDS = ("occupancy", "entries", "exits", "uses")
LISTED = 5  # revisions named in the reason; all are counted
_NS = 1_000_000_000
COLUMNS = ("facility", "sensor", "ts_ns", "new_received_ms", "old_received_ms",
           *(f"{age}_{name}" for age in ("old", "new") for name in FIELDS))


def statement(facility_ids: Sequence[str], start_ns: int, end_ns: int) -> str:
    """Every revision of these facilities with a ts in [start_ns, end_ns); for more than MAX_NAMED
    (facmon.core.influxql) facilities, every revision in that time (revisions are few), to be sorted out by
    facility afterwards."""
    when = f"time >= {int(start_ns)} AND time < {int(end_ns)}"
    if len(facility_ids) > MAX_NAMED:
        return f"SELECT * FROM {ident(MEASUREMENT)} WHERE {when}"  # noqa: S608 (bounds are integers)
    which = " OR ".join(f"facility = {literal(f)}" for f in facility_ids) or "false"
    return f"SELECT * FROM {ident(MEASUREMENT)} WHERE ({which}) AND {when}"  # noqa: S608 (ids quoted by literal)


def parse(text: str) -> pd.DataFrame:
    """InfluxDB's CSV answer (time in ns) as one row per revision, COLUMNS."""
    if not text.strip():
        return pd.DataFrame({name: pd.Series(dtype="object") for name in COLUMNS})
    frame = pd.read_csv(io.StringIO(text), dtype={"facility": str, "sensor": str})
    frame = frame.rename(columns={"time": "ts_ns"})
    for name in COLUMNS:
        if name not in frame.columns:
            frame[name] = pd.NA
    return frame[list(COLUMNS)]


def _change(row: Mapping[str, object]) -> tuple[str, int]:
    """`occupancy 3 -> 500` for each count that changed, and the largest absolute change."""
    parts, largest = [], 0
    for name in FIELDS:
        old, new = row.get(f"old_{name}"), row.get(f"new_{name}")
        if pd.isna(old) and pd.isna(new):
            continue
        if old != new:
            parts.append(f"{name} {_show(old)} -> {_show(new)}")
            if isinstance(old, int | float) and isinstance(new, int | float) and not pd.isna(old) and not pd.isna(new):
                largest = max(largest, abs(int(new) - int(old)))
    return ", ".join(parts), largest


def _show(value: object) -> str:
    return _("none") if value is None or pd.isna(value) else str(int(value))  # type: ignore[call-overload]


def finding(rows: pd.DataFrame, limits: IntegrityThresholds) -> Finding | None:
    """The facility's revisions as a finding, or None below the threshold."""
    if len(rows) < limits.revision_min_count:
        return None
    rows = rows.sort_values(["ts_ns", "sensor"])
    lateness_h = (rows["new_received_ms"].astype("int64") * 1_000_000 - rows["ts_ns"].astype("int64")) / (3600 * _NS)
    listed: list[str] = []
    largest = 0
    for _index, row in rows.iterrows():
        text, size = _change(row.to_dict())
        largest = max(largest, size)
        if len(listed) < LISTED:
            when = datetime.fromtimestamp(int(row["ts_ns"]) // _NS, UTC).strftime("%Y-%m-%d %H:%M")
            late = (int(row["new_received_ms"]) * 1_000_000 - int(row["ts_ns"])) / (3600 * _NS)
            listed.append(_("{sensor} {when} UTC: {change} ({late} later)").format(
                sensor=row["sensor"], when=when, change=text, late=_late(late)))
    more = _(" and {more} more").format(more=len(rows) - LISTED) if len(rows) > LISTED else ""
    reason = _("{count} stored readings were re-sent with other values (up to {late} after their time, changes of "
               "up to {largest}): {listed}{more}").format(
        count=len(rows), late=_late(float(lateness_h.max())), largest=largest, listed="; ".join(listed), more=more)
    evidence: dict[str, float | int | str] = {
        "revisions": len(rows),
        "sensors": int(rows["sensor"].nunique()),
        "max_lateness_hours": round(float(lateness_h.max()), 1),
        "median_lateness_hours": round(float(lateness_h.median()), 1),
        "largest_change": largest,
        "threshold": limits.revision_min_count,
    }
    return Finding(Detector.REVISIONS, reason, evidence)


def _late(hours: float) -> str:
    if hours >= 48:
        return _("{days} days").format(days=decimal(hours / 24, 1))
    return _("{hours} h").format(hours=decimal(hours, 1))
