"""Auditors' reviews of flagged facilities, kept in InfluxDB (measurement ``review``) for the alert job and the
dashboards: tags facility, disposition; fields note, until (YYYY-MM-DD or ""), reviewer; time = when recorded.

A review with ``until`` holds back new alerts for the facility until that day (analytics.alerts.decide.decide).
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterable
from datetime import date

from analytics.alerts.decide import Disposition, Review
from analytics.alerts.store import rows
from facmon.core import names
from facmon.core.errors import ConfigError
from facmon.core.influx import InfluxClient
from facmon.core.influxql import ident, literal
from facmon.core.lineproto import line
from sensors.contract import is_valid_id

MEASUREMENT = names.REVIEW
MAX_NOTE = 2000


class ReviewError(ConfigError, ValueError):
    """A review that cannot be recorded as given."""


def clean_note(text: str) -> str:
    """The note as stored: trimmed, line breaks kept as spaces, no control characters, at most MAX_NOTE long."""
    flat = " ".join(text.split())
    if not flat:
        raise ReviewError("the note must not be empty: say what you found")
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in flat):
        raise ReviewError("the note must not contain control characters")
    if len(flat) > MAX_NOTE:
        raise ReviewError(f"the note must be at most {MAX_NOTE} characters (got {len(flat)})")
    return flat


def make_review(facility: str, disposition: str, note: str, until: date | None, reviewer: str,
                today: date, time_ns: int | None = None) -> Review:
    """A validated review; ``until`` must not lie in the past."""
    if not is_valid_id(facility):
        raise ReviewError(f"{facility!r} is not a facility id")
    try:
        kind = Disposition(disposition)
    except ValueError:
        raise ReviewError(f"unknown disposition {disposition!r}; use {', '.join(d.value for d in Disposition)}") \
            from None
    if until is not None and until < today:
        raise ReviewError(f"--until {until} is in the past")
    who = " ".join(reviewer.split())[:200] or "unknown"
    return Review(facility, kind, clean_note(note), until, who, time.time_ns() if time_ns is None else time_ns)


def review_line(review: Review) -> str:
    fields = {"note": review.note, "until": review.until.isoformat() if review.until else "",
              "reviewer": review.reviewer}
    return line(MEASUREMENT, {"facility": review.facility, "disposition": review.disposition.value}, fields,
                review.time_ns)


def record(client: InfluxClient, review: Review) -> None:
    client.write(review_line(review).encode())


def _review(row: dict[str, object]) -> Review | None:
    try:
        disposition = Disposition(str(row.get("disposition")))
        until = date.fromisoformat(str(row["until"])) if row.get("until") else None
    except ValueError:
        return None
    return Review(str(row["facility"]), disposition, str(row.get("note") or ""), until,
                  str(row.get("reviewer") or ""), int(str(row["time"])))


def read(client: InfluxClient, facilities: Iterable[str] | None = None) -> list[Review]:
    """Every stored review (of these facilities), oldest first."""
    statement = f"SELECT * FROM {ident(MEASUREMENT)}"  # noqa: S608 (quoted by facmon.core.influxql)
    wanted = sorted(set(facilities)) if facilities is not None else None
    if wanted is not None and len(wanted) <= 50:
        if not wanted:
            return []
        statement += " WHERE " + " OR ".join(f"{ident('facility')} = {literal(fid)}" for fid in wanted)
    found = (_review(row) for row in rows(client.query(statement, epoch="ns")))
    keep = set(wanted) if wanted is not None else None
    return [r for r in found if r is not None and (keep is None or r.facility in keep)]


def by_facility(reviews: Iterable[Review]) -> dict[str, list[Review]]:
    grouped: dict[str, list[Review]] = {}
    for review in reviews:
        grouped.setdefault(review.facility, []).append(review)
    return grouped
