"""The own-days detectors judge all facilities of a run at once: each by its own type's thresholds, capacity and
closure days, whatever order the rows come in, and as it would be judged alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.analysis.figures import DAY_COLUMNS, Days
from analytics.analysis.model import Detector, Figures, Finding, Integrity
from analytics.analysis.rules import Thresholds
from analytics.integrity import assess as integrity
from analytics.integrity.days import CHECK_COLUMNS
from analytics.integrity.rules import IntegrityThresholds
from analytics.integrity.series import FacilityDays, copied_days, flat_line, impossible_counts, too_regular
from tests.unit.analytics.helpers import facility

FIRST = 739530
DAYS = list(range(FIRST, FIRST + 10))
SHAPE = np.array([10, 12, 20, 26, 18, 15, 22, 30], dtype=float)
STRICT = IntegrityThresholds(flat_min_days=2, copy_tolerance=0.0, copy_min_days=2, max_capacity_ratio=1.2,
                             unexplained_share=0.02, unexplained_min_people=10, regular_same_share=0.4)


def day_rows(fac: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Ten days of one facility: two flat runs, four near-copies of one profile, two crowded hours, 288 visits
    on four days, 30 unexplained people of 1,000 counted."""
    index = pd.MultiIndex.from_arrays([[fac] * len(DAYS), DAYS], names=["fac", "day"])
    table = pd.DataFrame({c: [40.0] * len(DAYS) for c in DAY_COLUMNS if c != "active"}, index=index)
    table["occ_sum"] = [400.0 + 17 * n for n in range(len(DAYS))]
    table["entries_sum"] = [288.0] * 4 + [250.0, 301.0, 199.0, 276.0, 240.0, 262.0]
    table[["uses_sum", "uses_slots"]] = 0.0
    table["active"] = True
    checks = pd.DataFrame({c: [0.0] * len(DAYS) for c in CHECK_COLUMNS}, index=index)
    checks["flat_slots"] = [2.0, 25.0, 2.0, 25.0] + [2.0] * 6
    checks["flat_value"] = [50.0, 37.0, 50.0, 40.0] + [50.0] * 6
    checks["unexplained"], checks["moves"] = 3.0, 100.0
    near = [SHAPE, *(SHAPE + 0.5 * (np.arange(len(SHAPE)) == hour) for hour in range(3))]
    profiles = [np.array([10, 20, 130, 140, 60, 30, 20, 10.0]), *near, *(SHAPE * k for k in (0.5, 0.7, 1.4, 1.8, 2.2))]
    peaks = pd.DataFrame([(fac, day, value) for day, profile in zip(DAYS, profiles, strict=True) for value in profile],
                         columns=["fac", "day", "peak"])
    return table, checks, peaks


def shuffled(frames: list[pd.DataFrame], seed: int) -> pd.DataFrame:
    return pd.concat(frames).sample(frac=1, random_state=seed)


def test_each_facility_is_judged_by_its_own_thresholds_capacity_and_closures():
    # Codes 0, 1, 3 hold the same days; 1 is of a type with stricter thresholds, 3 has a smaller capacity and
    # activity on a closure day; 2 has no days at all. Rows come facility by facility in another order.
    parts = [day_rows(code) for code in (1, 3, 0)]
    days = Days(shuffled([p[0] for p in parts], 1), pd.concat([p[2] for p in parts], ignore_index=True),
                shuffled([p[1] for p in parts], 2))
    facilities = [facility("lib-1"), facility("gym-1", type="gym"), facility("lib-2"), facility("lib-3", capacity=50)]
    limits = [Thresholds(), Thresholds(integrity=STRICT), Thresholds(), Thresholds()]
    found = integrity.assess(days, facilities, limits, [Figures()] * 4, {0: 3, 3: 4}, [(), (), (), ("renovation",)])
    copies = Finding(Detector.COPIED_DAYS, "daily profile repeated: the hourly peaks of 4 of 10 open days match "
                     "another day's within 5% (≥ 4 days)",
                     {"days": 4, "compared_days": 10, "tolerance": 0.05, "min_days": 4})
    assert found[0] == Integrity((copies,))
    assert found[1] == Integrity((
        Finding(Detector.FLAT_LINE, "occupancy constant at 40 for up to 6 h 15 min on 2 open days (≥ 3 h on ≥ 2 days)",
                {"days": 2, "longest_hours": 6.25, "value": 40.0, "min_hours": 3.0, "min_days": 2}),
        Finding(Detector.IMPOSSIBLE_COUNTS, "occupancy above 120% of capacity 100 in 2 hours (highest 140); "
                "occupancy changed by 30 people more than entries and exits allow (3% of 1,000 counted; > 2%)",
                {"over_capacity_hours": 2, "highest": 140.0, "unexplained_people": 30.0,
                 "counted_movements": 1000.0}),
        Finding(Detector.TOO_REGULAR, "the same daily total (288 visits) on 4 of 10 open days (40% ≥ 40%)",
                {"same_total_days": 4, "total": 288.0, "days_with_use": 10}),
    ))
    assert found[2] == Integrity()
    assert found[3] == Integrity((copies, Finding(
        Detector.IMPOSSIBLE_COUNTS, "occupancy above 150% of capacity 50 in 2 hours (highest 140); "
        "activity on closure days (renovation) in 1 h of opening hours",
        {"over_capacity_hours": 2, "highest": 140.0, "closed_activity_hours": 1.0})))


