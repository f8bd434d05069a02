"""Facility detail: one facility's use against its capacity, its rhythm, its status history and its sensors."""

from __future__ import annotations

from dashboards import common as c
from dashboards.model import Annotation, Dashboard, Grid, Panel, QueryVariable, Target
from facmon.core.i18n import N_, _
from facmon.core.influxql import ident

FACILITY = c.var_match("facility", "facility")
LOCAL_TZ = "tz('${tz:raw}')"  # the facility's own time zone (facility_info), for day and hour boundaries
FIGURES = ("occupancy_rate", "coverage", "peak_rate", "visits_per_open_day", "uses_per_open_day", "idle_day_share")
#: Heatmap range: the dashboard's, with a day more at the end so today's hours form complete local days.
HEATMAP_RANGE = "time >= ${__from}ms AND time < ${__to}ms + 1d"


def tz_variable() -> QueryVariable:
    """Hidden: the facility's time zone, as sync-registry stored it in facility_info."""
    return QueryVariable("tz", _("Time zone"), c.tag_values(c.INFO, "timezone", FACILITY),
                         multi=False, include_all=False, hide=True)


def latest_query(fields: tuple[str, ...]) -> str:
    selected = ", ".join(['last("window_days") AS "window_days"', '"status"', *(ident(f) for f in fields)])
    return f"SELECT {selected} FROM {ident(c.STATUS)} WHERE {c.current_range()} AND {FACILITY}"


def latest_panels(grid: Grid) -> list[Panel]:
    status = Panel(
        _("Latest status"), "stat", grid.place(5, 5), (Target(latest_query(()), result_format="table"),),
        description=_("Status of the facility's latest analysis."),
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "/^status$/", "values": False},
                 "colorMode": "background", "graphMode": "none", "textMode": "value"},
        defaults={"mappings": c.status_mappings(), "noValue": "not analysed"},
    )
    figures = Panel(
        _("Latest figures"), "stat", grid.place(10, 5), (Target(latest_query(FIGURES), result_format="table"),),
        description=_("Figures of the latest analysis window: occupancy and peak as shares of capacity, coverage as "
                    "the share of opening hours with sensor data."),
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": f"/^({'|'.join(FIGURES)})$/", "values": False},
                 "colorMode": "none", "graphMode": "none", "textMode": "value_and_name"},
        defaults={"noValue": "—", "decimals": 1},
        overrides=({"matcher": {"id": "byRegexp", "options": "^(occupancy_rate|coverage|peak_rate|idle_day_share)$"},
                    "properties": [{"id": "unit", "value": "percentunit"}]},),
    )
    why = Panel(
        _("Why this status"), "table", grid.place(9, 5),
        (Target(latest_query(("name", "department", "capacity", "reasons")), result_format="table"),),
        description=_("The registry's name, department and capacity, and the rules that decided the status."),
        options=c.table_options(),
        transformations=(c.organize({"name": N_("Name"), "department": N_("Department"), "capacity": N_("Capacity"),
                                     "status": N_("Status"), "reasons": N_("Reasons")},
                                    exclude=("Time", "window_days")),),
    )
    return [status, figures, why]


def integrity_panel(grid: Grid) -> Panel:
    """The latest analysis's data-integrity flag: beside the status, never instead of it."""
    query = latest_query(("suspect", "integrity_detectors", "integrity"))
    return Panel(
        _("Data integrity"), "table", grid.place(24, 4), (Target(query, result_format="table"),),
        description=_("Whether the latest analysis found the readings implausible (Suspect), which checks fired and "
                    "their numbers. A flag for an auditor to review, not proof; it does not change the status. "
                    "Data-integrity alerts appear as annotations with the other alerts."),
        options=c.table_options(),
        defaults={"custom": {"align": "auto"}},
        overrides=({"matcher": {"id": "byName", "options": _("Suspect")},
                    "properties": [{"id": "mappings", "value": [{"type": "value", "options": {
                        "true": {"text": "suspect", "color": "red", "index": 0},
                        "false": {"text": "no", "color": "green", "index": 1}}}]},
                                   {"id": "custom.cellOptions", "value": {"type": "color-text"}},
                                   {"id": "custom.width", "value": 110}]},),
        transformations=(c.organize({"suspect": N_("Suspect"), "integrity_detectors": N_("Detectors"),
                                     "integrity": N_("Reasons")}, exclude=("Time", "window_days", "status")),),
    )


