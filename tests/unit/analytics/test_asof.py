"""analytics.analysis.asof: an as-of is in the future where the facility is, not where the machine is."""

from __future__ import annotations

from datetime import UTC, date, datetime

from analytics.analysis.asof import future_problem, window_bounds
from facmon.core.clock import PinnedClock
from tests.unit.analytics.helpers import facility

#: 16:30 UTC: already 2 December in Shanghai, still 1 December in Berlin.
CLOCK = PinnedClock(datetime(2026, 12, 1, 16, 30, tzinfo=UTC), frozen=True)
SHANGHAI, BERLIN = facility("sh"), facility("be", timezone="Europe/Berlin")


def test_the_as_of_is_judged_in_each_facilitys_zone():
    assert future_problem(date(2026, 12, 2), [SHANGHAI], CLOCK) is None
    problem = future_problem(date(2026, 12, 2), [SHANGHAI, BERLIN], CLOCK)
    assert problem is not None
    assert problem.startswith("--as-of 2026-12-02 is after today (2026-12-01 in Europe/Berlin)")
    assert future_problem(date(2026, 12, 1), [SHANGHAI, BERLIN], CLOCK) is None


def test_the_bounds_hold_every_zones_window_and_hours_past_midnight():
    start, end = window_bounds(date(2026, 11, 3), 7, [SHANGHAI, BERLIN])
    assert start == datetime(2026, 10, 26, 16, tzinfo=UTC)  # midnight 27 October in Shanghai
    assert end == datetime(2026, 11, 3, 23, tzinfo=UTC)  # midnight 4 November in Berlin (CET)
