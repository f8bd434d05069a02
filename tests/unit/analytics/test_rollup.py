"""Rollup points: what is kept, and how stored days are checked against the registry when read back."""

from __future__ import annotations

import dataclasses
import re
from datetime import date

import numpy as np
import pandas as pd

from analytics.analysis import figures, rollup
from analytics.analysis.schedule import slot_grid
from analytics.integrity.days import CHECK_COLUMNS
from tests.unit.analytics.helpers import facility, readings, slot_of

MON, TUE, WED = date(2025, 10, 6), date(2025, 10, 7), date(2025, 10, 8)
HOURS = {"mon": ["09:00-10:00"], "tue": ["09:00-10:00"], "wed": ["09:00-10:00"]}


def summaries(f):
    grid = figures.grid_frame([(slot_grid(f, MON, WED), MON.toordinal())])
    rows = [(0, slot_of(MON, 9), 10 / 3, 1.0, None), (0, slot_of(MON, 9, 30), 1.0, None, None),
            (0, slot_of(TUE, 9), 0.0, None, None)]
    return grid, figures.day_summaries(grid, readings(rows))


def as_csv(lines):
    """What `SELECT * FROM analytics_day` gives for these points, built the way InfluxDB writes its CSV."""
    rows = []
    for text in lines:
        series, fields, ts = text.split(" ")
        values = dict(item.split("=", 1) for item in re.findall(r'[^,=]+=(?:"[^"]*"|[^,]*)', fields))
        values = {k: v.rstrip("i").strip('"') for k, v in values.items()}
        values["facility"] = series.split("facility=")[1]
        rows.append({"name": "analytics_day", "tags": "", "time": int(ts), **values})
    return pd.DataFrame(rows).to_csv(index=False)


def test_settled_days_with_data_are_kept_and_days_without_only_once_final():
    f = facility(opening_hours=HOURS)
    grid, days = summaries(f)
    assert len(rollup.rollup_lines(days, [f], MON.toordinal(), MON.toordinal())) == 0
    kept = rollup.rollup_lines(days, [f], WED.toordinal() + 1, MON.toordinal())
    assert len(kept) == 2  # Monday and Tuesday had data; Wednesday had none and is not final yet
    assert kept[0].startswith("analytics_day,facility=lib-1 key=")
    assert kept[0].endswith(f" {rollup.day_ns(MON.toordinal())}")
    back = rollup.parse_rollup(as_csv(kept), [f], grid[["fac", "day"]].drop_duplicates())
    monday, tuesday = back.table.loc[(0, MON.toordinal())], back.table.loc[(0, TUE.toordinal())]
    assert (monday["open_slots"], monday["covered_slots"], monday["active"]) == (4, 2, True)
    assert not tuesday["active"]
    assert back.peaks["peak"].tolist() == [3.333, 0.0]
    assert len(rollup.rollup_lines(days, [f], WED.toordinal() + 1, WED.toordinal() + 1)) == 3


def test_a_day_is_one_packed_field_beside_its_key():
    """One field of values instead of forty-odd: InfluxDB 1.x reads each field with a cursor of its own."""
    f = facility(opening_hours=HOURS)
    _, days = summaries(f)
    (monday, *_) = rollup.rollup_lines(days, [f], WED.toordinal() + 1, WED.toordinal() + 1)
    fields = re.findall(r'(\w+)="[^"]*"', monday.split(" ")[1])
    assert fields == ["key", rollup.FIELD]


def test_stored_days_keep_the_rounding_the_format_has_always_had():
    """Peaks and arrivals to three decimals, an uncertainty to six digits: what the text format kept."""
    f = facility(opening_hours=HOURS)
    grid, days = summaries(f)
    hour = (MON.toordinal() - date(1970, 1, 1).toordinal()) * 24 + 9
    peaks = days.peaks.assign(peak=[3.33349, 0.0004])
    arrivals = pd.DataFrame({"fac": [0], "day": [MON.toordinal()], "hour": [hour], "arrival": [1234.56789],
                             "uncertainty": [123.4567891]})
    lines = rollup.rollup_lines(dataclasses.replace(days, peaks=peaks, arrivals=arrivals), [f], WED.toordinal() + 1,
                                WED.toordinal() + 1)
    back = rollup.parse_rollup(as_csv(lines), [f], grid[["fac", "day"]].drop_duplicates())
    assert back.peaks["peak"].tolist() == [3.333, 0.0]
    assert back.arrivals[["arrival", "uncertainty"]].to_numpy().tolist() == [[1234.568, 123.457]]


