"""The smarter forgeries (issue 14) and the honest patterns that look odd: how their days are made. Pure.

Each forgery starts from a day the simulator generated honestly and reworks it the way a forger who has read
docs/analytics.md would, keeping entries and exits consistent with occupancy (so impossible_counts stays quiet):

* ``noisy_copy``: another facility's day, shifted 15-60 minutes, scaled by a constant, rounded, noise added;
* ``memoryless``: each quarter hour drawn afresh around the day's rhythm (no one stays; sensors/simulator/simulate.py);
* ``jittered``: one template day per weekday, every hour jittered by up to ±10 %;
* ``digits``: honest-looking numbers typed in by hand, ending in 0 or 5 far more often than chance.

The honest ones: ``full_house`` (exactly at capacity for hours while people come and go), ``stable_group``
(the same ~25 people most of the day, every day), ``weekly_class`` (the same class at the same hour every week) and
the region's shared days of ``neighbour`` and ``weather`` (the level and local events of a day, not its visitors).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from sensors.simulator.forge import MAX_COUNT, Measured
from sensors.simulator.profiles import poisson

SHIFT_MINUTES = (15, 60)
LOCAL_EVENT_CHANCE = 0.3  # regional: the share of days with a market, a fair or a holiday crowd in the region
LOCAL_EVENT_HOURS = 3
LOCAL_EVENT_AMP = 0.8  # weight added to the rhythm's during it (a weekday hour is about 1)
CLASS_SLOTS = 8  # weekly_class: two hours
TYPED_ROUND_SHARE = 0.35  # digits: how often the typist rounds to a multiple of 5


def consistent(items: Sequence[Measured], occupancies: Sequence[int], rng: random.Random, turnover: float,
               uses_per_entry: float) -> list[Measured]:
    """The readings with new occupancies and door counts that add up to them (plus some churn)."""
    out, before = [], 0
    for item, after in zip(items, occupancies, strict=True):
        after = 0 if item.closing else max(0, min(MAX_COUNT, after))
        churn = 0 if item.closing else poisson(rng, before * turnover)
        reading = {"occupancy": after, "entries": max(0, after - before) + churn,
                   "exits": max(0, before - after) + churn}
        if "uses" in item.reading:
            reading["uses"] = poisson(rng, reading["entries"] * uses_per_entry)
        out.append(item._replace(reading=reading))
        before = after if not item.closing else 0
    return out


def copy_shift(seed: int, facility_id: str) -> tuple[int, float]:
    """noisy_copy: the fixed shift (minutes) and factor a forger picks once."""
    rng = random.Random(f"{seed}:{facility_id}:noisy-copy")
    return rng.randint(*SHIFT_MINUTES), rng.uniform(0.7, 1.3)


def noisy_copy(source: Sequence[Measured], shift: int, factor: float, rng: random.Random, turnover: float,
               uses_per_entry: float) -> list[Measured]:
    """Another facility's day, later by ``shift`` minutes, times ``factor``, rounded, with a little noise. The
    readings keep their own times (no gap at opening): each takes the source's value ``shift`` minutes earlier,
    interpolated between quarter hours, the first one's before opening."""
    level = [float(m.reading["occupancy"]) for m in source]
    lag = shift / 15
    values = []
    for k, item in enumerate(source):
        at = max(0.0, k - lag)
        low = int(at)
        high = min(low + 1, len(level) - 1)
        earlier = level[low] + (level[high] - level[low]) * (at - low)
        values.append(0 if item.closing else round(earlier * factor + rng.gauss(0, 1.0 + 0.05 * earlier)))
    return consistent(source, values, rng, turnover, uses_per_entry)


def jittered(template: Sequence[Measured], capacity: int, rng: random.Random, turnover: float,
             uses_per_entry: float) -> list[Measured]:
    """The template day with every reading's occupancy jittered by up to ±10 %, kept within capacity (a forger
    who has read the docs does not hand impossible_counts a reading over it)."""
    values = [min(capacity, round(m.reading["occupancy"] * rng.uniform(0.9, 1.1))) for m in template]
    return consistent(template, values, rng, turnover, uses_per_entry)


def typed(items: Sequence[Measured], rng: random.Random, turnover: float, uses_per_entry: float) -> list[Measured]:
    """Occupancies as a person types them: often rounded to a multiple of 5."""
    values = []
    for m in items:
        value = m.reading["occupancy"]
        values.append(5 * round(value / 5) if value >= 10 and rng.random() < TYPED_ROUND_SHARE else value)
    return consistent(items, values, rng, turnover, uses_per_entry)


def stable_group(slots: int, size: int, rng: random.Random) -> list[int]:
    """A day-care or class: the group (a few absent) arrives in the first hour, leaves in the last, and
    now and then someone steps out for a quarter hour (about one person every quarter hour)."""
    present = size - sum(rng.random() < 0.06 for _ in range(size))
    ramp = min(4, max(1, slots // 4))
    values = []
    for k in range(slots):
        share = min(1.0, (k + 1) / ramp, (slots - k) / ramp)
        out = poisson(rng, 0.8) if ramp <= k < slots - ramp else 0
        values.append(max(0, round(present * share) - out))
    return values


def regional_day(seed: int, region: str, key: int | str, spread: float) -> tuple[float, float, tuple[int, int]]:
    """neighbour and weather: what every facility of the region shares on a day (the same for all of them): the
    level (weather, a holiday; ±``spread``), a number that decides which of the type's events happen, and the
    hours of a local event ((0, 0) on most days). Their visitors stay their own."""
    rng = random.Random(f"{seed}:{region}:{key}:region")
    factor, events = rng.uniform(1 - spread, 1 + spread), rng.random()
    if rng.random() >= LOCAL_EVENT_CHANCE:
        return factor, events, (0, 0)
    start = rng.randrange(9, 18)
    return factor, events, (start, start + LOCAL_EVENT_HOURS)


def class_time(seed: int, facility_id: str, days: Sequence[tuple[int, int, int]]) -> tuple[int, int]:
    """weekly_class: (weekday, start minute) of the class, fixed per facility and seed, inside one of the open
    ``days`` (weekday, opening, closing minute) long enough for it; (-1, 0) when none is."""
    fit = [(w, s, e) for w, s, e in days if e - s >= (CLASS_SLOTS + 2) * 15]
    if not fit:
        return -1, 0
    rng = random.Random(f"{seed}:{facility_id}:class")
    weekday, start, end = rng.choice(fit)
    return weekday, start + 15 * rng.randrange(1, (end - start) // 15 - CLASS_SLOTS)


def weekly_class(items: Sequence[Measured], start: int, size: int, rng: random.Random, turnover: float,
                 uses_per_entry: float) -> list[Measured]:
    """The day's readings with the class added: the group (a few absent) arrives and leaves over the two hours
    from ``start`` (a local minute), as stable_group's does over a day."""
    during = [k for k, m in enumerate(items) if not m.closing and start <= m.minute < start + CLASS_SLOTS * 15]
    extra = dict(zip(during, stable_group(len(during), size, rng), strict=True))
    values = [m.reading["occupancy"] + extra.get(k, 0) for k, m in enumerate(items)]
    return consistent(items, values, rng, turnover, uses_per_entry)
