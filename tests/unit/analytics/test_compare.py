"""Comparisons with the previous window and with facilities of the same type."""

from __future__ import annotations

import pytest

from analytics.analysis.compare import change, type_percentiles
from analytics.analysis.model import Figures, Status

A, IDLE, N = Status.ACTIVE, Status.IDLE, Status.NO_DATA


def occ(rate: float | None) -> Figures:
    return Figures(occupancy_rate=rate, coverage=1.0)


def test_change_is_current_minus_previous_where_both_exist():
    now = Figures(coverage=0.9, occupancy_rate=0.3, visits_per_open_day=10.0)
    before = Figures(coverage=0.5, occupancy_rate=None, visits_per_open_day=4.0)
    assert change(now, before) == {
        "coverage": pytest.approx(0.4), "occupancy_rate": None, "peak_rate": None,
        "visits_per_open_day": 6.0, "uses_per_open_day": None, "idle_day_share": None,
    }


def test_percentile_is_the_share_of_same_type_peers_ranking_lower():
    entries = [("library", A, occ(0.3)), ("library", A, occ(0.1)), ("library", IDLE, occ(0.2)),
               ("library", A, occ(0.4)), ("pool", A, occ(0.9))]
    assert type_percentiles(entries) == [(pytest.approx(200 / 3), 3), (0.0, 3), (pytest.approx(100 / 3), 3),
                                         (100.0, 3), (None, 0)]


def test_untrustworthy_statuses_and_other_bases_are_not_peers():
    counts = Figures(visits_per_open_day=50.0, coverage=1.0)
    entries = [("library", A, occ(0.3)), ("library", N, occ(0.0)), ("library", A, counts),
               ("library", A, Figures(visits_per_open_day=20.0)), ("library", A, Figures())]
    assert type_percentiles(entries) == [(None, 0), (None, 0), (100.0, 1), (0.0, 1), (None, 0)]


def test_ties_are_not_counted_as_lower():
    assert type_percentiles([("gym", A, occ(0.2)), ("gym", A, occ(0.2)), ("gym", A, occ(0.1))]) == [
        (50.0, 2), (50.0, 2), (0.0, 2)]
