"""The per-facility integrity detectors: data that must fire, and a near miss that must not."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.analysis.model import Detector
from analytics.integrity.days import CHECK_COLUMNS
from analytics.integrity.rules import IntegrityThresholds
from analytics.integrity.series import FacilityDays, copied_days, flat_line, impossible_counts, too_regular
from facmon.core.i18n import using

LIMITS = IntegrityThresholds()
DAYS = list(range(739530, 739530 + 10))


def table(**columns: list[float]) -> pd.DataFrame:
    base = {"open_slots": 40.0, "covered_slots": 40.0, "occ_sum": 400.0, "occ_slots": 40.0, "entries_sum": 0.0,
            "entries_slots": 0.0, "uses_sum": 0.0, "uses_slots": 0.0, "active": True}
    frame = pd.DataFrame({k: [v] * len(DAYS) for k, v in base.items()}, index=pd.Index(DAYS, name="day"))
    frame["occ_sum"] = [400.0 + 17 * n for n in range(len(DAYS))]  # honest days differ
    for name, values in columns.items():
        frame[name] = values
    return frame


def checks(**columns: list[float]) -> pd.DataFrame:
    frame = pd.DataFrame({c: [0.0] * len(DAYS) for c in CHECK_COLUMNS}, index=pd.Index(DAYS, name="day"))
    for name, values in columns.items():
        frame[name] = values
    return frame


def peaks(rows: list[list[float]]) -> pd.DataFrame:
    return pd.DataFrame([(0, day, value) for day, row in zip(DAYS, rows, strict=False) for value in row],
                        columns=["fac", "day", "peak"])


def days(capacity: int = 100, **parts: object) -> FacilityDays:
    data = {"table": table(), "checks": checks(), "peaks": peaks([])}
    data.update(parts)
    return FacilityDays(capacity, **data)  # type: ignore[arg-type]


def test_flat_line_fires_on_hours_of_one_value_and_not_on_a_day_short():
    stuck = checks(flat_slots=[25] * 3 + [2] * 7, flat_value=[37.0] * 10)
    finding = flat_line(days(checks=stuck), LIMITS)
    assert finding is not None
    assert finding.detector is Detector.FLAT_LINE
    assert finding.reason.startswith("occupancy constant at 37 for up to 6 h 15 min on 3 open days")
    assert finding.evidence["days"] == 3
    near = checks(flat_slots=[25] * 2 + [11] * 8, flat_value=[37.0] * 10)  # 2 days, and 2 h 45 min on the others
    assert flat_line(days(checks=near), LIMITS) is None


def test_copied_days_fire_on_repeated_profiles_and_not_on_noisy_ones():
    rng = np.random.default_rng(3)
    shape = np.array([5, 12, 20, 26, 18, 15, 22, 30, 25, 10], dtype=float)
    copies = [list(shape + rng.choice([0.0, 0.5], len(shape))) for _ in range(5)]
    honest = [list(np.round(shape * rng.uniform(0.75, 1.25) + rng.normal(0, 3, len(shape)))) for _ in range(5)]
    finding = copied_days(days(peaks=peaks(copies + honest)), LIMITS)
    assert finding is not None
    assert finding.evidence["days"] == 5
    assert "5 of 10 open days" in finding.reason
    three = copies[:3] + honest + honest[:2]  # 3 copies (and honest days, different from each other)
    three[8] = list(np.array(three[8]) + 7)
    three[9] = list(np.array(three[9]) - 4)
    assert copied_days(days(peaks=peaks(three)), LIMITS) is None


def test_copied_days_ignore_quiet_and_short_days():
    quiet = [[0, 1, 0, 2, 1, 0, 1, 0, 1, 1]] * 10  # the same, but below copy_min_people
    assert copied_days(days(peaks=peaks(quiet)), LIMITS) is None
    short = [[0, 0, 0, 0, 0, 9, 12, 10, 8, 0]] * 10  # the same, but only 4 hours in use
    assert copied_days(days(peaks=peaks(short)), LIMITS) is None


def test_impossible_counts_over_capacity():
    crowded = peaks([[60, 80, 170, 160]] + [[60, 80]] * 9)
    finding = impossible_counts(days(capacity=100, peaks=crowded), LIMITS)
    assert finding is not None
    assert "above 150% of capacity 100 in 2 hours (highest 170)" in finding.reason
    one_hour = peaks([[60, 80, 170, 150]] + [[60, 80]] * 9)  # 150 is not above 150%
    assert impossible_counts(days(capacity=100, peaks=one_hour), LIMITS) is None


def test_impossible_counts_unexplained_changes():
    forged = checks(unexplained=[30.0] * 10, moves=[200.0] * 10)  # 300 of 2,000: 15%
    finding = impossible_counts(days(checks=forged), LIMITS)
    assert finding is not None
    assert "occupancy changed by 300 people more than entries and exits allow (15% of 2,000 counted" in finding.reason
    near = checks(unexplained=[19.0] * 10, moves=[200.0] * 10)  # 9.5%
    assert impossible_counts(days(checks=near), LIMITS) is None


def test_a_findings_reason_reads_in_chinese_with_the_same_numbers():
    """An auditor reading Chinese gets the sentence in Chinese and every figure of the English one; the codes
    (detector, evidence keys) do not change."""
    stuck = checks(flat_slots=[25] * 3 + [2] * 7, flat_value=[37.0] * 10)
    forged = checks(unexplained=[30.0] * 10, moves=[200.0] * 10)
    with using("zh_CN"):
        flat = flat_line(days(checks=stuck), LIMITS)
        counts = impossible_counts(days(checks=forged), LIMITS)
    assert flat is not None
    assert counts is not None
    assert flat.detector is Detector.FLAT_LINE
    assert flat.evidence["days"] == 3
    assert flat.reason == (
        "读数无变化：3 个开放日内在场人数固定为 37，最长持续 6 小时 15 分钟"
        "（判定标准：不少于 3 天、每次不少于 3 小时）")
    assert counts.reason == (
        "在场人数的变化比进出人数所能解释的多出 300 人（占计数 2,000 人次的 15%；> 10%）")
    english = flat_line(days(checks=stuck), LIMITS)
    assert english is not None
    assert english.reason.startswith("occupancy constant at 37")


def test_impossible_counts_exits_beyond_entries():
    t = table(entries_sum=[100.0] * 10, entries_slots=[40.0] * 10)
    many = checks(exits_sum=[140.0, 136.0] + [100.0] * 8, exits_slots=[40.0] * 10)
    finding = impossible_counts(days(table=t, checks=many), LIMITS)
    assert finding is not None
    assert "on 2 days (up to 40)" in finding.reason
    near = checks(exits_sum=[140.0, 135.0] + [100.0] * 8, exits_slots=[40.0] * 10)  # 35 = 25% + 10: allowed
    assert impossible_counts(days(table=t, checks=near), LIMITS) is None


def test_impossible_counts_activity_while_closed():
    finding = impossible_counts(days(closed_active_slots=4, closure_reasons=("renovation",)), LIMITS)
    assert finding is not None
    assert finding.reason == "activity on closure days (renovation) in 1 h of opening hours"
    assert impossible_counts(days(closed_active_slots=3), LIMITS) is None


def test_too_regular_same_totals():
    t = table(entries_sum=[288.0] * 5 + [250.0, 301.0, 199.0, 276.0, 240.0], entries_slots=[40.0] * 10)
    finding = too_regular(days(table=t), LIMITS)
    assert finding is not None
    assert "the same daily total (288 visits) on 5 of 10 open days" in finding.reason
    near = table(entries_sum=[288.0] * 4 + [250.0, 301.0, 199.0, 276.0, 240.0, 262.0], entries_slots=[40.0] * 10)
    assert too_regular(days(table=near), LIMITS) is None


def test_too_regular_round_numbers():
    rounded = checks(round_hits=[6.0] * 10, round_base=[10.0] * 10)
    finding = too_regular(days(checks=rounded), LIMITS)
    assert finding is not None
    assert finding.evidence["round_values"] == 60
    near = checks(round_hits=[5.9] * 10, round_base=[10.0] * 10)
    assert too_regular(days(checks=near), LIMITS) is None
