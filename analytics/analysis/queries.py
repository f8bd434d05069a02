"""The analytics job's only reads from InfluxDB: readings per facility and sensor as CSV, made into 15-minute
aggregates here.

InfluxDB 1.x spends several times more CPU on ``GROUP BY time(15m)`` aggregates than on returning the raw fields,
and its CPU is what a province's analysis waits for; analytics.analysis.buckets computes the very same aggregates
(to the last bit, ``fill(none)`` included) from the readings, and pandas' C reader parses the CSV. A query asks
only for the time ranges of opening hours (several statements in one request) and only for the fields the
measurement has. Every value placed in a query goes through facmon.core.influxql.
"""

from __future__ import annotations

import io
import logging
import zlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from analytics.analysis import rollup
from analytics.analysis.buckets import AGGREGATES, ALL_FIELDS, VALUE_COLUMNS, empty_frame, quarter_hours
from analytics.analysis.figures import Days
from analytics.analysis.schedule import SLOT_NS
from analytics.integrity import revisions as integrity_revisions
from facmon.core.influx import InfluxClient, InfluxDatabaseMissing, InfluxError
from facmon.core.influxql import ident, literal, time_literal
from facmon.core.names import READINGS
from sensors.contract import is_valid_id
from sensors.registry import Facility

log = logging.getLogger(__name__)

STATEMENTS_PER_REQUEST = 60


