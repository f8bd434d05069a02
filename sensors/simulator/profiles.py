"""What simulated facilities look like: usage profiles, daily and weekly rhythms per facility type, and the few
numeric helpers the generator needs. Pure data and arithmetic, no I/O and no clock.

A profile sets the level of use (occupancy as a share of capacity) and the sensor's habits (silent stretches,
store-and-forward gaps); a rhythm sets its shape over the day and week. Levels are chosen to land clearly on one
side of the analytics thresholds (docs/simulator.md): busy and normal well above 10 % occupancy, underused
around 5 %, idle with no use on almost every open day, offline with well under 60 % coverage.

Forged profiles (`forge` set) fake the figures the way a manager avoiding an IDLE mark would, each in one of the
ways the integrity detectors look for; their level is `normal`'s, so they land on ACTIVE.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache

from sensors.registry import Facility

DAY_MINUTES = 24 * 60
WEEK_MINUTES = 7 * DAY_MINUTES
SLOT_MINUTES = 15


@dataclass(frozen=True, slots=True)
class Profile:
    """Level of use and sensor habits; `rate` is the intended mean occupancy during opening hours / capacity."""

    name: str
    rate: float
    idle_every: int = 0  # > 0: use only on one open day in this many (the rest are zeros)
    night_rate: float = 0.0  # > 0: use only outside opening hours, 19:00-24:00, at this rate
    up_share: float = 1.0  # < 1: sensor silent outside this share of each silence period (open time)
    silence_period_days: float = 10.0
    gaps: bool = False  # store-and-forward gaps, sent later as one array
    lost_gap_share: float = 0.0  # gaps whose buffer a reboot loses
    over_capacity: float = 1.0  # occupancy may reach this multiple of capacity
    forge: str = ""  # how the figures are faked: flat, copy, clone, impossible, late (docs/simulator.md), or
    # noisy_copy, memoryless, jittered, digits (sensors/simulator/forge_shape.py)
    late_days: int = 0  # forge == "late": silent this many days of every late_period_days, uploaded afterwards
    late_period_days: int = 28
    full_house: bool = False  # at capacity exactly (not just under) while people come and go (exam season)
    stable_group: bool = False  # the same group (rate x capacity people) all day, every open day
    regional: float = 0.0  # > 0: the day's level (weather, holidays) and local events are the region's, ±this
    class_share: float = 0.0  # > 0: one weekly class of this share of capacity, same weekday and hours each week
    outage_days: int = 0  # > 0: the sensor records nothing on this many days in a row of every outage_period_days
    outage_period_days: int = 28
    upload_hours: int = 0  # > 0: the readings are held and uploaded as one array every this many hours

    @property
    def honest(self) -> bool:
        return not self.forge


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("busy", rate=0.42, over_capacity=1.05),
        Profile("normal", rate=0.30),
        Profile("underused", rate=0.055),
        Profile("idle", rate=0.05, idle_every=30),
        Profile("offline", rate=0.30, up_share=0.25),
        Profile("flaky", rate=0.30, gaps=True, lost_gap_share=0.1),
        Profile("night_only", rate=0.0, night_rate=0.25),
        Profile("forged_flat", rate=0.32, forge="flat"),
        Profile("forged_copy", rate=0.30, forge="copy"),
        Profile("clone_of", rate=0.30, forge="clone"),
        Profile("impossible", rate=0.30, forge="impossible"),
        Profile("late_backfill", rate=0.30, forge="late", late_days=14),
        Profile("forged_noisy_copy", rate=0.30, forge="noisy_copy"),
        Profile("forged_memoryless", rate=0.30, forge="memoryless"),
        Profile("forged_jittered_days", rate=0.30, forge="jittered"),
        Profile("forged_digits", rate=0.30, forge="digits"),
        Profile("full_house", rate=0.55, full_house=True),
        Profile("stable_group", rate=0.62, stable_group=True),
        Profile("quiet", rate=0.005),
        Profile("neighbour", rate=0.30, regional=0.25),
        Profile("weather", rate=0.30, regional=0.6),
        Profile("weekly_class", rate=0.03, class_share=0.3),
        Profile("outage", rate=0.30, outage_days=2),
        Profile("buffered", rate=0.30, upload_hours=3),
    )
}
DEFAULT_PROFILE = "normal"
CLONE = "clone_of"  # profiles that need an argument: the facility whose series they republish
NOISY_COPY = "forged_noisy_copy"
SOURCED = (CLONE, NOISY_COPY)
NIGHT_START = 19 * 60  # night_only activity runs from 19:00 to midnight where the facility is closed then


def _hours(default: float = 0.2, **weights: float) -> tuple[float, ...]:
    """A 24-hour weight table from `h9=1.0`-style keywords; unlisted hours get `default`."""
    table = [default] * 24
    for key, value in weights.items():
        table[int(key[1:])] = value
    return tuple(table)


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happens on some days (a performance, a class): weight `amp` added in [start, end) hours."""

    weekend: bool
    start: int
    end: int
    chance: float
    amp: float = 2.0


