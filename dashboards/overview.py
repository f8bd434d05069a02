"""Utilization overview: where facilities stand now, which ones need someone, and what auditors did about them."""

from __future__ import annotations

from analytics.alerts.decide import Kind
from dashboards import common as c
from dashboards.model import JSON, Dashboard, Grid, GridPos, Panel, Target
from facmon.core.i18n import N_, _
from facmon.core.influxql import ident

ALERT_COLUMNS = ("kind", "status", "as_of", "recipients", "failed", "message")
#: Each alert track's panel: title, who receives its notices.
TRACKS = {"usage": (N_("Open usage alerts"), N_("auditors")),
          "outage": (N_("Open sensor outages"), N_("departments")),
          "integrity": (N_("Open data-integrity alerts"), N_("auditors"))}


def _where() -> str:
    return f"{c.region_type_filter()} AND {c.var_match('facility', 'facility')}"


def status_counts(grid: Grid) -> Panel:
    """One stat per status: how many facilities have it in their latest analysis."""
    targets = tuple(
        Target(f'SELECT count("window_days") AS {ident(status)} FROM ({c.latest_status(_where())}) '
               f"WHERE {c.equals('status', status)}", ref_id=chr(ord("A") + index), alias=c.status_label(status))
        for index, status in enumerate(c.STATUSES)
    )
    return Panel(
        _("Facilities by status"), "stat", grid.place(24, 4), targets,
        description=_("Latest status of each facility in the chosen regions and types. NO_DATA means the sensors "
                    "went quiet: a sensor problem, never evidence of idleness."),
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "colorMode": "background", "graphMode": "none", "textMode": "value_and_name",
                 "orientation": "vertical", "justifyMode": "center"},
        defaults={"noValue": "0", "unit": "none", "decimals": 0},
        overrides=tuple(c.color_override(c.status_label(status), c.STATUS_COLORS[status]) for status in c.STATUSES),
    )


def facility_table(
    title: str, pos: GridPos, targets: tuple[Target, ...], *, description: str, sort_by: str,
    transformations: tuple[JSON, ...], overrides: tuple[JSON, ...] = (),
) -> Panel:
    """A filterable table of facilities whose Facility column links to the detail and whose Status column is
    coloured like the status stats; one builder so the overview's facility tables look and behave alike."""
    status_colors: JSON = {"matcher": {"id": "byName", "options": _("Status")},
                           "properties": [{"id": "mappings", "value": c.status_mappings()},
                                          {"id": "custom.cellOptions", "value": {"type": "color-background"}}]}
    return Panel(
        title, "table", pos, targets,
        description=description,
        options=c.table_options(sort_by),
        defaults={"custom": {"align": "auto", "filterable": True}},
        overrides=(c.link_override(_("Facility")), status_colors, *overrides),
        transformations=transformations,
    )


def flagged_table(grid: Grid) -> Panel:
    """Facilities someone must look at, with the figures behind the status and a link to their detail."""
    fields = ("occupancy_rate", "coverage", "name", "department", "reasons")
    columns = ("facility", "name", "status", "occupancy_rate", "coverage", "region", "type", "department", "reasons")
    flagged = Target(
        f"SELECT {', '.join(ident(col) for col in columns)} FROM ({c.latest_status(_where(), fields)}) "
        f"WHERE {c.one_of('status', c.FLAGGED)}", result_format="table")
    since = Target(
        f'SELECT last("as_of") AS "flagged_since" FROM {ident(c.ALERT)} '
        f"WHERE {c.one_of('kind', ('raised', 'outage'))} AND time <= ${{__to}}ms AND {_where()} "
        f"GROUP BY {ident('facility')}", ref_id="B", result_format="table")
    rename = {"facility": N_("Facility"), "name": N_("Name"), "status": N_("Status"),
              "occupancy_rate": N_("Occupancy"), "coverage": N_("Coverage"), "region": N_("Region"),
              "type": N_("Type"), "department": N_("Department"), "flagged_since": N_("Flagged since"),
              "reasons": N_("Reasons")}
    return facility_table(
        _("Flagged facilities"), grid.place(14, 11), (flagged, since),
        description=_("IDLE, UNDERUSED and NO_DATA facilities by their latest analysis. Flagged since: the as-of date "
                    "of the facility's latest raised alert or sensor outage notice. Click a facility for its detail."),
        sort_by=_("Status"),
        overrides=(
            {"matcher": {"id": "byRegexp", "options": f"^({_('Occupancy')}|{_('Coverage')})$"},
             "properties": [{"id": "unit", "value": "percentunit"}, {"id": "decimals", "value": 1}]},
        ),
        transformations=(
            {"id": "joinByField", "options": {"byField": "facility", "mode": "outer"}},
            {"id": "filterByValue", "options": {
                "type": "exclude", "match": "any",
                "filters": [{"fieldName": "status", "config": {"id": "isNull", "options": {}}}]}},
            c.organize(rename, exclude=("Time", "Time 1", "Time 2")),
        ),
    )


