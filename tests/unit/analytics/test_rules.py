"""Rules file and classification: precedence, every threshold at and just past its edge, readable reasons."""

from __future__ import annotations

from dataclasses import replace

import pytest

from analytics.analysis.model import Figures, Fired, Status
from analytics.analysis.rules import Rules, RulesError, Thresholds, classify, load_rules, parse_rules
from facmon.core import i18n

DEFAULTS = Thresholds()
BUSY = Figures(open_hours=224.0, covered_hours=224.0, open_days=28, observed_days=28, idle_days=0,
               closed_share=0.0, coverage=1.0, occupancy_rate=0.3, peak_rate=0.6, visits_per_open_day=300.0,
               idle_day_share=0.0, reports_occupancy=True, reports_entries=True)


def status(figures: Figures, capacity: int = 100, limits: Thresholds = DEFAULTS) -> Status:
    return classify(figures, capacity, limits).status


# -- the rules file ----------------------------------------------------------------------------------------
def test_no_file_and_an_empty_file_mean_the_defaults(tmp_path):
    assert load_rules(None) == Rules()
    empty = tmp_path / "rules.yaml"
    empty.write_text("")
    assert load_rules(empty) == Rules()
    assert Thresholds(exempt_closed_share=0.5, min_coverage=0.6, idle_day_share=0.8,
                                  min_occupancy_rate=0.1, min_visits_per_capacity=0.5) == DEFAULTS


def test_type_overrides_change_only_what_they_name(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("defaults:\n  min_coverage: 0.5\ntypes:\n  library:\n    min_occupancy_rate: 0.2\n")
    rules = load_rules(path)
    assert rules.for_type("library") == Thresholds(min_coverage=0.5, min_occupancy_rate=0.2)
    assert rules.for_type("sports_hall") == Thresholds(min_coverage=0.5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("defaults:\n  min_coverag: 0.5\n", "defaults.min_coverag: unknown key"),
        ("defaults:\n  min_coverage: 1.5\n", "defaults.min_coverage: must be less than or equal to 1"),
        ("types:\n  Library:\n    min_coverage: 0.5\n", "types.Library"),
        ("types:\n  library:\n    idle_day_share: lots\n", "types.library.idle_day_share: must be a valid number"),
        ("- 1\n", "the top level must be a mapping"),
        ("defaults: {min_coverage: 0.5\n", "invalid YAML"),
        ("defaults:\n  min_coverage: 0.5\n  min_coverage: 0.7\n", "duplicate key"),
    ],
)
def test_mistakes_in_the_rules_file_are_named(tmp_path, text, message):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(RulesError, match=r"rules\.yaml") as caught:
        load_rules(path)
    assert message in str(caught.value)


def test_an_unreadable_rules_file_is_an_error(tmp_path):
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
    with pytest.raises(RulesError, match="must be a mapping"):
        parse_rules([1, 2])


# -- classification ----------------------------------------------------------------------------------------
def test_a_busy_facility_is_active_with_a_reason():
    verdict = classify(BUSY, 100, DEFAULTS)
    assert verdict.status is Status.ACTIVE
    assert verdict.fired == ()
    assert verdict.reasons == ("mean occupancy 30% of capacity (≥ 10%)",)


@pytest.mark.parametrize(
    ("closed", "expected"),
    [(112.0, Status.ACTIVE), (113.0, Status.EXEMPT)],  # 112 of 224 h is exactly half: not more than half
)
def test_exempt_needs_more_than_half_of_the_opening_hours_closed(closed, expected):
    figures = replace(BUSY, open_hours=224.0 - closed, closed_hours=closed, closed_share=closed / 224.0)
    assert status(figures) is expected


def test_exempt_names_the_closure_reason_and_beats_everything_else():
    figures = replace(BUSY, open_hours=64.0, closed_hours=160.0, closed_share=160 / 224, coverage=0.0)
    verdict = classify(figures, 100, DEFAULTS, ("renovation",))
    assert verdict.status is Status.EXEMPT
    assert verdict.reasons == ("closed on purpose for 160 h of 224 h opening hours (71% > 50%): renovation",)
    assert verdict.fired == (Fired("exempt_closed_share", 160 / 224, 0.5, ">"),)


def test_no_opening_hours_at_all_is_exempt():
    assert classify(Figures(), 100, DEFAULTS).reasons == ("no opening hours in the window",)


@pytest.mark.parametrize(("covered", "expected"), [(60, Status.ACTIVE), (59, Status.NO_DATA)])
def test_coverage_of_exactly_60_percent_is_enough(covered, expected):
    figures = replace(BUSY, open_hours=100.0, covered_hours=float(covered), coverage=covered / 100)
    assert status(figures) is expected


def test_no_data_wins_over_idle_and_says_it_is_a_sensor_problem():
    figures = replace(BUSY, coverage=0.25, covered_hours=56.0, idle_day_share=1.0, idle_days=7, observed_days=7)
    verdict = classify(figures, 100, DEFAULTS)
    assert verdict.status is Status.NO_DATA
    assert verdict.reasons == ("sensor data in 25% of opening hours (56 h of 224 h; < 60%): a sensor problem, "
                               "not idleness",)
    assert [f.rule for f in verdict.fired] == ["min_coverage"]