@dataclass(frozen=True, slots=True)
class Rhythm:
    """Hour-of-day weights for weekdays and weekends, optional events, and how visitors behave."""

    weekday: tuple[float, ...]
    weekend: tuple[float, ...]
    turnover: float  # share of those present who leave in 15 minutes (about 0.25 / hours of stay)
    uses_per_entry: float = 0.0  # loans or bookings per visitor; 0: the type reports no `uses`
    events: tuple[Event, ...] = ()
    sensor_name: str = "sensor"


RHYTHMS: dict[str, Rhythm] = {
    # steady through the day, lunch dip, evening peak; loans
    "library": Rhythm(
        _hours(h8=0.7, h9=0.9, h10=1.0, h11=1.0, h12=0.6, h13=0.7, h14=1.0, h15=1.0, h16=1.0, h17=1.1, h18=1.4,
               h19=1.5, h20=1.3, h21=0.8),
        _hours(h8=0.8, h9=1.1, h10=1.3, h11=1.3, h12=0.8, h13=1.0, h14=1.4, h15=1.4, h16=1.3, h17=1.1, h18=1.0,
               h19=1.0, h20=0.8),
        turnover=0.15, uses_per_entry=0.35, sensor_name="door"),
    # early risers, quiet days, evening and weekend peaks; court bookings
    "sports_hall": Rhythm(
        _hours(h6=0.8, h7=0.9, h8=0.6, h9=0.3, h10=0.3, h11=0.3, h12=0.4, h13=0.3, h14=0.3, h15=0.3, h16=0.4,
               h17=0.9, h18=1.6, h19=1.9, h20=1.8, h21=1.2, h22=0.6),
        _hours(h8=0.8, h9=1.2, h10=1.5, h11=1.3, h12=0.8, h13=1.0, h14=1.5, h15=1.6, h16=1.5, h17=1.3, h18=1.5,
               h19=1.7, h20=1.5, h21=1.0),
        turnover=0.18, uses_per_entry=0.15, sensor_name="door"),
    "sports_ground": Rhythm(
        _hours(h5=0.6, h6=1.3, h7=1.1, h8=0.5, h9=0.3, h10=0.3, h11=0.3, h12=0.2, h13=0.3, h14=0.3, h15=0.3,
               h16=0.6, h17=1.2, h18=1.7, h19=1.8, h20=1.4, h21=0.7),
        _hours(h6=1.0, h7=1.2, h8=1.3, h9=1.4, h10=1.3, h11=0.9, h12=0.6, h13=0.8, h14=1.2, h15=1.4, h16=1.6,
               h17=1.6, h18=1.7, h19=1.6, h20=1.2, h21=0.6),
        turnover=0.25, sensor_name="gate"),
    # weekday mornings, lunch served, quiet afternoons and weekends
    "elderly_care": Rhythm(
        _hours(h7=0.5, h8=1.2, h9=1.7, h10=1.8, h11=1.6, h12=1.1, h13=0.6, h14=0.7, h15=0.6, h16=0.4, h17=0.2),
        _hours(0.1, h8=0.5, h9=0.7, h10=0.7, h11=0.6, h12=0.4, h13=0.3, h14=0.3, h15=0.3, h16=0.2),
        turnover=0.08, sensor_name="room"),
    # rehearsals and classes, plus sparse performances: weekend afternoons, some evenings
    "cultural_hall": Rhythm(
        _hours(0.4), _hours(0.5), turnover=0.06, sensor_name="hall",
        events=(Event(False, 19, 21, 0.3), Event(True, 14, 17, 0.6), Event(True, 19, 21, 0.4))),
    "community_center": Rhythm(
        _hours(h8=0.6, h9=1.1, h10=1.3, h11=1.1, h12=0.4, h13=0.6, h14=1.0, h15=1.2, h16=1.0, h17=0.7, h18=0.7,
               h19=1.1, h20=1.0, h21=0.5),
        _hours(h9=1.2, h10=1.4, h11=1.2, h12=0.6, h13=0.8, h14=1.2, h15=1.3, h16=1.1, h17=0.8),
        turnover=0.15, sensor_name="door"),
}
DEFAULT_RHYTHM = Rhythm(_hours(1.0), _hours(1.0), turnover=0.15)
NIGHT_SHAPE = _hours(0.0, h19=0.6, h20=1.0, h21=1.0, h22=0.8, h23=0.5)


