"""Grafana's variable and macro substitution as dashboards.interpolate redoes it (see its module docstring)."""

from __future__ import annotations

import pytest

from dashboards.interpolate import (
    Mode,
    Selection,
    TimeRange,
    UnresolvedVariable,
    escape_regex,
    format_value,
    interpolate,
    interval,
    seconds_to_hms,
)

NOW = 1_764_300_000_000
SIX_HOURS = TimeRange.last(NOW, 6, "h")
REGIONS = ("zhejiang/wenzhou/lucheng", "zhejiang/wenzhou/ouhai")


def run(query, variables=None, time_range=SIX_HOURS, mode=Mode.BACKEND):
    text, ms = interval(time_range, "10s")
    return interpolate(query, variables or {}, time_range, text, ms, mode)


def test_regex_format_escapes_every_value_and_groups_several():
    assert format_value(Selection(("a.b",)), "regex") == r"a\.b"
    assert format_value(Selection((REGIONS[0],), multi=True, include_all=True), "regex") == \
        r"zhejiang\/wenzhou\/lucheng"
    assert format_value(Selection(REGIONS, multi=True, include_all=True), "regex") == \
        r"(zhejiang\/wenzhou\/lucheng|zhejiang\/wenzhou\/ouhai)"


def test_a_custom_all_value_is_written_unformatted():
    """Grafana's template service skips formatting of a custom all value: All is `.*`, not the options joined."""
    everything = Selection(REGIONS, multi=True, include_all=True, all_value=".*")
    assert format_value(everything, "regex") == ".*"
    assert format_value(everything, None) == ".*"
    assert run('"region" =~ /^${region:regex}$/', {"region": everything}) == '"region" =~ /^.*$/'
    assert format_value(Selection(REGIONS, multi=True, include_all=True), "regex") == \
        r"(zhejiang\/wenzhou\/lucheng|zhejiang\/wenzhou\/ouhai)"


def test_escape_regex_matches_grafana():
    assert escape_regex(r"a/b.c*d+e?f(g)h[i]j{k}l|m^n$o\p") == r"a\/b\.c\*d\+e\?f\(g\)h\[i\]j\{k\}l\|m\^n\$o\\p"
    assert escape_regex("wz-lc_lib-001") == "wz-lc_lib-001"


def test_the_influx_default_format_is_the_data_sources():
    # Single-value variable: regex-escaped unless it starts like a number (JavaScript's parseFloat).
    assert format_value(Selection(("a/b",)), None) == r"a\/b"
    assert format_value(Selection(("12.5kg",)), None) == "12.5kg"
    # Multi-value: the data source's own escaping, which leaves '/' alone and doubles backslashes.
    assert format_value(Selection(("a.b", "c"), multi=True), None) == r"a\\.b|c"
    assert format_value(Selection(("a/b",), multi=True), None) == "a/b"


def test_other_formats():
    selection = Selection(("x", "y"), multi=True)
    assert format_value(selection, "pipe") == "x|y"
    assert format_value(selection, "csv") == "x,y"
    assert format_value(selection, "singlequote") == "'x','y'"
    with pytest.raises(UnresolvedVariable):
        format_value(selection, "lucene")


def test_time_filter_absolute_and_relative():
    assert run("WHERE $timeFilter") == f"WHERE time >= {NOW - 6 * 3_600_000}ms and time <= {NOW}ms"
    assert run("WHERE $timeFilter", mode=Mode.FRONTEND) == "WHERE time >= now() - 6h and time <= now()"
    absolute = TimeRange(1000, 2000)
    assert run("$timeFilter", time_range=absolute, mode=Mode.FRONTEND) == "time >= 1000ms and time <= 2000ms"


def test_interval_follows_the_range_and_the_minimum():
    assert interval(SIX_HOURS, None) == ("20s", 20_000)
    assert interval(SIX_HOURS, "1m") == ("1m", 60_000)
    assert interval(TimeRange.last(NOW, 7, "d"), "15m") == ("15m", 900_000)
    assert interval(TimeRange.last(NOW, 30, "d"), None) == ("30m", 1_800_000)
    assert seconds_to_hms(5400) == "1h"
    assert seconds_to_hms(0.5) == "500ms"


def test_interval_macros_and_globals():
    text = run("GROUP BY time($__interval) $__interval_ms $interval ${__from}ms ${__to}ms")
    assert text == f"GROUP BY time(20s) 20000 20s {NOW - 6 * 3_600_000}ms {NOW}ms"


def test_variables_in_every_syntax():
    variables = {"facility": Selection(("wz-1", "wz-2"), multi=True, include_all=True)}
    assert run('"facility" =~ /^${facility:regex}$/', variables) == '"facility" =~ /^(wz-1|wz-2)$/'
    assert run("[[facility:pipe]] $facility", variables) == "wz-1|wz-2 wz-1|wz-2"


def test_an_unknown_variable_or_macro_raises():
    with pytest.raises(UnresolvedVariable):
        run("WHERE $regoin")
    with pytest.raises(UnresolvedVariable):
        run("${__from:date:iso}")
    with pytest.raises(UnresolvedVariable):
        run("${facility.text}", {"facility": Selection(("a",))})


def test_regex_literals_and_their_anchors_are_not_variables():
    assert run("/^a$/ AND $timeFilter").startswith("/^a$/ AND time >= ")
