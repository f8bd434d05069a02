"""The report's chart tells closed days from days without data: a facility open Monday to Friday shows its
weekends as closed, not as a sensor outage, and an open day without readings as no data; both in the legend."""

from __future__ import annotations

from datetime import date, timedelta

from matplotlib.patches import Rectangle

from analytics.analysis.calendar_data import package_calendar
from analytics.analysis.model import Status, Window
from analytics.report.chart_days import CLOSED_LABEL, NO_DATA_LABEL, closed_days
from analytics.report.charts import chart_figure
from analytics.report.data import DailyUse, StatusRow
from sensors.registry import Registry

WINDOW = Window(date(2025, 10, 6), date(2025, 11, 2), "Asia/Shanghai")  # Monday 6 October to Sunday 2 November
DAYS = tuple(WINDOW.first_day + timedelta(days=i) for i in range(WINDOW.days))
WEEKDAYS = {"mon", "tue", "wed", "thu", "fri"}
CLOSURE = date(2025, 10, 15)  # a Wednesday, closed for works
SILENT = date(2025, 10, 21)  # a Tuesday, open, but no reading arrived


def facility(**policies):
    return Registry.model_validate({"facilities": [{
        "id": "wz-lc-lib-001", "name": "图书馆", "type": "library", "region": "zhejiang/wenzhou", "capacity": 100,
        "opening_hours": {day: ["09:00-17:00"] for day in WEEKDAYS},
        "closures": [{"start": CLOSURE.isoformat(), "end": CLOSURE.isoformat(), "reason": "works"}], **policies,
    }]}).get("wz-lc-lib-001")


def row(closed: frozenset[date]) -> StatusRow:
    figures: dict[str, float | int | None] = {"coverage": 0.9}
    return StatusRow("wz-lc-lib-001", "图书馆", "library", "zhejiang/wenzhou", "", 100, Status.IDLE, WINDOW, figures,
                     "", "", closed_days=closed)


def spans(figure) -> dict[int, Rectangle]:
    """The background band of each day, by its index (axvspan draws a rectangle from index - 0.5)."""
    axes = figure.axes[0]
    return {round(p.get_x() + 0.5): p for p in axes.patches if p.get_zorder() == 0}


def test_weekends_and_closures_are_closed_and_a_silent_open_day_is_no_data():
    site = facility()
    closed = closed_days(site, DAYS)
    assert closed == {d for d in DAYS if d.weekday() >= 5} | {CLOSURE}
    peak = {d: 12.0 for d in DAYS if d not in closed and d != SILENT}
    figure = chart_figure(row(closed), DailyUse(DAYS, peak=peak, mean=dict(peak)))
    _, labels = figure.axes[0].get_legend_handles_labels()
    assert CLOSED_LABEL in labels
    assert NO_DATA_LABEL in labels
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()].count(NO_DATA_LABEL) == 1
    bands = spans(figure)
    assert set(bands) == {DAYS.index(d) for d in closed} | {DAYS.index(SILENT)}
    for day in closed:
        assert bands[DAYS.index(day)].get_hatch() == "//", day
    assert not bands[DAYS.index(SILENT)].get_hatch()
    assert "closed" in figure.axes[0].get_title()


def test_without_a_registry_every_empty_day_is_no_data():
    figure = chart_figure(row(frozenset()), DailyUse(DAYS, peak={DAYS[0]: 3.0}, mean={DAYS[0]: 3.0}))
    _, labels = figure.axes[0].get_legend_handles_labels()
    assert NO_DATA_LABEL in labels
    assert CLOSED_LABEL not in labels


def test_closed_days_follow_chinas_calendar_like_the_analysis():
    """National Day 2025 (1-8 October) closes a facility that closes on holidays: 6-8 October are closed days of
    the window, not missing data; Saturday 11 October, worked in lieu (调休), is open with a weekday's hours."""
    site = facility(holidays="closed", adjusted_workdays="weekday_hours")
    closed = closed_days(site, DAYS, package_calendar())
    holidays = {date(2025, 10, 6), date(2025, 10, 7), date(2025, 10, 8)}
    weekends = {d for d in DAYS if d.weekday() >= 5} - {date(2025, 10, 11)}
    assert closed == weekends | holidays | {CLOSURE}
    assert closed_days(facility(), DAYS, package_calendar()) == {d for d in DAYS if d.weekday() >= 5} | {CLOSURE}