def occupancy(grid: Grid) -> Panel:
    """Facility occupancy = the sum over its sensors of each sensor's mean in the interval."""
    per_sensor = (f'SELECT mean("occupancy") AS "occ" FROM {ident(c.READING)} WHERE {FACILITY} AND $timeFilter '
                  f"GROUP BY time($__interval), {ident('sensor')}")
    total = f'SELECT sum("occ") AS "occupancy" FROM ({per_sensor}) WHERE $timeFilter GROUP BY time($__interval)'
    capacity = (f'SELECT last("capacity") AS "capacity" FROM {ident(c.STATUS)} WHERE {FACILITY} '
                f"AND time >= ${{__from}}ms - {c.LATEST_LOOKBACK} AND time <= ${{__to}}ms GROUP BY time(1h) "
                "fill(previous)")
    return Panel(
        _("Occupancy against capacity"), "timeseries", grid.place(24, 9),
        (Target(total, alias=_("occupancy")), Target(capacity, ref_id="B", alias=_("capacity"))),
        description=_("People present (sum over the facility's sensors) and its capacity. Gaps are periods without "
                    "readings: closed, or a sensor outage."),
        interval="15m",
        options={"legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
                 "tooltip": {"mode": "multi", "sort": "none"}},
        defaults={"custom": {"drawStyle": "line", "lineWidth": 2, "fillOpacity": 15, "spanNulls": False}, "min": 0,
                  "decimals": 0, "unit": "none"},
        overrides=(c.color_override("occupancy", "blue"),
                   {"matcher": {"id": "byName", "options": "capacity"},
                    "properties": [{"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
                                   {"id": "custom.fillOpacity", "value": 0},
                                   {"id": "custom.lineInterpolation", "value": "stepAfter"},
                                   {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}]}),
    )


def hour_query(hour: int) -> str:
    """Mean occupancy in local hour ``hour`` of each day: hourly facility occupancy (-1 where no sensor
    reported, so every hour is present), then the first hour of each local day starting at ``hour``; a day
    bucket counts only when it holds all 24 hours, so partial days at the range's edges cannot misplace a value."""
    per_sensor = (f'SELECT mean("occupancy") AS "occ" FROM {ident(c.READING)} WHERE {FACILITY} AND {HEATMAP_RANGE} '
                  f"GROUP BY time(1h), {ident('sensor')}")
    hourly = f'SELECT sum("occ") AS "occ" FROM ({per_sensor}) WHERE {HEATMAP_RANGE} GROUP BY time(1h) fill(-1)'
    daily = (f'SELECT first("occ") AS "occ", count("occ") AS "hours" FROM ({hourly}) WHERE {HEATMAP_RANGE} '
             f"GROUP BY time(1d, {hour}h) {LOCAL_TZ}")
    return f'SELECT "occ" AS "{hour:02d}" FROM ({daily}) WHERE "hours" = 24'


def heatmap(grid: Grid) -> Panel:
    targets = tuple(Target(hour_query(hour), ref_id=f"H{hour:02d}", alias=f"{hour:02d}") for hour in range(24))
    return Panel(
        _("Occupancy by hour of day"), "heatmap", grid.place(14, 10), targets,
        description=_("Mean people present in each local hour (rows 00-23) of each day (columns: with the default "
                    "7-day range, one column per weekday). Hours without any sensor reading, and hours still to "
                    "come, are left blank; the hour the range starts in counts only its part inside the range."),
        options={"calculate": False, "yAxis": {"axisPlacement": "left", "reverse": True},
                 "rowsFrame": {"layout": "auto"}, "color": {"mode": "scheme", "scheme": "Oranges", "steps": 64,
                                                              "fill": "dark-orange", "exponent": 0.5},
                 "filterValues": {"le": -1e-9}, "cellGap": 1, "tooltip": {"mode": "single", "yHistogram": False},
                 "legend": {"show": True}, "showValue": "never"},
        defaults={"decimals": 0},
    )


def daily_visits(grid: Grid) -> Panel:
    query = (f'SELECT sum("entries") AS "visits", sum("uses") AS "uses" FROM {ident(c.READING)} '
             f"WHERE {FACILITY} AND $timeFilter GROUP BY time(1d) {LOCAL_TZ}")
    return Panel(
        _("Daily visits and uses"), "timeseries", grid.place(10, 10), (Target(query),),
        description=_("Entries counted by all the facility's sensors, and uses (bookings, loans, sessions), "
                    "per local day."),
        options={"legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
                 "tooltip": {"mode": "multi", "sort": "none"}},
        defaults={"custom": {"drawStyle": "bars", "fillOpacity": 70, "lineWidth": 1}, "min": 0, "decimals": 0},
    )


def status_history(grid: Grid) -> Panel:
    query = (f'SELECT "status", "reasons" FROM {ident(c.STATUS)} WHERE {FACILITY} '
             f"AND time >= ${{__from}}ms AND time <= ${{__to}}ms + {c.AS_OF_AHEAD}")
    return Panel(
        _("Status history"), "state-timeline", grid.place(24, 4), (Target(query, result_format="table"),),
        description=_("Status of each day's analysis (as-of dates)."),
        options={"showValue": "auto", "mergeValues": True, "rowHeight": 0.8, "alignValue": "left",
                 "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"}},
        defaults={"mappings": c.status_mappings(), "color": {"mode": "thresholds"}},
        transformations=({"id": "filterFieldsByName", "options": {"include": {"names": ["Time", "status"]}}},),
    )


