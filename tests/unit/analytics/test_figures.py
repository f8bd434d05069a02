"""Figures from hand-made 15-minute rows, every value worked out by hand in the comments."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.analysis import figures
from analytics.analysis.figures import Days
from analytics.analysis.model import Figures
from analytics.analysis.schedule import slot_grid, windows
from tests.unit.analytics.helpers import facility, readings, slot_of

AS_OF = date(2025, 10, 8)  # 2-day windows: current Mon 10-06 and Tue 10-07, previous Sat 10-04 and Sun 10-05
MON, TUE, SUN = date(2025, 10, 6), date(2025, 10, 7), date(2025, 10, 5)
ONE_HOUR = {day: ["09:00-10:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def run(facilities, rows):
    grids, first_days = [], []
    for f in facilities:
        current, previous = windows(AS_OF, 2, f.timezone)
        grids.append((slot_grid(f, previous.first_day, current.last_day), current.first_day.toordinal()))
        first_days.append(current.first_day.toordinal())
    return figures.compute(figures.grid_frame(grids), readings(rows), first_days, [f.capacity for f in facilities])


def quarter(day, n):
    """The n-th quarter hour after 09:00 local."""
    return slot_of(day, 9, 15 * n)


TWO_SENSORS = [
    # Monday: sensor 1 has 2 people all hour, sensor 2 has 4 in the first quarter -> 6, 2, 2, 2
    *[(0, quarter(MON, n), 2.0, None, None) for n in range(4)],
    (0, quarter(MON, 0), 4.0, None, None),
    # Tuesday: only the first half hour, nobody there, no entries; busy at 02:00 (cleaning) which must not count
    (0, quarter(TUE, 0), 0.0, 0.0, None),
    (0, quarter(TUE, 1), 0.0, None, None),
    (0, slot_of(TUE, 2), 9.0, 5.0, None),
    # Sunday (previous window): 5 people all hour
    *[(0, quarter(SUN, n), 5.0, None, None) for n in range(4)],
    # a facility the group does not have
    (7, quarter(MON, 0), 50.0, 50.0, 50.0),
]


def test_figures_sum_sensors_per_slot_and_count_opening_hours_only():
    [(current, previous)] = run([facility(capacity=10, opening_hours=ONE_HOUR)], TWO_SENSORS)
    assert current == Figures(
        open_hours=2.0,
        closed_hours=0.0,
        covered_hours=1.5,  # 4 + 2 quarters
        open_days=2,
        observed_days=2,
        idle_days=1,  # Tuesday: data, but nobody and no entries
        closed_share=0.0,
        coverage=0.75,  # 6 of 8 quarters
        occupancy_rate=pytest.approx(0.2),  # (6 + 2 + 2 + 2 + 0 + 0) / 6 quarters / capacity 10
        peak_rate=pytest.approx(0.57),  # hourly peaks 6 and 0; 95th percentile 0 + 0.95 * 6 = 5.7
        visits_per_open_day=0.0,  # entries reported (0) on Tuesday
        uses_per_open_day=None,
        idle_day_share=0.5,
        reports_occupancy=True,
        reports_entries=True,
        reports_uses=False,
    )
    assert previous.open_hours == 2.0
    assert previous.coverage == 0.5
    assert previous.occupancy_rate == pytest.approx(0.5)
    assert (previous.observed_days, previous.idle_days, previous.visits_per_open_day) == (1, 0, None)


def test_closure_days_are_left_out_and_counted_as_closed_hours():
    f = facility(capacity=20, opening_hours=ONE_HOUR, closures=[{"from": TUE, "to": TUE, "reason": "repairs"}])
    rows = [*[(0, quarter(MON, n), None, 3.0, None) for n in range(4)], (0, quarter(MON, 0), None, None, 1.0),
            *[(0, quarter(TUE, n), None, 100.0, None) for n in range(4)]]
    [(current, _)] = run([f], rows)
    assert (current.open_hours, current.closed_hours, current.closed_share) == (1.0, 1.0, 0.5)
    assert (current.open_days, current.observed_days, current.coverage) == (1, 1, 1.0)
    assert current.occupancy_rate is None
    assert current.peak_rate is None
    assert current.visits_per_open_day == 12.0  # 4 quarters x 3 on Monday; Tuesday's 400 were on a closure day
    assert current.uses_per_open_day == 1.0
    assert current.idle_day_share == 0.0


def test_facilities_without_opening_hours_or_data_get_empty_figures():
    quiet = facility("quiet", opening_hours=ONE_HOUR)
    never = facility("never", opening_hours={})
    (q_now, _), (n_now, n_before) = run([quiet, never], [])
    assert q_now.coverage == 0.0
    assert q_now.open_days == 2
    assert q_now.observed_days == 0
    assert q_now.idle_day_share is None
    assert q_now.occupancy_rate is None
    assert n_now == n_before == Figures()


def test_a_facility_in_a_group_gets_only_its_own_rows():
    a, b = facility("a", capacity=10, opening_hours=ONE_HOUR), facility("b", capacity=10, opening_hours=ONE_HOUR)
    rows = [(1, quarter(MON, n), 8.0, None, None) for n in range(4)]
    (a_now, _), (b_now, _) = run([a, b], rows)
    assert a_now.coverage == 0.0
    assert b_now.coverage == 0.5
    assert b_now.occupancy_rate == pytest.approx(0.8)


def test_day_summaries_add_up_so_days_can_come_from_the_rollup():
    f = facility(capacity=10, opening_hours=ONE_HOUR)
    current, previous = windows(AS_OF, 2, f.timezone)
    grid = figures.grid_frame([(slot_grid(f, previous.first_day, current.last_day), current.first_day.toordinal())])
    open_rows = grid[~grid["closed"]]
    data = readings(TWO_SENSORS)
    whole = figures.day_summaries(open_rows, data)
    monday = open_rows["day"] == MON.toordinal()
    parts = Days.concat([figures.day_summaries(open_rows[monday], data),
                         figures.day_summaries(open_rows[~monday], data)])
    first, capacity = [current.first_day.toordinal()], [10]
    assert figures.figures_by_facility(figures.window_table(parts, grid, first, capacity), 1) == \
        figures.figures_by_facility(figures.window_table(whole, grid, first, capacity), 1)
    assert len(whole.table) == 4
    assert whole.table["open_slots"].tolist() == [4.0, 4.0, 4.0, 4.0]


def test_hourly_peaks_are_kept_to_a_thousandth():
    f = facility(capacity=3, opening_hours=ONE_HOUR)
    rows = [(0, quarter(MON, 0), 1 / 3, None, None)]
    grid = figures.grid_frame([(slot_grid(f, MON, MON), MON.toordinal())])
    days = figures.day_summaries(grid, readings(rows))
    assert days.peaks["peak"].tolist() == [0.333]
