"""Auditors' reviews of flagged facilities, kept in InfluxDB (measurement ``review``) for the alert job and the
dashboards: tags facility, disposition, and the facility's region and type when recorded (so the dashboards'
Region and Type choices narrow them; older reviews lack them); fields note, until (YYYY-MM-DD or ""), reviewer;
time = when recorded.

A review with ``until`` holds back new alerts for the facility until that day (analytics.alerts.decide.decide).
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterable
from datetime import date

from analytics.alerts.decide import Disposition, Review
from analytics.alerts.review_history import Undo, effective, review_id
from analytics.alerts.store import rows
from facmon.core import names
from facmon.core.errors import ConfigError
from facmon.core.influx import InfluxClient
from facmon.core.influxql import ident, literal
from facmon.core.lineproto import line
from sensors.contract import is_valid_id
from sensors.registry import Facility

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


def _tags(facility: str, disposition: str, where: Facility | None) -> dict[str, str]:
    tags = {"facility": facility, "disposition": disposition}
    if where is not None:
        if where.id != facility:
            raise ReviewError(f"the registry entry given is {where.id!r}, not {facility!r}")
        tags.update(region=where.region, type=where.type)
    return tags


def review_line(review: Review, where: Facility | None = None) -> str:
    """The review's point; ``where`` (the facility's registry entry) adds its region and type tags."""
    fields = {"note": review.note, "until": review.until.isoformat() if review.until else "",
              "reviewer": review.reviewer}
    return line(MEASUREMENT, _tags(review.facility, review.disposition.value, where), fields, review.time_ns)


def record(client: InfluxClient, review: Review, where: Facility | None = None) -> None:
    client.write(review_line(review, where).encode())


UNDO = "undo"  # the disposition tag of an undo event; older readers skip it (not a Disposition)


def undo_line(undo: Undo, where: Facility | None = None) -> str:
    return line(MEASUREMENT, _tags(undo.facility, UNDO, where),
                {"note": undo.note, "until": "", "reviewer": undo.reviewer, "undoes": undo.undoes}, undo.time_ns)


def make_undo(review: Review, note: str, reviewer: str, time_ns: int) -> Undo:
    who = " ".join(reviewer.split())[:200] or "unknown"
    return Undo(review.facility, review_id(review), clean_note(note), who, time_ns)


def record_undo(client: InfluxClient, undo: Undo, where: Facility | None = None) -> None:
    client.write(undo_line(undo, where).encode())


def _undo(row: dict[str, object]) -> Undo | None:
    if row.get("disposition") != UNDO or not row.get("undoes"):
        return None
    return Undo(str(row["facility"]), str(row["undoes"]), str(row.get("note") or ""), str(row.get("reviewer") or ""),
                int(str(row["time"])))


def _review(row: dict[str, object]) -> Review | None:
    try:
        disposition = Disposition(str(row.get("disposition")))
        until = date.fromisoformat(str(row["until"])) if row.get("until") else None
    except ValueError:
        return None
    return Review(str(row["facility"]), disposition, str(row.get("note") or ""), until,
                  str(row.get("reviewer") or ""), int(str(row["time"])))


def history(client: InfluxClient, facilities: Iterable[str] | None = None) -> tuple[list[Review], list[Undo]]:
    """Every stored review and undo event (of these facilities), oldest first."""
    statement = f"SELECT * FROM {ident(MEASUREMENT)}"  # noqa: S608 (quoted by facmon.core.influxql)
    wanted = sorted(set(facilities)) if facilities is not None else None
    if wanted is not None and len(wanted) <= 50:
        if not wanted:
            return [], []
        statement += " WHERE " + " OR ".join(f"{ident('facility')} = {literal(fid)}" for fid in wanted)
    keep = set(wanted) if wanted is not None else None
    found = [row for row in rows(client.query(statement, epoch="ns"))
             if keep is None or str(row.get("facility")) in keep]
    return ([r for r in map(_review, found) if r is not None], [u for u in map(_undo, found) if u is not None])


def read(client: InfluxClient, facilities: Iterable[str] | None = None) -> list[Review]:
    """Every stored review (of these facilities) that was not undone, oldest first."""
    return effective(*history(client, facilities))


def by_facility(reviews: Iterable[Review]) -> dict[str, list[Review]]:
    grouped: dict[str, list[Review]] = {}
    for review in reviews:
        grouped.setdefault(review.facility, []).append(review)
    return grouped
