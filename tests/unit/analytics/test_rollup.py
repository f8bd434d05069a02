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
from facmon.core.lineproto import line
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
    _, days = summaries(f)
    assert len(rollup.rollup_lines(days, [f], MON.toordinal(), MON.toordinal())) == 0
    kept = rollup.rollup_lines(days, [f], WED.toordinal() + 1, MON.toordinal())
    assert len(kept) == 2  # Monday and Tuesday had data; Wednesday had none and is not final yet
    assert kept[0].startswith("analytics_day,facility=lib-1 ")
    assert kept[0].endswith(f" {rollup.day_ns(MON.toordinal())}")
    assert "open_slots=4i,covered_slots=2i" in kept[0]
    assert "peaks=\"3.333\"" in kept[0]
    assert "active=true" in kept[0]
    assert "active=false" in kept[1]
    assert len(rollup.rollup_lines(days, [f], WED.toordinal() + 1, WED.toordinal() + 1)) == 3


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
    assert f'arrivals="{9}:1234.500,{10}:2000.000:900"' in lines[0]
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
    assert 'peaks=""' in lines[2]
    assert 'prints=""' in lines[1]
    assert 'arrivals=""' in lines[0]
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


def _rollup_lines_row_by_row(days, facilities, settled_before, final_before):
    """rollup_lines as it was written: a dict of fields and line() per row."""
    table = days.table.reset_index()
    data = table["covered_slots"] > 0
    table = table[(data & (table["day"] < settled_before)) | (~data & (table["day"] < final_before))]
    peaks, peak_hours = rollup._peaks_text(days.peaks)
    prints, arrivals = rollup._prints_text(days.prints), rollup._arrivals_text(days.arrivals)
    checks = days.checks.reindex(pd.MultiIndex.from_arrays([table["fac"], table["day"]]), fill_value=0.0)
    table = table.assign(**{c: checks[c].to_numpy() for c in CHECK_COLUMNS})
    keys = rollup.keys_for(facilities, table["fac"].to_numpy(np.int64), table["day"].to_numpy(np.int64))
    lines = []
    for row, key in zip(table.itertuples(index=False), keys, strict=True):
        fac, day = int(row.fac), int(row.day)
        fields = {name: int(getattr(row, name)) for name in rollup.INT_COLUMNS}
        fields.update({name: float(getattr(row, name)) for name in rollup.FLOAT_COLUMNS})
        fields.update({name: int(getattr(row, name)) for name in rollup.CHECK_INT})
        fields.update({name: float(getattr(row, name)) for name in rollup.CHECK_FLOAT})
        fields.update(active=bool(row.active), peaks=peaks.get((fac, day), ""),
                      peak_hours=peak_hours.get((fac, day), ""), prints=prints.get((fac, day), ""),
                      arrivals=arrivals.get((fac, day), ""), key=key)
        lines.append(line(rollup.MEASUREMENT, {"facility": facilities[fac].id}, fields, rollup.day_ns(day)))
    return lines


def test_rollup_lines_built_column_by_column_are_those_built_row_by_row():
    f, g = facility(opening_hours=HOURS), facility("gym-1", opening_hours=HOURS, timezone="Europe/Berlin")
    _, one = summaries(f)
    mon, tue, wed = (d.toordinal() for d in (MON, TUE, WED))
    rng = np.random.default_rng(18)
    other = one.recode(np.array([1], np.int64))
    days = figures.Days.concat([one, other])
    checks = days.checks.copy()
    for column in CHECK_COLUMNS:
        checks[column] = rng.integers(0, 30, len(checks)).astype(np.float64) + (rng.random(len(checks)) / 3
                                                                               if column in rollup.CHECK_FLOAT else 0)
    prints = pd.DataFrame({"fac": np.array([0, 0, 1], np.int64), "day": np.array([mon, mon, wed], np.int64),
                           "fp": np.array([-2, 2**62 + 7, 12345], np.int64)})
    base = (mon - date(1970, 1, 1).toordinal()) * 24
    arrivals = pd.DataFrame({"fac": np.array([0, 1, 1], np.int64), "day": np.array([tue, tue, wed], np.int64),
                             "hour": np.array([base + 33, base + 34, base + 58], np.int64),
                             "arrival": [86400.25, 5.0, 7.125], "uncertainty": [0.0, 900.0, 0.0]})
    days = dataclasses.replace(days, checks=checks, prints=prints, arrivals=arrivals)
    for settled, final in ((wed + 1, wed + 1), (wed + 1, mon), (tue, tue)):
        expected = _rollup_lines_row_by_row(days, [f, g], settled, final)
        assert rollup.rollup_lines(days, [f, g], settled, final) == expected
    assert len(expected) == 2  # Monday of each
    assert rollup.rollup_lines(days, [f, g], wed + 1, wed + 1)[-1].startswith("analytics_day,facility=gym-1 ")