def test_a_damaged_or_foreign_point_is_computed_again_and_the_others_are_kept():
    f = facility(opening_hours=HOURS)
    grid, days = summaries(f)
    monday, tuesday, wednesday = rollup.rollup_lines(days, [f], WED.toordinal() + 1, WED.toordinal() + 1)
    head, packed, ts = re.fullmatch(r'(.*,packed=")([^"]*)(".*)', tuesday).groups()
    cut = head + packed[:-8] + ts  # a word short: its counts no longer agree with its length
    garbled = head + "!!" + packed[2:] + ts  # not base64
    wanted = grid[["fac", "day"]].drop_duplicates()
    for damaged in (cut, garbled):
        back = rollup.parse_rollup(as_csv([monday, damaged, wednesday]), [f], wanted)
        assert sorted(back.table.index.get_level_values("day")) == [MON.toordinal(), WED.toordinal()]
        assert len(back.checks) == 2
    older = 'analytics_day,facility=lib-1 open_slots=4i,key="x" ' + str(rollup.day_ns(TUE.toordinal()))
    back = rollup.parse_rollup(as_csv([monday, older]), [f], wanted)
    assert sorted(back.table.index.get_level_values("day")) == [MON.toordinal()]


def test_a_day_with_a_value_that_is_not_a_number_is_not_kept(caplog):
    f = facility(opening_hours=HOURS)
    _, days = summaries(f)
    broken = days.table.copy()
    broken.iloc[1, broken.columns.get_loc("occ_sum")] = np.nan
    lines = rollup.rollup_lines(dataclasses.replace(days, table=broken), [f], WED.toordinal() + 1,
                                WED.toordinal() + 1)
    assert [int(text.rsplit(" ", 1)[1]) for text in lines] == [rollup.day_ns(d.toordinal()) for d in (MON, WED)]
    assert "1 days with a value that is not a number" in caplog.text


def test_stored_days_read_back_equal_the_computed_ones():
    f = facility(opening_hours=HOURS)
    grid, days = summaries(f)
    lines = rollup.rollup_lines(days, [f], WED.toordinal() + 1, WED.toordinal() + 1)
    wanted = grid[["fac", "day"]].drop_duplicates()
    back = rollup.parse_rollup(as_csv(lines), [f], wanted)
    pd.testing.assert_frame_equal(back.table, days.table, check_like=True)
    pd.testing.assert_frame_equal(back.peaks.reset_index(drop=True), days.peaks.reset_index(drop=True))


def test_stored_arrivals_keep_whether_they_were_exact():
    """late_arrival trusts exact arrivals to a second and estimated ones only to a slot: the rollup keeps which."""
    f = facility(opening_hours=HOURS)
    grid, days = summaries(f)
    hour = (MON.toordinal() - date(1970, 1, 1).toordinal()) * 24 + 9
    arrivals = pd.DataFrame({"fac": np.zeros(2, np.int64), "day": np.full(2, MON.toordinal(), np.int64),
                             "hour": np.array([hour, hour + 1], np.int64), "arrival": [1234.5, 2000.0],
                             "uncertainty": [0.0, 900.0]})
    lines = rollup.rollup_lines(dataclasses.replace(days, arrivals=arrivals), [f], WED.toordinal() + 1,
                                WED.toordinal() + 1)
    back = rollup.parse_rollup(as_csv(lines), [f], grid[["fac", "day"]].drop_duplicates())
    pd.testing.assert_frame_equal(back.arrivals.reset_index(drop=True), arrivals)


def test_lists_read_back_onto_their_own_days_when_some_days_have_none():
    """Peaks, fingerprints and arrivals of all days are parsed in one go; an empty day must not shift the rest."""
    f = facility(opening_hours=HOURS)
    grid, days = summaries(f)
    mon, tue, wed = (d.toordinal() for d in (MON, TUE, WED))
    base = (mon - date(1970, 1, 1).toordinal()) * 24
    prints = pd.DataFrame({"fac": np.zeros(3, np.int64), "day": np.array([mon, mon, wed], np.int64),
                           "fp": np.array([-2, 2**62 + 7, 12345], np.int64)})  # -2: the top bit set
    arrivals = pd.DataFrame({"fac": np.zeros(3, np.int64), "day": np.array([tue, wed, wed], np.int64),
                             "hour": np.array([base + 33, base + 57, base + 58], np.int64),
                             "arrival": [86400.25, 5.0, 7.125], "uncertainty": [0.0, 0.0, 0.0]})
    lines = rollup.rollup_lines(dataclasses.replace(days, prints=prints, arrivals=arrivals), [f], wed + 1, wed + 1)
    assert len(lines) == 3
    back = rollup.parse_rollup(as_csv(lines), [f], grid[["fac", "day"]].drop_duplicates())
    pd.testing.assert_frame_equal(back.prints.reset_index(drop=True), prints)
    pd.testing.assert_frame_equal(back.arrivals.reset_index(drop=True), arrivals)
    pd.testing.assert_frame_equal(back.peaks.reset_index(drop=True), days.peaks.reset_index(drop=True))