def rhythm_for(facility_type: str) -> Rhythm:
    return RHYTHMS.get(facility_type, DEFAULT_RHYTHM)


def base_weight(rhythm: Rhythm, weekday: int, minute: int) -> float:
    """The rhythm's weight without events at `minute` of a day (may exceed 1440 for periods past midnight)."""
    day = (weekday + minute // DAY_MINUTES) % 7
    table = rhythm.weekend if day >= 5 else rhythm.weekday
    return table[(minute // 60) % 24]


def event_hits(rhythm: Rhythm, weekday: int, minute: int) -> list[Event]:
    """The rhythm's events that would cover this minute of a day of this weekday."""
    hour = (minute // 60) % 24
    weekend = (weekday + minute // DAY_MINUTES) % 7 >= 5
    return [e for e in rhythm.events if e.weekend == weekend and e.start <= hour < e.end]


def week_spans(facility: Facility) -> tuple[tuple[int, int], ...]:
    """Opening periods as (start, end) minutes of the week from Monday 00:00; an end may pass the week's end."""
    spans = []
    for weekday in range(7):
        for span in facility.hours_on(weekday):
            start = weekday * DAY_MINUTES + span.start.hour * 60 + span.start.minute
            spans.append((start, start + span.minutes))
    return tuple(spans)


@lru_cache(maxsize=4096)
def mean_weight(facility: Facility) -> float:
    """Expected rhythm weight averaged over a week's opening slots, so `rate` becomes the mean occupancy share."""
    rhythm = rhythm_for(facility.type)
    total, slots = 0.0, 0
    for start, end in week_spans(facility):
        weekday = start // DAY_MINUTES
        for minute in range(start % DAY_MINUTES, start % DAY_MINUTES + end - start, SLOT_MINUTES):
            expected = base_weight(rhythm, weekday, minute)
            expected += sum(e.chance * e.amp for e in event_hits(rhythm, weekday, minute))
            total += expected
            slots += 1
    return total / slots if slots else 1.0


def open_minutes_before(spans: tuple[tuple[int, int], ...], weekly: int, minute: int) -> int:
    """Minutes of opening hours between a Monday at the epoch and `minute` (local minutes since that Monday).

    A clock that runs only while the facility is open: the offline profile's silent stretches are measured on
    it, so they cover the same share of opening hours whatever the schedule.
    """
    weeks, rest = divmod(minute, WEEK_MINUTES)
    total = weeks * weekly  # every period of the weeks before, whole
    for start, end in spans:
        total += max(0, min(end, rest) - start)  # this week's, up to `minute`
        total -= max(0, end - WEEK_MINUTES - rest)  # last week's Sunday period past midnight, not yet over
    return total


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson draw (Knuth's method for small means, a rounded normal for larger ones: close enough here)."""
    if lam <= 0:
        return 0
    if lam >= 12:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
