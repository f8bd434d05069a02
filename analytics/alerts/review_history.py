"""Reviews as a record: every review kept, undo as an event of its own, and which holds are in force. Pure.

A review is evidence that someone looked and decided; a finding may end in disciplinary action, so nothing is
ever deleted or overwritten. ``facmon review undo`` records an undo event naming the review it withdraws; the
withdrawn review stays in the history (shown as undone) and stops counting for alerts and the report. Holds do
not replace each other: a follow-up review without ``--until`` leaves an earlier hold in force until its day,
and the report shows both.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from analytics.alerts.decide import Review
from facmon.core.i18n import _


@dataclass(frozen=True, slots=True)
class Undo:
    """An auditor withdrew review ``undoes`` (its id), saying why."""

    facility: str
    undoes: str
    note: str
    reviewer: str
    time_ns: int


def review_id(review: Review) -> str:
    """A short stable id for a review: facility and recording time, hashed (what list shows and undo takes)."""
    return hashlib.sha256(f"{review.facility}:{review.time_ns}".encode()).hexdigest()[:10]


def undone(undos: Iterable[Undo]) -> dict[str, Undo]:
    """Review id -> the (first) undo that withdrew it."""
    out: dict[str, Undo] = {}
    for undo in sorted(undos, key=lambda u: u.time_ns):
        out.setdefault(undo.undoes, undo)
    return out


def effective(reviews: Iterable[Review], undos: Iterable[Undo]) -> list[Review]:
    """The reviews that count (not undone), oldest first."""
    gone = undone(undos)
    return sorted((r for r in reviews if review_id(r) not in gone), key=lambda r: r.time_ns)


def holds(reviews: Sequence[Review], today: date) -> list[Review]:
    """Every review whose hold is in force on ``today`` (until not passed), the longest first."""
    return sorted((r for r in reviews if r.until is not None and today <= r.until),
                  key=lambda r: (r.until or today, r.time_ns), reverse=True)


def find(reviews: Iterable[Review], wanted: str) -> Review | None:
    """The review with this id (or a unique prefix of at least 6 characters)."""
    found = [r for r in reviews if review_id(r) == wanted
             or (len(wanted) >= 6 and review_id(r).startswith(wanted))]
    return found[0] if len(found) == 1 else None


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 10**9, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def review_dict(review: Review, undos: dict[str, Undo], today: date) -> dict[str, Any]:
    """One review as `facmon review list|show --format json` gives it."""
    rid = review_id(review)
    undo = undos.get(rid)
    return {
        "id": rid, "facility": review.facility, "disposition": review.disposition.value, "note": review.note,
        "until": review.until.isoformat() if review.until else None, "reviewer": review.reviewer,
        "recorded_at": _when(review.time_ns),
        "hold_in_force": undo is None and review.until is not None and today <= review.until,
        "undone": None if undo is None else {"reviewer": undo.reviewer, "note": undo.note,
                                             "recorded_at": _when(undo.time_ns)},
    }


def review_line_text(item: dict[str, Any]) -> str:
    """One line of `facmon review list`."""
    hold = _(" until {day}").format(day=item["until"]) if item["until"] else ""
    state = _(" [UNDONE]") if item["undone"] else (_(" [hold in force]") if item["hold_in_force"] else "")
    return (f"{item['id']}  {item['recorded_at']}  {item['facility']}  {item['disposition']}{hold}{state}  "
            + _("by {reviewer}: {note}").format(reviewer=item["reviewer"], note=item["note"]))