def test_the_first_of_equally_common_totals_is_reported():
    table, checks, peaks = day_rows(0)
    table = table.droplevel("fac")
    table["entries_sum"] = [250.0, 301.0, 288.0, 250.0, 288.0, 199.0, 288.0, 250.0, 276.0, 240.0]
    loose = IntegrityThresholds(regular_same_share=0.3)
    finding = too_regular(FacilityDays(100, table, checks.droplevel("fac"), peaks), loose)
    assert finding is not None
    assert finding.reason.startswith("the same daily total (250 visits) on 3 of 10 open days")


def random_days(rng: np.random.Generator, count: int) -> Days:
    """Facilities of varied sizes: days without exits or entries, quiet and copied days, crowds, flat runs."""
    tables, checks, peaks = [], [], []
    for fac in range(count):
        days = np.sort(rng.choice(np.arange(FIRST, FIRST + 60), int(rng.choice([0, 1, 5, 12, 28, 45])), replace=False))
        index = pd.MultiIndex.from_arrays([np.full(len(days), fac), days], names=["fac", "day"])
        size = len(days)
        counts = rng.choice([0.0, 40.0], size) if fac % 3 == 0 else np.full(size, 40.0)
        entries = rng.choice([288.0, 288.0, 250.0, 0.0], size) + rng.integers(0, 3, size) * (fac % 2)
        table = pd.DataFrame({"open_slots": 40.0, "covered_slots": rng.choice([0.0, 40.0, 40.0, 40.0], size),
                              "occ_sum": rng.choice([0.0, 400.0, 512.5], size),
                              "occ_slots": rng.choice([0.0, 40.0], size),
                              "entries_sum": entries if fac % 4 else 0.0, "entries_slots": counts if fac % 4 else 0.0,
                              "uses_sum": entries, "uses_slots": counts, "active": True}, index=index)
        check = pd.DataFrame({"flat_slots": rng.choice([0.0, 4.0, 13.0, 25.0], size),
                              "flat_value": rng.choice([12.0, 37.0, 37.5], size),
                              "unexplained": rng.random(size) * rng.choice([1.0, 40.0]),
                              "moves": rng.random(size) * 300,
                              "exits_sum": entries * rng.choice([0.9, 1.0, 1.4], size) + 11,
                              "exits_slots": rng.choice([0.0, 40.0], size),
                              "round_hits": rng.integers(0, 8, size) * 1.0,
                              "round_base": rng.integers(3, 10, size) * 1.0}, index=index)
        shapes = [rng.integers(0, 40, int(rng.integers(4, 12))).astype(float) for _ in range(2)]
        for day in days:
            kind = rng.integers(0, 4)
            if kind == 0:  # a copy, exactly or nearly
                shape = shapes[int(rng.integers(0, 2))]
                vector = shape + rng.choice([0.0, 0.5], len(shape)) * rng.integers(0, 2)
            elif kind == 1:  # quiet
                vector = rng.integers(0, 3, int(rng.integers(0, 10))).astype(float)
            else:
                vector = np.round(rng.random(int(rng.integers(0, 12))) * rng.choice([30, 200]), 3)
            peaks.extend((fac, int(day), float(v)) for v in vector)
        tables.append(table)
        checks.append(check)
    peak_frame = pd.DataFrame(peaks, columns=["fac", "day", "peak"]).astype({"fac": np.int64, "day": np.int64})
    return Days(shuffled(tables, 3), peak_frame, shuffled(checks, 4))


def alone(days: Days, code: int, capacity: int, closed: int, reasons: tuple[str, ...]) -> FacilityDays:
    def own(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame.index.get_level_values("fac") == code].droplevel("fac").sort_index()

    return FacilityDays(capacity, own(days.table), own(days.checks), days.peaks[days.peaks["fac"] == code],
                        closed, reasons)


def test_a_run_finds_what_each_facility_alone_would():
    rng = np.random.default_rng(7)
    count = 40
    days = random_days(rng, count)
    kinds = [IntegrityThresholds(), STRICT, IntegrityThresholds(copy_min_days=2, copy_min_people=1, regular_min_days=3,
                                                                regular_same_share=0.2, regular_min_values=10,
                                                                regular_round_share=0.4, exit_excess_min_days=1)]
    limits = [Thresholds(integrity=kinds[code % 3]) for code in range(count)]
    capacity = [int(rng.choice([20, 60, 150])) for _ in range(count)]
    facilities = [facility(f"f-{code}", capacity=capacity[code]) for code in range(count)]
    closed = {code: int(rng.integers(0, 8)) for code in range(0, count, 2)}
    reasons = [("holiday",) if code % 5 == 0 else () for code in range(count)]
    found = integrity.assess(days, facilities, limits, [Figures()] * count, closed, reasons)
    fired = 0
    for code in range(count):
        data = alone(days, code, capacity[code], closed.get(code, 0), reasons[code])
        each = [detector(data, limits[code].integrity) for detector in (flat_line, copied_days, impossible_counts,
                                                                        too_regular)]
        assert found[code].findings == tuple(f for f in each if f is not None), code
        fired += len(found[code].findings)
    assert fired >= count  # the data make every detector fire somewhere
    assert {f.detector for result in found for f in result.findings} == {
        Detector.FLAT_LINE, Detector.COPIED_DAYS, Detector.IMPOSSIBLE_COUNTS, Detector.TOO_REGULAR}
