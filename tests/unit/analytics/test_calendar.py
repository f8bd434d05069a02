"""China's calendar: the package's dates, the calendar file's corrections, and the hours, slots and figures of
facilities that follow it across National Day 2025 and Spring Festival 2026."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from analytics.analysis import figures, rollup
from analytics.analysis.calendar import NO_CALENDAR, DayKind, weekday_hours
from analytics.analysis.calendar_data import CalendarError, package_calendar, parse_calendar
from analytics.analysis.schedule import slot_grid, week_hours, windows
from tests.unit.analytics.helpers import facility, readings, slot_of

CHINA = package_calendar()
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
NATIONAL_DAY = [date(2025, 10, 1) + timedelta(days=i) for i in range(8)]  # Wed 10-01 .. Wed 10-08
SPRING_FESTIVAL = [date(2026, 2, 15) + timedelta(days=i) for i in range(9)]  # Sun 02-15 .. Mon 02-23


def span(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def slots_per_day(grid) -> dict[date, int]:
    days, counts = np.unique(grid.day, return_counts=True)
    return {date.fromordinal(int(d)): int(c) for d, c in zip(days, counts, strict=True)}


def test_the_package_knows_national_day_2025_and_spring_festival_2026_with_their_adjusted_workdays():
    assert [CHINA.kind(d) for d in NATIONAL_DAY] == [DayKind.HOLIDAY] * 8
    assert CHINA.kind(date(2025, 9, 28)) is DayKind.WORKDAY  # a Sunday worked
    assert CHINA.kind(date(2025, 10, 11)) is DayKind.WORKDAY  # a Saturday worked
    assert CHINA.kind(date(2025, 10, 12)) is DayKind.REGULAR
    assert [CHINA.kind(d) for d in SPRING_FESTIVAL] == [DayKind.HOLIDAY] * 9
    assert CHINA.kind(date(2026, 2, 14)) is CHINA.kind(date(2026, 2, 28)) is DayKind.WORKDAY
    assert CHINA.unknown_years(date(2025, 12, 1), date(2026, 1, 31)) == []
    assert CHINA.unknown_years(date(2026, 12, 1), date(2027, 1, 31)) == [2027]


def test_a_facility_closed_on_holidays_has_no_opening_hours_over_national_day():
    hall = facility(holidays="closed")
    grid = slot_grid(hall, date(2025, 9, 27), date(2025, 10, 12), CHINA)
    per_day = slots_per_day(grid)
    assert not set(NATIONAL_DAY) & set(per_day)
    assert set(per_day) == set(span(date(2025, 9, 27), date(2025, 10, 12))) - set(NATIONAL_DAY)
    assert len(slot_grid(facility(), date(2025, 9, 27), date(2025, 10, 12), CHINA)) == 16 * 32  # as_usual: all


def test_weekend_hours_on_holidays_and_weekday_hours_on_adjusted_workdays():
    hours = {**{d: ["08:30-17:00"] for d in WEEKDAYS}, "sat": ["09:00-12:00"], "sun": ["09:00-12:00"]}
    gym = facility(opening_hours=hours, holidays="weekend_hours", adjusted_workdays="weekday_hours")
    per_day = slots_per_day(slot_grid(gym, date(2025, 9, 27), date(2025, 10, 12), CHINA))
    assert per_day[date(2025, 9, 27)] == 12  # an ordinary Saturday
    assert per_day[date(2025, 9, 28)] == 34  # Sunday worked: a weekday's 08:30-17:00
    assert per_day[date(2025, 9, 29)] == 34
    assert [per_day[d] for d in NATIONAL_DAY] == [12] * 8  # Sunday's hours, also on Wednesday 10-01
    assert per_day[date(2025, 10, 11)] == 34  # Saturday worked
    assert per_day[date(2025, 10, 12)] == 12
    usual = slots_per_day(slot_grid(facility(opening_hours=hours), date(2025, 9, 27), date(2025, 10, 12), CHINA))
    assert (usual[date(2025, 9, 28)], usual[date(2025, 10, 1)], usual[date(2025, 10, 11)]) == (12, 34, 12)


def test_spring_festival_2026_closed_then_weekday_hours_on_the_two_saturdays_worked():
    hours = {d: ["09:00-17:00"] for d in WEEKDAYS}  # closed at weekends
    office = facility(opening_hours=hours, holidays="closed", adjusted_workdays="weekday_hours")
    per_day = slots_per_day(slot_grid(office, date(2026, 2, 9), date(2026, 3, 1), CHINA))
    assert not set(SPRING_FESTIVAL) & set(per_day)
    assert per_day[date(2026, 2, 14)] == per_day[date(2026, 2, 28)] == 32
    assert date(2026, 2, 21) not in per_day  # a holiday Saturday
    assert date(2026, 3, 1) not in per_day  # a plain Sunday
    assert sorted(per_day) == [*span(date(2026, 2, 9), date(2026, 2, 14)), date(2026, 2, 24), date(2026, 2, 25),
                               date(2026, 2, 26), date(2026, 2, 27), date(2026, 2, 28)]


def test_an_adjusted_workday_takes_the_hours_most_weekdays_have():
    hours = {"tue": ["09:00-20:00"], "wed": ["09:00-20:00"], "thu": ["09:00-17:00"], "fri": ["09:00-20:00"]}
    library = facility(opening_hours=hours)  # closed on Mondays
    assert weekday_hours(week_hours(library)) == ((9 * 60, 11 * 60),)


def test_a_facility_closed_on_holidays_is_not_judged_idle_over_national_day():
    """16-day window 09-27..10-12; the sensors report all day, people come at 09:00 on every day but the
    holidays."""
    as_of = date(2025, 10, 13)
    closed, usual = facility("hall-1", holidays="closed"), facility("hall-2")
    rows = [(code, slot_of(day, 9) + n, 0.0 if day in NATIONAL_DAY or n else 3.0, 0.0, None) for code in (0, 1)
            for day in span(date(2025, 9, 11), date(2025, 10, 12)) for n in range(32)]
    grids, first_days = [], []
    for f in (closed, usual):
        current, previous = windows(as_of, 16, f.timezone)
        grids.append((slot_grid(f, previous.first_day, current.last_day, CHINA), current.first_day.toordinal()))
        first_days.append(current.first_day.toordinal())
    found = figures.compute(figures.grid_frame(grids), readings(rows), first_days, [100, 100])
    (closed_now, _), (usual_now, _) = found
    assert (closed_now.open_days, closed_now.idle_day_share, closed_now.coverage) == (8, 0.0, 1.0)
    assert (usual_now.open_days, usual_now.idle_day_share) == (16, 0.5)  # as usual: the 8 holidays are idle


def test_a_day_the_calendar_changes_is_keyed_by_its_own_hours_in_the_rollup():
    hall = facility(holidays="closed", adjusted_workdays="weekday_hours",
                    opening_hours={d: ["09:00-17:00"] for d in WEEKDAYS})
    days = np.array([date(2025, 9, 28).toordinal(), date(2025, 9, 29).toordinal()])
    plain = rollup.keys_for([hall], np.zeros(2, np.int64), days)
    china = rollup.keys_for([hall], np.zeros(2, np.int64), days, CHINA)
    assert plain[1] == china[1]  # an ordinary Monday
    assert plain[0] != china[0]  # a Sunday worked: the weekday's hours, not Sunday's none
    assert china[0] == china[1]


def test_the_calendar_file_adds_next_years_notice_and_corrects_dates():
    calendar = parse_calendar({
        "years": [2027],
        "holidays": [{"from": date(2027, 1, 1), "to": date(2027, 1, 3), "name": "元旦"},
                     {"date": "2026-05-20", "name": "县庆日"}],
        "workdays": [{"date": date(2027, 1, 9), "name": "元旦调休"}],
        "regular": [date(2026, 10, 10)],
    }, CHINA)
    assert [calendar.kind(date(2027, 1, d)) for d in (1, 2, 3, 4)] == [DayKind.HOLIDAY] * 3 + [DayKind.REGULAR]
    assert calendar.kind(date(2027, 1, 9)) is DayKind.WORKDAY
    assert calendar.holidays[date(2026, 5, 20)] == "县庆日"
    assert CHINA.kind(date(2026, 10, 10)) is DayKind.WORKDAY
    assert calendar.kind(date(2026, 10, 10)) is DayKind.REGULAR
    assert calendar.unknown_years(date(2026, 12, 1), date(2027, 1, 31)) == []
    assert parse_calendar(None, CHINA) is CHINA


def test_calendar_file_problems_are_listed_at_once():
    with pytest.raises(CalendarError) as caught:
        parse_calendar({
            "holidays": [{"date": "2027-13-01", "name": "x"}, {"from": "2027-01-05", "to": "2027-03-01", "name": "y"},
                         {"name": "z"}],
            "workday": [],
        }, NO_CALENDAR, "cal.yaml")
    text = str(caught.value)
    assert "holidays[0].date: '2027-13-01' is not a calendar date" in text
    assert "longer than 31 days" in text
    assert "give either date, or both from and to" in text
    assert "workday: unknown key" in text
    assert len(caught.value.problems) == 4


def test_load_calendar_reads_the_file_and_names_it_in_its_errors(tmp_path):
    from analytics.analysis.calendar_data import load_calendar

    path = tmp_path / "calendar.yaml"
    path.write_text("years: [2027]\nholidays:\n  - {date: 2027-01-01, name: 元旦}\n", encoding="utf-8")
    assert load_calendar(path).kind(date(2027, 1, 1)) is DayKind.HOLIDAY
    assert load_calendar(None).kind(date(2027, 1, 1)) is DayKind.REGULAR
    path.write_text("holidays: [{date: 2027-01-01}]\n", encoding="utf-8")
    with pytest.raises(CalendarError, match=r"calendar.yaml: holidays\[0\].name: is required"):
        load_calendar(path)
    with pytest.raises(CalendarError, match="cannot read the file"):
        load_calendar(tmp_path / "missing.yaml")
