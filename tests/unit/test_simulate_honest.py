"""The simulator's honest patterns of issue 14 are what they claim to be, so that "no detector flags them"
(tests/unit/analytics/test_integrity_honest.py) is said of the real thing: mostly zeros, days shared by a region
but not its visitors, a class at the same hour every week, two days without a reading, uploads every few hours."""

from __future__ import annotations

import statistics
from datetime import date
from itertools import pairwise

import pytest

from bench.integrity_frames import facility_entry, registry_of
from sensors.simulator.plan import SimSensor, plan
from sensors.simulator.simulate import day_messages, day_readings

FIRST = date(2026, 10, 5).toordinal()  # a Monday
DAYS = range(FIRST, FIRST + 28)
SEEDS = [1, 2, 3]


def sensors(*entries: tuple[str, str, str]) -> dict[str, SimSensor]:
    found, _ = plan(registry_of([facility_entry(*entry) for entry in entries]))
    return {s.facility.id: s for s in found}


def occupancy(sensor: SimSensor, seed: int, ordinal: int) -> list[int]:
    return [m.reading["occupancy"] for m in day_readings(sensor, seed, ordinal) if not m.closing]


def entries(sensor: SimSensor, seed: int) -> list[int]:
    return [sum(m.reading["entries"] for m in day_readings(sensor, seed, day)) for day in DAYS]


@pytest.mark.parametrize("seed", SEEDS)
def test_a_quiet_facility_is_mostly_zeros_with_a_visitor_now_and_then_every_day(seed: int) -> None:
    sensor = sensors(("quiet", "community_center", "quiet"))["quiet"]
    days = [occupancy(sensor, seed, day) for day in DAYS]
    values = [v for day in days for v in day]
    assert sum(v == 0 for v in values) / len(values) > 0.55
    assert all(max(day) > 0 for day in days)


@pytest.mark.parametrize("seed", SEEDS)
def test_neighbours_share_their_days_but_not_their_visitors(seed: int) -> None:
    found = sensors(("a", "library", "neighbour"), ("b", "library", "neighbour"), ("c", "library", "normal"))
    a, b, c = (entries(found[fid], seed) for fid in "abc")
    assert statistics.correlation(a, b) > 0.6  # the same weather, holidays and local events
    assert abs(statistics.correlation(a, c)) < statistics.correlation(a, b)
    assert all(occupancy(found["a"], seed, day) != occupancy(found["b"], seed, day) for day in DAYS)


@pytest.mark.parametrize("seed", SEEDS)
def test_weather_swings_every_facility_of_the_region_the_same_way(seed: int) -> None:
    found = sensors(("a", "sports_hall", "weather"), ("b", "library", "weather"))
    a, b = entries(found["a"], seed), entries(found["b"], seed)
    assert max(a) > 2 * min(a)
    assert statistics.correlation(a, b) > 0.6


@pytest.mark.parametrize("seed", SEEDS)
def test_a_weekly_class_meets_on_one_weekday_at_the_same_hour_with_similar_attendance(seed: int) -> None:
    sensor = sensors(("class", "community_center", "weekly_class"))["class"]
    peaks = {day: max(occupancy(sensor, seed, day)) for day in DAYS}
    class_days = [day for day, peak in peaks.items() if peak >= 20]  # 30 % of 100: a class of about 30
    assert len(class_days) == 4
    assert len({date.fromordinal(day).weekday() for day in class_days}) == 1
    assert max(peaks[d] for d in class_days) - min(peaks[d] for d in class_days) <= 8
    starts = set()
    for day in class_days:
        items = [m for m in day_readings(sensor, seed, day) if not m.closing]
        starts.add(next(m.minute for m in items if m.reading["occupancy"] >= 15))  # half the class
    assert len(starts) == 1


@pytest.mark.parametrize("seed", SEEDS)
def test_a_two_day_outage_records_and_sends_nothing_for_two_days_in_a_row(seed: int) -> None:
    sensor = sensors(("down", "library", "outage"))["down"]
    silent = [day for day in DAYS if not day_readings(sensor, seed, day)]
    assert len(silent) == 2
    assert silent[1] == silent[0] + 1
    assert all(not day_messages(sensor, seed, day) for day in silent)


@pytest.mark.parametrize("seed", SEEDS)
def test_a_buffering_device_uploads_every_reading_in_arrays_every_few_hours(seed: int) -> None:
    sensor = sensors(("buf", "library", "buffered"))["buf"]
    for day in DAYS[:7]:
        sent = [m for m in day_messages(sensor, seed, day) if m.kind == "reading"]
        assert all(m.batch for m in sent)
        assert sorted(t for m in sent for t in m.times) == [m.epoch for m in day_readings(sensor, seed, day)]
        assert all(0 < m.send_at - t <= 3 * 3600 + 600 for m in sent for t in m.times)
        assert all(b.send_at - a.send_at >= 2 * 3600 for a, b in pairwise(sent))
        assert len(sent) >= 4  # 08:30-20:30: four or five uploads