@pytest.mark.parametrize(("idle_days", "expected"), [(16, Status.IDLE), (15, Status.ACTIVE)])
def test_idle_share_of_exactly_80_percent_is_idle(idle_days, expected):
    figures = replace(BUSY, open_days=20, observed_days=20, idle_days=idle_days, idle_day_share=idle_days / 20)
    assert status(figures) is expected


def test_idle_reason_counts_the_days():
    figures = replace(BUSY, idle_days=26, idle_day_share=26 / 28, occupancy_rate=0.01)
    verdict = classify(figures, 100, DEFAULTS)
    assert verdict.status is Status.IDLE
    assert verdict.reasons == ("no use on 26 of 28 open days (93% ≥ 80%)", "mean occupancy 1% of capacity (< 10%)")
    assert [f.rule for f in verdict.fired] == ["idle_day_share", "min_occupancy_rate"]
    partial = replace(figures, observed_days=27, idle_days=26, idle_day_share=26 / 27)
    assert classify(partial, 100, DEFAULTS).reasons[0] == "no use on 26 of 27 open days with data (96% ≥ 80%)"


def test_in_chinese_the_reasons_read_as_an_official_writes_them_with_the_same_numbers():
    idle = replace(BUSY, idle_days=26, idle_day_share=26 / 28, occupancy_rate=0.01)
    no_data = replace(BUSY, coverage=0.25, covered_hours=56.0)
    exempt = replace(BUSY, open_hours=64.0, closed_hours=160.0, closed_share=160 / 224, coverage=0.0)
    counted = replace(BUSY, occupancy_rate=None, visits_per_open_day=12.0)
    with i18n.using("zh_CN"):
        idle_verdict = classify(idle, 100, DEFAULTS)
        assert idle_verdict.reasons == ("28 个开放日中有 26 天无人使用（93% ≥ 80%）", "平均使用率 1%，低于 10%")
        assert classify(no_data, 100, DEFAULTS).reasons == (
            "开放时间中仅 25% 有传感器数据（有数据 56 小时，共 224 小时；< 60%）：属设备问题，不能认定为闲置",)
        assert classify(exempt, 100, DEFAULTS, ("装修", "维护")).reasons == (
            "按计划暂停开放：开放时间共 224 小时，其中闭馆 160 小时（71% > 50%）：装修，维护",)
        assert classify(counted, 100, DEFAULTS).reasons == ("每个开放日到访 12 人次，低于 50（设计容量 100 × 0.5）",)
    # the machine fields do not change with the language
    assert idle_verdict.status is Status.IDLE
    assert idle_verdict.fired == classify(idle, 100, DEFAULTS).fired


@pytest.mark.parametrize(("rate", "expected"), [(0.1, Status.ACTIVE), (0.0999, Status.UNDERUSED)])
def test_occupancy_of_exactly_10_percent_is_not_underused(rate, expected):
    assert status(replace(BUSY, occupancy_rate=rate)) is expected


def test_underused_reason_shows_enough_decimals_to_differ_from_the_threshold():
    verdict = classify(replace(BUSY, occupancy_rate=0.0999), 100, DEFAULTS)
    assert verdict.reasons == ("mean occupancy 9.99% of capacity (< 10%)",)


@pytest.mark.parametrize(("visits", "expected"), [(30.0, Status.ACTIVE), (29.5, Status.UNDERUSED)])
def test_count_only_sites_compare_visits_with_half_the_capacity(visits, expected):
    figures = replace(BUSY, occupancy_rate=None, peak_rate=None, reports_occupancy=False,
                      visits_per_open_day=visits)
    verdict = classify(figures, 60, DEFAULTS)
    assert verdict.status is expected
    if expected is Status.UNDERUSED:
        assert verdict.reasons == ("29.5 visits per open day, below 30 (0.5 × capacity 60)",)
        assert verdict.fired == (Fired("min_visits_per_capacity", 29.5, 30.0, "<"),)
    else:
        assert verdict.reasons == ("30 visits per open day (≥ 30)",)


def test_sites_counting_only_uses_are_judged_by_uses():
    figures = replace(BUSY, occupancy_rate=None, visits_per_open_day=None, uses_per_open_day=4.0,
                      reports_occupancy=False, reports_entries=False, reports_uses=True)
    assert classify(figures, 20, DEFAULTS).reasons == ("4 uses per open day, below 10 (0.5 × capacity 20)",)


def test_type_thresholds_apply():
    rules = parse_rules({"types": {"library": {"min_occupancy_rate": 0.35}}})
    assert status(BUSY, limits=rules.for_type("library")) is Status.UNDERUSED
    assert status(BUSY, limits=rules.for_type("pool")) is Status.ACTIVE


def test_the_example_rules_file_loads():
    from pathlib import Path

    rules = load_rules(Path(__file__).parents[3] / "examples" / "rules.yaml")
    assert rules.for_type("library").min_occupancy_rate == 0.15
    assert rules.for_type("swimming_pool") == DEFAULTS