def _moment(ns: int) -> datetime:
    if ns % 10**9:
        raise ValueError("query bounds must be whole seconds")
    return datetime.fromtimestamp(ns // 10**9, UTC)


def reading_fields(client: InfluxClient, measurement: str = READINGS) -> tuple[str, ...]:
    """The activity fields the measurement holds at all; aggregating a missing field still costs InfluxDB time."""
    results = client.query(f"SHOW FIELD KEYS FROM {ident(measurement)}")
    present = {row[0] for series in results[0].get("series", []) for row in series.get("values", [])}
    return tuple(field for field in ALL_FIELDS if field in present)


def _which(facility_ids: Sequence[str]) -> str:
    """The WHERE clause naming these facilities; every id is checked and quoted."""
    if not facility_ids:
        raise ValueError("no facilities to query")
    invalid = [fid for fid in facility_ids if not is_valid_id(fid)]
    if invalid:
        raise ValueError("invalid facility id " + ", ".join(map(repr, invalid)))
    return " OR ".join(f"{ident('facility')} = {literal(fid)}" for fid in facility_ids)


def _statements(selected: str, facility_ids: Sequence[str], ranges: Sequence[tuple[int, int]], group: str,
                measurement: str) -> list[str]:
    which = _which(facility_ids)
    statements = []
    for start, end in ranges:
        when = f"time >= {time_literal(_moment(start))} AND time < {time_literal(_moment(end))}"
        # Every name and value in the statement has been quoted by facmon.core.influxql.
        statements.append(f"SELECT {selected} FROM {ident(measurement)} WHERE ({which}) AND {when} {group}")  # noqa: S608
    return statements


def aggregate_statements(
    facility_ids: Sequence[str],
    ranges: Sequence[tuple[int, int]],
    fields: Sequence[str] = ALL_FIELDS,
    measurement: str = READINGS,
) -> list[str]:
    """One SELECT per time range [start, end): per facility, sensor and 15 minutes, the aggregates of ``fields``,
    by InfluxDB itself. The analysis reads readings instead (reading_statements); this is what their local
    buckets must equal (tests, bench/buckets.py)."""
    chosen = [(alias, fn, field) for alias, (fn, field) in AGGREGATES.items() if field in fields]
    selected = ", ".join(f"{fn}({ident(field)}) AS {ident(alias)}" for alias, fn, field in chosen)
    group = f"GROUP BY time(15m), {ident('facility')}, {ident('sensor')} fill(none)"
    statements = _statements(selected, facility_ids, ranges, group, measurement)
    return statements if chosen else []


def reading_statements(
    facility_ids: Sequence[str],
    ranges: Sequence[tuple[int, int]],
    fields: Sequence[str] = ALL_FIELDS,
    measurement: str = READINGS,
) -> list[str]:
    """One SELECT per time range [start, end): the raw ``fields`` of every reading, per facility and sensor.
    InfluxDB 1.x spends several times less CPU on these than on GROUP BY time(15m) aggregates; the quarter hours
    are then made here (analytics.analysis.buckets)."""
    chosen = [field for field in ALL_FIELDS if field in fields]
    selected = ", ".join(ident(field) for field in chosen)
    statements = _statements(selected, facility_ids, ranges, f"GROUP BY {ident('facility')}, {ident('sensor')}",
                             measurement)
    return statements if chosen else []


def _tag_value(tags: str, key: str) -> str:
    for part in tags.split(","):
        name, _, value = part.partition("=")
        if name == key:
            return value
    return ""


def sensor_code(name: str) -> int:
    """A number for a sensor id, the same in every answer, so rows of one sensor group together."""
    return zlib.crc32(name.encode())


def _read_csv(text: str, wanted: Sequence[str]) -> tuple[pd.DataFrame, list[str]] | None:
    """The rows of a CSV answer (several statements give one header each; the repeats are dropped before
    parsing) with columns tags, time and those of ``wanted`` present; None when there are no rows. pandas' reader
    gives the float64 InfluxDB wrote (its shortest decimal form) exactly, tests/integration/analytics/
    test_quarter_hours.py holds it to that."""
    header, _, body = text.lstrip("\n").partition("\n")
    if not body.strip():
        return None
    body = body.replace(f"\n{header}\n", "\n")
    if body.startswith(header + "\n"):
        body = body[len(header) + 1 :]
    columns = header.split(",")
    values = [c for c in columns if c in wanted]
    raw = pd.read_csv(
        io.StringIO(body),
        names=columns,
        header=None,
        usecols=["tags", "time", *values],
        dtype={"tags": "category", "time": "int64", **dict.fromkeys(values, "float64")},
    )
    return raw, values


def _series_codes(raw: pd.DataFrame, facility_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's facility (position in ``facility_ids``, -1 when not one of them) and sensor_code."""
    categories = [str(c) for c in raw["tags"].cat.categories]
    position = {fid: index for index, fid in enumerate(facility_ids)}
    fac_of = np.array([position.get(_tag_value(tags, "facility"), -1) for tags in categories], dtype=np.int64)
    sensor_of = np.array([sensor_code(_tag_value(tags, "sensor")) for tags in categories], dtype=np.int64)
    codes = raw["tags"].cat.codes.to_numpy()
    return fac_of[codes], sensor_of[codes]


def parse_aggregates(text: str, facility_ids: Sequence[str]) -> pd.DataFrame:
    """InfluxDB's CSV answer to aggregate_statements as columns fac (position in ``facility_ids``), sensor
    (sensor_code), slot and the aggregates."""
    parsed = _read_csv(text, VALUE_COLUMNS)
    if parsed is None:
        return empty_frame()
    raw, values = parsed
    fac, sensor = _series_codes(raw, facility_ids)
    frame = pd.DataFrame({"fac": fac, "sensor": sensor, "slot": raw["time"].to_numpy(np.int64) // SLOT_NS})
    for column in VALUE_COLUMNS:
        frame[column] = raw[column].to_numpy(np.float64) if column in values else np.nan
    return frame[frame["fac"].to_numpy() >= 0].reset_index(drop=True)


def parse_readings(text: str, facility_ids: Sequence[str]) -> pd.DataFrame:
    """InfluxDB's CSV answer to reading_statements as the quarter hours parse_aggregates gives for the same
    ranges (analytics.analysis.buckets.quarter_hours, equal to the last bit)."""
    parsed = _read_csv(text, ALL_FIELDS)
    if parsed is None:
        return empty_frame()
    raw, values = parsed
    fac, sensor = _series_codes(raw, facility_ids)
    keep = fac >= 0
    return quarter_hours(fac[keep], sensor[keep], raw["time"].to_numpy(np.int64)[keep],
                         {field: raw[field].to_numpy(np.float64)[keep] for field in values})


class IncompleteAnswer(InfluxError):
    """A statement failed: InfluxDB's CSV leaves statement errors out, so the missing end marker tells."""


#: Run after the statements of a request; it always returns a row. InfluxDB 1.x stops a request at its first
#: failing statement (a timeout, a limit, a killed query) and its CSV writer drops the error, so without the
#: marker such a failure would read as sensor silence.
END_MARKER = "SHOW DATABASES"
_MARKER_HEADER = "name,tags,name\n"


def _split_marker(text: str) -> str:
    """The statements' part of the answer; raises IncompleteAnswer when the end marker did not arrive."""
    if text.startswith(_MARKER_HEADER):
        return ""
    cut = text.rfind("\n\n" + _MARKER_HEADER)
    if cut < 0:
        raise IncompleteAnswer("InfluxDB did not run every statement (query timeout, limit or kill?)")
    return text[: cut + 1]


def run_statements(client: InfluxClient, statements: Sequence[str]) -> list[str]:
    """CSV answers of the statements, a request per STATEMENTS_PER_REQUEST; raises IncompleteAnswer when one failed."""
    answers = []
    for start in range(0, len(statements), STATEMENTS_PER_REQUEST):
        chunk = [*statements[start : start + STATEMENTS_PER_REQUEST], END_MARKER]
        answers.append(_split_marker(client.query_csv(";".join(chunk))))
    return answers


def fetch_aggregates(
    client: InfluxClient,
    facility_ids: Sequence[str],
    ranges: Sequence[tuple[int, int]],
    fields: Sequence[str] = ALL_FIELDS,
    measurement: str = READINGS,
) -> pd.DataFrame:
    """The 15-minute aggregates of a group of facilities over the given time ranges, from their readings; see
    parse_readings."""
    statements = reading_statements(facility_ids, ranges, fields, measurement)
    parts = [parse_readings(text, facility_ids) for text in run_statements(client, statements)]
    frame = pd.concat(parts, ignore_index=True) if parts else empty_frame()
    log.debug("%d facilities, %d ranges: %d rows", len(facility_ids), len(ranges), len(frame))
    return frame


def rollup_statement(facility_ids: Sequence[str], first_day: date, last_day: date) -> str:
    """The stored day summaries (analytics.analysis.rollup) of these facilities for local days first_day..last_day."""
    which = " OR ".join(f"{ident('facility')} = {literal(fid)}" for fid in facility_ids)
    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    end = datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC) + timedelta(days=1)
    when = f"time >= {time_literal(start)} AND time < {time_literal(end)}"
    selected = rollup.statement_fields()
    return f"SELECT {selected} FROM {ident(rollup.MEASUREMENT)} WHERE ({which}) AND {when}"  # noqa: S608 (quoted above)


class InfluxSource:
    """What engine.analyze reads and keeps: readings from ``client``'s database, the rollup in ``evidence``'s
    (analytics.analysis.evidence: the ingester can neither forge nor erase a day summary)."""

    def __init__(self, client: InfluxClient, fields: Sequence[str] | None = None, measurement: str = READINGS,
                 evidence: InfluxClient | None = None) -> None:
        self.client = client
        self.evidence = evidence or client
        self.measurement = measurement
        self.fields = reading_fields(client, measurement) if fields is None else tuple(fields)

    def aggregates(self, facility_ids: Sequence[str], ranges: Sequence[tuple[int, int]]) -> pd.DataFrame:
        return fetch_aggregates(self.client, facility_ids, ranges, self.fields, self.measurement)

    def rollup(self, facilities: Sequence[Facility], wanted: pd.DataFrame, first_day: date, last_day: date) -> Days:
        statement = rollup_statement([f.id for f in facilities], first_day, last_day)
        try:
            (text,) = run_statements(self.evidence, [statement])
        except InfluxDatabaseMissing:
            return Days.empty()  # nothing kept yet (e.g. --no-store before the first run)
        return rollup.parse_rollup(text, facilities, wanted)

    def save_rollup(self, lines: Sequence[str]) -> None:
        """Keep day summaries; failing to (no write permission, say) only costs later runs time."""
        from analytics.analysis.store import write_lines

        try:
            write_lines(self.evidence, lines)
        except InfluxError as exc:
            log.warning("could not keep %d days in the rollup: %s", len(lines), exc)

    def revisions(self, facility_ids: Sequence[str], start_ns: int, end_ns: int) -> pd.DataFrame:
        (text,) = run_statements(self.client, [integrity_revisions.statement(facility_ids, start_ns, end_ns)])
        return integrity_revisions.parse(text)

    def release(self) -> None:
        self.client.close()
        self.evidence.close()
