"""The smarter forgeries (issue 14) and the honest patterns that look odd: how their days are made. Pure.

Each forgery starts from a day the simulator generated honestly and reworks it the way a forger who has read
docs/analytics.md would, keeping entries and exits consistent with occupancy (so impossible_counts stays quiet):

* ``noisy_copy``: another facility's day, shifted 15-60 minutes, scaled by a constant, rounded, noise added;
* ``memoryless``: each quarter hour drawn afresh around the day's rhythm (no one stays; sensors/simulator/simulate.py);
* ``jittered``: one template day per weekday, every hour jittered by up to ±10 %;
* ``digits``: honest-looking numbers typed in by hand, ending in 0 or 5 far more often than chance.

The honest ones: ``full_house`` (exactly at capacity for hours while people come and go) and ``stable_group``
(the same ~25 people most of the day, every day).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from sensors.simulator.forge import MAX_COUNT, Measured
from sensors.simulator.profiles import poisson

SHIFT_MINUTES = (15, 60)
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