def suspect_table(grid: Grid) -> Panel:
    """Facilities whose latest analysis flags their data as suspect, whatever their status, with the reasons."""
    fields = ("suspect", "name", "integrity_detectors", "integrity")
    columns = ("facility", "name", "status", "integrity_detectors", "integrity")
    query = (f"SELECT {', '.join(ident(col) for col in columns)} FROM ({c.latest_status(_where(), fields)}) "
             f'WHERE "suspect" = true')
    rename = {"facility": N_("Facility"), "name": N_("Name"), "status": N_("Status"),
              "integrity_detectors": N_("Detectors"), "integrity": N_("Reasons")}
    return facility_table(
        _("Suspect data"), grid.place(14, 8), (Target(query, result_format="table"),),
        description=_("Facilities whose readings the latest analysis found implausible (flat lines, copied days, "
                    "clones, impossible counts, late bulk arrivals, too regular figures), beside their status: an "
                    "ACTIVE facility can be here. A flag for an auditor to review, not proof. Click a facility for "
                    "its detail."),
        sort_by=_("Facility"),
        transformations=(c.organize(rename, exclude=("Time",)),),
    )


def facility_map(grid: Grid) -> Panel:
    """Facilities at their registry location (facility_info), coloured by latest status."""
    status = Target(
        f'SELECT "facility", "name", "status", "occupancy_rate" '
        f"FROM ({c.latest_status(_where(), ('occupancy_rate', 'name'))})", result_format="table")
    where = f"{c.region_type_filter()} AND {c.var_match('facility', 'facility')}"
    location = Target(
        f'SELECT last("lat") AS "lat", last("lon") AS "lon" FROM {ident(c.INFO)} WHERE {where} '
        f"GROUP BY {ident('facility')}", ref_id="B", result_format="table")
    layer = {
        "type": "markers", "name": _("Facilities"), "tooltip": True,
        "location": {"mode": "coords", "latitude": "lat", "longitude": "lon"},
        "config": {"showLegend": True, "style": {
            "color": {"field": "status", "fixed": "dark-green"}, "opacity": 0.9,
            "size": {"fixed": 9, "min": 4, "max": 15},
            "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
        }},
    }
    return Panel(
        _("Facilities on the map"), "geomap", grid.place(10, 11), (status, location),
        description=_("Location from the registry (measurement facility_info, written by `facmon dashboards "
                    "sync-registry`); facilities without a location are not shown."),
        options={"view": {"id": "fit", "allLayers": True, "lat": 0, "lon": 0, "zoom": 10},
                 "controls": {"showZoom": True, "mouseWheelZoom": True, "showAttribution": True},
                 "basemap": {"type": "default", "name": "Basemap"}, "layers": [layer], "tooltip": {"mode": "details"}},
        defaults={"mappings": c.status_mappings(), "color": {"mode": "thresholds"},
                  "thresholds": {"mode": "absolute", "steps": [{"color": "dark-green", "value": None}]}},
        overrides=(c.link_override("facility"),),
        transformations=({"id": "joinByField", "options": {"byField": "facility", "mode": "inner"}},),
    )


def utilization_by(grid: Grid, tag: str) -> Panel:
    """Mean occupancy rate of the latest analysis, per region or per type."""
    title, description = {
        "region": (_("Mean occupancy by region"),
                   _("Mean occupancy rate (share of capacity while open) per region, latest analysis; facilities "
                     "without enough data are left out of the mean.")),
        "type": (_("Mean occupancy by type"),
                 _("Mean occupancy rate (share of capacity while open) per type, latest analysis; facilities "
                   "without enough data are left out of the mean.")),
    }[tag]
    query = (f'SELECT mean("occupancy_rate") AS "occupancy_rate" '
             f"FROM ({c.latest_status(_where(), ('occupancy_rate',))}) GROUP BY {ident(tag)}")
    return Panel(
        title, "barchart", grid.place(12, 8), (Target(query, result_format="table"),),
        description=description,
        options={"xField": tag, "orientation": "horizontal", "showValue": "auto", "barWidth": 0.8,
                 "legend": {"showLegend": False, "displayMode": "list", "placement": "bottom"},
                 "tooltip": {"mode": "single", "sort": "none"}},
        defaults={**c.percent_unit(), "color": {"mode": "fixed", "fixedColor": "blue"}},
    )


