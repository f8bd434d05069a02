"""How the forged simulator profiles fake their figures. Pure: no I/O, no clock.

Each forgery is what a manager avoiding an IDLE mark could script, and each leaves the trace one integrity
detector looks for (docs/simulator.md, *Forged data*): a flat line, copied days, a cloned feed, impossible
counts, or a silent stretch uploaded long after the fact.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, NamedTuple

from sensors.registry import Facility

MAX_COUNT = 100_000  # the contract's largest count: a forged spike stays a valid payload
UPLOAD_DELAY_DAYS = 2  # late_backfill: the silent stretch is uploaded on the second day after it ends
UPLOAD_MINUTE = 10 * 60  # … in office hours, from 10:00 local


class Measured(NamedTuple):
    """One reading as the sensor (or the forger) recorded it, before it is delivered."""

    epoch: int  # its ts, epoch seconds
    minute: int  # local minute of its day (past 1440 for periods past midnight)
    reading: dict[str, Any]
    closing: bool = False  # the reading at the end of an opening period (everyone gone)


def flat_level(capacity: int, rate: float, seed: int, facility_id: str, sensor_id: str) -> int:
    """forged_flat's constant occupancy: one value per sensor for the whole run, like a hard-coded figure."""
    rng = random.Random(f"{seed}:{facility_id}:{sensor_id}:flat")
    return max(1, round(capacity * rate * rng.uniform(0.85, 1.15)))


def template_weekday(facility: Facility, weekday: int) -> int:
    """forged_copy's source day: the first weekday with the same opening hours, so every day with these hours
    replays one and the same generated day, whatever its weekday."""
    hours = facility.hours_on(weekday)
    return next(w for w in range(7) if facility.hours_on(w) == hours)


def _periods(readings: Sequence[Measured]) -> list[list[int]]:
    """Indices of each opening period's readings, its closing reading left out."""
    periods: list[list[int]] = [[]]
    for index, item in enumerate(readings):
        if item.closing:
            periods.append([])
        else:
            periods[-1].append(index)
    return [p for p in periods if p]


def inflate(readings: Sequence[Measured], capacity: int, per_slot: int, rng: random.Random) -> list[Measured]:
    """The `impossible` day: a padded occupancy figure that the door counters do not back.

    For 2-4 hours of the longest period, occupancy is raised by 50-90 % of capacity while entries stay as
    counted (a rise no entries explain); on about half the days the padding "leaves" as exits at the end (exits
    then exceed entries by that much), else it just vanishes; on about a third a reading claims 2-3 times the
    capacity. Returns new readings; the input is left as it was (it may be cached).
    """
    out = list(readings)
    periods = _periods(out)
    if not periods:
        return out
    period = max(periods, key=len)
    if len(period) < 8:
        return out
    length = min(len(period) - 2, rng.randint(8, 16) * per_slot)
    first = rng.randrange(1, len(period) - length)
    padding = max(3, round(capacity * rng.uniform(0.5, 0.9)))
    explained = rng.random() < 0.5
    spike = rng.randrange(length) if rng.random() < 0.35 else None
    for k, index in enumerate(period[first : first + length]):
        item = out[index]
        occupancy = item.reading["occupancy"] + padding
        if k == spike:
            occupancy = round(capacity * rng.uniform(2.0, 3.0))
        out[index] = item._replace(reading={**item.reading, "occupancy": min(MAX_COUNT, occupancy)})
    if explained:
        after = out[period[first + length]]
        out[period[first + length]] = after._replace(
            reading={**after.reading, "exits": min(MAX_COUNT, after.reading["exits"] + padding)})
    return out


def late_phase(seed: int, facility_id: str, period: int) -> int:
    return random.Random(f"{seed}:{facility_id}:late").randrange(period)


def is_silent(ordinal: int, phase: int, days: int, period: int) -> bool:
    """late_backfill: whether the sensor publishes nothing live on this local day (`days` of every `period`)."""
    return (ordinal + phase) % period < days


def uploaded_on(ordinal: int, phase: int, days: int, period: int) -> range:
    """The silent days whose readings are uploaded on this day (empty unless it is an upload day)."""
    last = ordinal - UPLOAD_DELAY_DAYS
    if (last + phase) % period != days - 1:
        return range(0)
    return range(last - days + 1, last + 1)
