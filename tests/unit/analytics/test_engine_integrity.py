"""The engine's integrity step (issue 18): each group's current days, renumbered to run codes and joined one kind of
rows at a time while the groups' copies are let go, are judged exactly as the days joined at once would be."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from analytics.analysis import engine
from analytics.analysis.figures import Days
from analytics.analysis.model import Figures
from analytics.analysis.rules import Rules
from analytics.integrity import assess as integrity
from analytics.integrity.series import Rows
from tests.unit.analytics.helpers import facility
from tests.unit.analytics.test_integrity_vectorized import day_rows

AS_OF = date(2026, 12, 2)


def group_days(codes: list[int]) -> Days:
    """Days of the facilities at these positions of a group (day_rows: findings of several detectors)."""
    if not codes:
        return Days.empty()
    parts = [day_rows(code) for code in codes]
    days = Days(pd.concat([p[0] for p in parts]), pd.concat([p[2] for p in parts], ignore_index=True),
                pd.concat([p[1] for p in parts]))
    prints = pd.DataFrame({"fac": np.array(codes, np.int64), "day": np.full(len(codes), 739_531, np.int64),
                           "fp": np.full(len(codes), 77, np.int64)})  # one shared series: clones
    hours = np.arange(len(codes), dtype=np.int64) + 17_748_000
    arrivals = pd.DataFrame({"fac": np.array(codes, np.int64), "day": np.full(len(codes), 739_531, np.int64),
                             "hour": hours, "arrival": np.linspace(10.0, 90_000.0, len(codes)),
                             "uncertainty": np.zeros(len(codes))})
    return Days(days.table, days.peaks, days.checks, prints, arrivals)


def test_the_run_is_judged_on_the_groups_days_joined_and_the_groups_let_them_go():
    facilities = [facility(f"f-{i:02d}", type=("library", "gym")[i % 2]) for i in range(9)]
    ordered = sorted(facilities, key=lambda f: f.id)
    groups = [[facilities[4], facilities[0], facilities[7]], [facilities[8]], [facilities[2], facilities[1]],
              [facilities[3], facilities[5], facilities[6]]]
    currents = [group_days([0, 2]), Days.empty(), group_days([1]), group_days([0, 1, 2])]
    closed = [{1: 5}, {}, {}, {2: 9}]
    parts = [engine.GroupResult([], k, 2 * k, 3 * k, days, active)
             for k, (days, active) in enumerate(zip(currents, closed, strict=True))]
    before = list(parts)
    position = {f.id: index for index, f in enumerate(ordered)}
    codes = [np.array([position[f.id] for f in group], np.int64) for group in groups]
    joined = Days.concat([days.recode(c) for days, c in zip(currents, codes, strict=True)])
    limits = [Rules().for_type(f.type) for f in ordered]
    reasons = [engine.closure_reasons(f, engine.windows(AS_OF, 28, f.timezone)[0]) for f in ordered]
    active = {int(c[code]): slots for c, part in zip(codes, closed, strict=True) for code, slots in part.items()}
    expected = integrity.assess(joined, ordered, limits, [Figures()] * 9, active, reasons)

    found = engine.check_integrity(ordered, groups, parts, [Figures()] * 9, Rules(), AS_OF, 28)

    assert found == expected
    assert sum(len(flag.findings) for flag in found) >= 6
    assert all(len(part.current.table) == 0 for part in parts)
    assert [(p.stored_days, p.raw_days, p.saved, p.closed_active) for p in parts] == [
        (p.stored_days, p.raw_days, p.saved, p.closed_active) for p in before]


def test_days_joined_a_kind_at_a_time_are_those_joined_at_once():
    rng = np.random.default_rng(18)
    pieces = [group_days(sorted(rng.choice(5, int(rng.integers(1, 4)), replace=False).tolist())) for _ in range(4)]
    pieces.insert(2, Days.empty())
    pieces.insert(1, Days(Days.empty().table, group_days([3]).peaks))  # rows without days: left out, as concat does
    expected = Days.concat(pieces)
    given = list(pieces)
    found = engine._joined(given)
    assert given == []
    for name in ("prints", "arrivals"):
        pd.testing.assert_frame_equal(getattr(found, name), getattr(expected, name))
    # What the checks read as Rows comes sorted by (facility, day), rows of a day in their order (a stable sort):
    # Rows.of then takes views, and sees the same rows in the same order as from the unsorted concat.
    for name, indexed in (("table", True), ("checks", True), ("peaks", False)):
        frame, whole = getattr(found, name), getattr(expected, name)
        fac = np.asarray(whole.index.get_level_values("fac") if indexed else whole["fac"], np.int64)
        day = np.asarray(whole.index.get_level_values("day") if indexed else whole["day"], np.int64)
        order = np.lexsort((day, fac))
        want = whole.take(order) if indexed else whole.take(order).reset_index(drop=True)
        pd.testing.assert_frame_equal(frame, want)
        assert not (order == np.arange(len(order))).all()  # the pieces did come out of order
        names = [c for c in frame.columns if c not in ("fac", "day") and frame[c].dtype != bool]
        sorted_rows = Rows.of(*_codes(frame, indexed), frame, names, 5)
        unsorted_rows = Rows.of(*_codes(whole, indexed), whole, names, 5)
        for column in names:
            np.testing.assert_array_equal(sorted_rows[column], unsorted_rows[column])
    empty = engine._joined([Days.empty()])
    pd.testing.assert_frame_equal(empty.table, Days.empty().table)


def _codes(frame, indexed):
    if indexed:
        return frame.index.get_level_values("fac"), frame.index.get_level_values("day")
    return frame["fac"], frame["day"]