def open_alerts(grid: Grid, track: str, width: int = 12) -> Panel:
    """Alerts whose track's latest notice leaves them open (raised or reminded, outage), per facility."""
    kinds = tuple(kind.value for kind in Kind if kind.track == track)
    still_open = c.one_of("kind", tuple(kind.value for kind in Kind if kind.track == track and kind.opens))
    others = ", ".join(ident(col) for col in ALERT_COLUMNS if col != "as_of")
    inner = (f'SELECT last("as_of") AS "as_of", {others} FROM {ident(c.ALERT)} '
             f"WHERE {c.one_of('kind', kinds)} AND time <= ${{__to}}ms AND {_where()} GROUP BY {ident('facility')}")
    columns = ", ".join(ident(col) for col in ("facility", *ALERT_COLUMNS))
    query = f"SELECT {columns} FROM ({inner}) WHERE {still_open}"
    title, who = TRACKS[track]
    return Panel(
        _(title), "table", grid.place(width, 8), (Target(query, result_format="table"),),
        description=_("Latest notice per facility still open; sent to the {who}. Failed: recipients not yet "
                      "reached.").format(who=_(who)),
        options=c.table_options("Time", descending=True),
        overrides=(c.link_override(),),
    )


def latest_reviews(grid: Grid) -> Panel:
    query = (f'SELECT "facility", "disposition", "reviewer", "note", "until" FROM {ident(c.REVIEW)} '
             f"WHERE time >= ${{__to}}ms - 90d AND time <= ${{__to}}ms AND {_where()} "
             "ORDER BY time DESC LIMIT 50")
    return Panel(
        _("Latest reviews"), "table", grid.place(24, 7), (Target(query, result_format="table"),),
        description=_("Auditors' reviews of the last 90 days, newest first, of the chosen regions, types and "
                    "facilities. Until: alerts held back until that day. Reviews recorded before facmon kept a "
                    "review's region and type show only with All regions and All types."),
        options=c.table_options(), overrides=(c.link_override(),),
    )


def status_history(grid: Grid) -> Panel:
    query = (f'SELECT count("window_days") FROM {ident(c.STATUS)} WHERE time >= ${{__from}}ms '
             f"AND time <= ${{__to}}ms + {c.AS_OF_AHEAD} AND {_where()} GROUP BY time(1d), {ident('status')} fill(0)")
    return Panel(
        _("Facilities by status, day by day"), "timeseries", grid.place(24, 8),
        (Target(query, alias="$tag_status"),),
        description=_("How many facilities had each status in each day's analysis (as-of dates, midnight UTC)."),
        options={"legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
                 "tooltip": {"mode": "multi", "sort": "desc"}},
        defaults={"custom": {"drawStyle": "bars", "fillOpacity": 80, "stacking": {"mode": "normal", "group": "A"},
                             "lineWidth": 1}, "decimals": 0, "min": 0},
        overrides=tuple(c.color_override(status, c.STATUS_COLORS[status]) for status in c.STATUSES),
    )


def build() -> Dashboard:
    grid = Grid()
    panels = [status_counts(grid)]
    grid.new_row()
    panels += [flagged_table(grid), facility_map(grid)]
    grid.new_row()
    panels += [suspect_table(grid), open_alerts(grid, "integrity", width=10)]
    grid.new_row()
    panels += [utilization_by(grid, "region"), utilization_by(grid, "type")]
    grid.new_row()
    panels += [open_alerts(grid, "usage"), open_alerts(grid, "outage")]
    grid.new_row()
    panels += [latest_reviews(grid), status_history(grid)]
    return Dashboard(
        uid=c.OVERVIEW_UID, title=_("facmon — utilization overview"),
        description=_("Which public facilities are used, which stand idle, which sensors went quiet, and whose "
                    "data look implausible."),
        panels=tuple(panels),
        variables=(c.region_variable(), c.type_variable(), c.facility_variable(multi=True)),
        time_from="now-30d",
    )
