"""Integrity thresholds in the rules file: defaults, per-type overrides, and mistakes reported by path."""

from __future__ import annotations

from pathlib import Path

import pytest

from analytics.analysis.rules import RulesError, load_rules, parse_rules

ROOT = Path(__file__).resolve().parents[3]


def test_a_type_changes_only_the_integrity_thresholds_it_names():
    rules = parse_rules({"defaults": {"integrity": {"late_hours": 12}},
                         "types": {"sports_hall": {"idle_day_share": 0.9, "integrity": {"flat_min_hours": 4}}}})
    hall = rules.for_type("sports_hall")
    assert hall.integrity.flat_min_hours == 4
    assert hall.integrity.late_hours == 12
    assert hall.idle_day_share == 0.9
    assert rules.for_type("library").integrity.flat_min_hours == 3
    assert "integrity" not in hall.status_thresholds()


@pytest.mark.parametrize(("data", "message"), [
    ({"types": {"library": {"integrity": {"flat_min_hour": 2}}}}, "types.library.integrity.flat_min_hour: unknown"),
    ({"defaults": {"integrity": {"copy_tolerance": 2}}}, "defaults.integrity.copy_tolerance"),
    ({"types": {"library": {"integrity": {"late_hours": -1}}}}, "types.library.integrity.late_hours"),
])
def test_bad_integrity_thresholds_are_reported_by_path(data, message):
    with pytest.raises(RulesError, match=message):
        parse_rules(data)


def test_the_example_rules_file_sets_every_integrity_default():
    rules = load_rules(ROOT / "examples" / "rules.yaml")
    assert rules.defaults.integrity == type(rules.defaults.integrity)()
    assert rules.for_type("sports_hall").integrity.flat_min_hours == 4
