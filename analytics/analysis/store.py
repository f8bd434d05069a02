"""Each run's statuses and figures, written to InfluxDB for dashboards (flagged facilities and their history).

Measurement ``facility_status``: tags facility, status, type, region; fields the figures, ``reasons`` text, the
name and department, and the integrity flag (``suspect``, ``integrity`` reasons, ``integrity_detectors``);
time = midnight UTC of ``as_of``. The status is a tag, so a re-run whose status changed
would add a second series at the same time instead of overwriting: the points of the facilities in the run at
that time are therefore deleted first, making a re-run of the same ``as_of`` replace the earlier answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime

from analytics.analysis.model import AnalysisRun, FacilityResult
from facmon.core import names
from facmon.core.influx import InfluxClient
from facmon.core.influxql import ident, literal, time_literal
from facmon.core.lineproto import FieldValue, line

log = logging.getLogger(__name__)

MEASUREMENT = names.FACILITY_STATUS
FLOAT_FIGURES = (
    "coverage", "occupancy_rate", "peak_rate", "visits_per_open_day", "uses_per_open_day", "idle_day_share",
    "closed_share", "open_hours", "covered_hours", "closed_hours",
)
INT_FIGURES = ("open_days", "observed_days", "idle_days")
BATCH = 5000
DELETE_CHUNK = 400


def point_time(as_of: date) -> datetime:
    """Midnight UTC of the as-of date: one point per facility and as-of date, whatever the run time."""
    return datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 10**9


def status_line(result: FacilityResult, as_of: date, window_days: int) -> str:
    """One point; figures the data could not give are left out (a field must keep one type forever)."""
    figures = result.figures
    fields: dict[str, FieldValue] = {}
    for name in FLOAT_FIGURES:
        value = getattr(figures, name)
        if value is not None:
            fields[name] = float(value)
    for name in INT_FIGURES:
        fields[name] = int(getattr(figures, name))
    if result.type_percentile is not None:
        fields["type_percentile"] = float(result.type_percentile)
    change = result.change.get("occupancy_rate")
    if change is not None:
        fields["change_occupancy_rate"] = float(change)
    fields.update(
        capacity=int(result.capacity),
        window_days=int(window_days),
        reasons="; ".join(result.reasons),
        name=result.name,
        fired=",".join(f.rule for f in result.fired),
        suspect=result.integrity.suspect,
        integrity="; ".join(result.integrity.reasons),
        integrity_detectors=",".join(d.value for d in result.integrity.detectors),
    )
    if result.department:
        fields["department"] = result.department
    tags = {"facility": result.facility_id, "status": result.status.value, "type": result.type,
            "region": result.region}
    return line(MEASUREMENT, tags, fields, _ns(point_time(as_of)))


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def delete_statements(facility_ids: Sequence[str], as_of: date) -> list[str]:
    """DELETE statements removing the stored points of these facilities for this as-of date."""
    when = time_literal(point_time(as_of))
    statements = []
    for chunk in _chunks(sorted(facility_ids), DELETE_CHUNK):
        which = " OR ".join(f"{ident('facility')} = {literal(fid)}" for fid in chunk)
        statement = f"DELETE FROM {ident(MEASUREMENT)} WHERE ({which}) AND time = {when}"  # noqa: S608 (quoted)
        statements.append(statement)
    return statements


def write_lines(client: InfluxClient, lines: Sequence[str]) -> None:
    """Line protocol in POSTs of BATCH points."""
    for chunk in _chunks(lines, BATCH):
        client.write("\n".join(chunk).encode())


def store_run(client: InfluxClient, run: AnalysisRun) -> int:
    """Replace this as-of date's points of the run's facilities; returns the number of points written."""
    if not run.facilities:
        return 0
    for statement in delete_statements([r.facility_id for r in run.facilities], run.as_of):
        client.query(statement)
    lines = [status_line(result, run.as_of, run.window_days) for result in run.facilities]
    write_lines(client, lines)
    log.info("stored %d statuses in %s for %s", len(lines), MEASUREMENT, run.as_of)
    return len(lines)