def test_a_stored_day_whose_hours_or_zone_changed_is_dropped():
    f = facility(opening_hours=HOURS)
    grid, days = summaries(f)
    lines = rollup.rollup_lines(days, [f], WED.toordinal() + 1, WED.toordinal() + 1)
    wanted = grid[["fac", "day"]].drop_duplicates()
    moved = facility(opening_hours={**HOURS, "tue": ["10:00-11:00"]})
    back = rollup.parse_rollup(as_csv(lines), [moved], wanted)
    assert sorted(back.table.index.get_level_values("day")) == [MON.toordinal(), WED.toordinal()]
    elsewhere = facility(opening_hours=HOURS, timezone="Europe/Berlin")
    assert len(rollup.parse_rollup(as_csv(lines), [elsewhere], wanted).table) == 0
    only_monday = wanted[wanted["day"] == MON.toordinal()]
    assert len(rollup.parse_rollup(as_csv(lines), [f], only_monday).table) == 1


def test_two_facilities_days_read_back_as_they_were_kept():
    f, g = facility(opening_hours=HOURS), facility("gym-1", opening_hours=HOURS, timezone="Europe/Berlin")
    _, one = summaries(f)
    mon, tue, wed = (d.toordinal() for d in (MON, TUE, WED))
    rng = np.random.default_rng(18)
    other = one.recode(np.array([1], np.int64))
    days = figures.Days.concat([one, other])
    checks = days.checks.copy()
    for column in CHECK_COLUMNS:
        checks[column] = rng.integers(0, 30, len(checks)).astype(np.float64) + (rng.random(len(checks)) / 3
                                                                               if column not in rollup.INTEGER else 0)
    prints = pd.DataFrame({"fac": np.array([0, 0, 1], np.int64), "day": np.array([mon, mon, wed], np.int64),
                           "fp": np.array([-2, 2**62 + 7, 12345], np.int64)})
    base = (mon - date(1970, 1, 1).toordinal()) * 24
    arrivals = pd.DataFrame({"fac": np.array([0, 1, 1], np.int64), "day": np.array([tue, tue, wed], np.int64),
                             "hour": np.array([base + 33, base + 34, base + 58], np.int64),
                             "arrival": [86400.25, 5.0, 7.125], "uncertainty": [0.0, 900.0, 0.0]})
    days = dataclasses.replace(days, checks=checks, prints=prints, arrivals=arrivals)
    wanted = pd.DataFrame({"fac": np.repeat([0, 1], 3), "day": np.tile([mon, tue, wed], 2)})
    for settled, final, kept in ((wed + 1, wed + 1, 6), (wed + 1, mon, 4), (tue, tue, 2)):
        lines = rollup.rollup_lines(days, [f, g], settled, final)
        assert len(lines) == kept
        back = rollup.parse_rollup(as_csv(lines), [f, g], wanted)
        index = back.table.index
        pd.testing.assert_frame_equal(back.table, days.table.loc[index].sort_index(), check_like=True)
        pd.testing.assert_frame_equal(back.checks, checks.loc[index].sort_index())
        pairs = pd.MultiIndex.from_frame(prints[["fac", "day"]]).isin(index)
        pd.testing.assert_frame_equal(back.prints.reset_index(drop=True), prints[pairs].reset_index(drop=True))
        pairs = pd.MultiIndex.from_frame(arrivals[["fac", "day"]]).isin(index)
        pd.testing.assert_frame_equal(back.arrivals.reset_index(drop=True), arrivals[pairs].reset_index(drop=True))
    assert rollup.rollup_lines(days, [f, g], wed + 1, wed + 1)[-1].startswith("analytics_day,facility=gym-1 ")