def sensor_panels(grid: Grid) -> list[Panel]:
    online = (f'SELECT "online" FROM "sensor_status" WHERE {FACILITY} AND $timeFilter '
              f"GROUP BY {ident('sensor')}")
    timeline = Panel(
        _("Sensors online and offline"), "state-timeline", grid.place(14, 6),
        (Target(online, alias="$tag_sensor"),),
        description=_("Each sensor's reported connection status (its retained status topic and Last Will)."),
        options={"showValue": "auto", "mergeValues": True, "rowHeight": 0.8,
                 "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"}},
        defaults={"mappings": [{"type": "value", "options": {
            "true": {"text": "online", "color": "green", "index": 0},
            "false": {"text": "offline", "color": "red", "index": 1}}}], "color": {"mode": "thresholds"}},
    )
    last = (f'SELECT last("arrival_delay_ms") AS "arrival_delay_ms" FROM {ident(c.READING)} '
            f"WHERE {FACILITY} AND time >= ${{__to}}ms - 35d AND time <= ${{__to}}ms GROUP BY {ident('sensor')}")
    table = Panel(
        _("Last reading per sensor"), "table", grid.place(10, 6), (Target(last, result_format="table"),),
        description=_("When each sensor's latest reading was measured, and how late it arrived."),
        options=c.table_options(_("Last reading")),
        transformations=(c.organize({"sensor": N_("Sensor"), "Time": N_("Last reading"),
                                     "arrival_delay_ms": N_("Arrived after")}),),
        overrides=({"matcher": {"id": "byName", "options": _("Arrived after")},
                    "properties": [{"id": "unit", "value": "ms"}]},),
    )
    return [timeline, table]


def facility_annotations() -> tuple[Annotation, ...]:
    alerts = (f'SELECT "message", "kind", "status" FROM {ident(c.ALERT)} '
              f"WHERE {FACILITY} AND $timeFilter")
    reviews = (f'SELECT "note", "disposition", "reviewer" FROM {ident(c.REVIEW)} '
               f"WHERE {FACILITY} AND $timeFilter")
    return (Annotation(_("Alerts"), alerts, "message", "kind,status", "red"),
            Annotation(_("Reviews"), reviews, "note", "disposition,reviewer", "blue"))


def build() -> Dashboard:
    grid = Grid()
    panels = latest_panels(grid)
    grid.new_row()
    panels.append(integrity_panel(grid))
    grid.new_row()
    panels.append(occupancy(grid))
    grid.new_row()
    panels += [heatmap(grid), daily_visits(grid)]
    grid.new_row()
    panels.append(status_history(grid))
    grid.new_row()
    panels += sensor_panels(grid)
    return Dashboard(
        uid=c.DETAIL_UID, title=_("facmon — facility detail"),
        description=_("One facility: occupancy against capacity, its daily rhythm, status history, data-integrity "
                    "flag and sensors."),
        panels=tuple(panels),
        variables=(c.region_variable(), c.type_variable(), c.facility_variable(multi=False), tz_variable()),
        annotations=facility_annotations(),
    )
