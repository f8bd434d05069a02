"""Pipeline health: is data flowing from the sensors through the ingester into InfluxDB, and who is refused."""

from __future__ import annotations

from dashboards import common as c
from dashboards.model import Dashboard, Grid, Panel, Target
from facmon.core import names
from facmon.core.i18n import N_, _
from facmon.core.influxql import ident

REGION = c.var_match("region", "region")
#: The contract's heartbeat: a sensor sends at least every 15 minutes while its facility is open.
QUIET_MINUTES = 15
QUIET_LOOKBACK = "7d"
#: The raw-reading series (stored readings, arrival delay) read at most the last RAW_SPAN of the range: at a
#: province's size (40,000 sensors) every raw reading of 7 or 28 days takes InfluxDB minutes, while the ingester's
#: counters beside them cover any range cheaply. Anchored at the range's end, not at now: any earlier day is
#: seen whole by moving the range to it (docs/dashboards.md, "Pipeline health").
RAW_SPAN = "24h"
RAW_RANGE = f"$timeFilter AND time >= ${{__to}}ms - {RAW_SPAN}"
TIMESERIES_OPTIONS = {"legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"},
                      "tooltip": {"mode": "multi", "sort": "desc"}}


def flow(grid: Grid) -> Panel:
    """Counters are totals since each ingester started: their per-minute derivative (restarts dropped)."""
    counters = ", ".join(f'non_negative_derivative(max("{name}"), 1m) AS "{label}"' for name, label in (
        ("received", "messages received"), ("readings_accepted", "readings accepted"),
        ("readings_written", "readings written")))
    stats = f'SELECT {counters} FROM "ingest_stats" WHERE $timeFilter GROUP BY time($__interval), "instance"'
    stored = (f'SELECT count("arrival_delay_ms") * 60000 / $__interval_ms AS "stored, by reading time" '
              f"FROM {ident(c.READING)} WHERE {RAW_RANGE} AND {REGION} GROUP BY time($__interval)")
    return Panel(
        _("Readings per minute"), "timeseries", grid.place(16, 8),
        (Target(stats, alias="$col ($tag_instance)"), Target(stored, ref_id="B")),
        description=_("From the ingester's counters (measurement ingest_stats, every 10 s per instance) and from the "
                      "stored readings, placed at the time they were measured; the stored readings over the last "
                      "{span} of the range only (reading them all for a longer range is too slow for a province): "
                      "move the range to see an earlier day.").format(span=RAW_SPAN),
        interval="10s", options=TIMESERIES_OPTIONS,
        defaults={"custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10}, "unit": "none", "min": 0,
                  "decimals": 1},
    )


def backlog(grid: Grid) -> Panel:
    query = ('SELECT last("pending") AS "pending", last("write_retries") AS "write retries" FROM "ingest_stats" '
             'WHERE $timeFilter GROUP BY "instance"')
    return Panel(
        _("Pending readings and write retries"), "stat", grid.place(8, 8),
        (Target(query, alias="$col ($tag_instance)"),),
        description=_("Readings taken but not yet in InfluxDB, and write retries since the ingester started: both "
                    "grow while InfluxDB is unreachable."),
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value",
                 "graphMode": "none", "textMode": "value_and_name"},
        defaults={"decimals": 0, "thresholds": {"mode": "absolute", "steps": [
            {"color": "green", "value": None}, {"color": "orange", "value": 1000}, {"color": "red", "value": 10000}]}},
    )


def refusals(grid: Grid) -> list[Panel]:
    over_time = ('SELECT sum("count") AS "refused" FROM "refusal" WHERE $timeFilter '
                 'GROUP BY time($__interval), "reason" fill(0)')
    totals = 'SELECT sum("count") AS "refused" FROM "refusal" WHERE $timeFilter GROUP BY "reason"'
    return [
        Panel(_("Refusals by reason"), "timeseries", grid.place(16, 8), (Target(over_time, alias="$tag_reason"),),
              description=_("Messages and batch items refused, by reason (see the README's device contract). Each "
                          "refusal was also answered to the device on its rejected topic."),
              interval="1m", options=TIMESERIES_OPTIONS,
              defaults={"custom": {"drawStyle": "bars", "fillOpacity": 80, "stacking": {"mode": "normal"}},
                        "decimals": 0, "min": 0}),
        Panel(_("Refusals in the range"), "bargauge", grid.place(8, 8), (Target(totals, result_format="table"),),
              description=_("Total refusals per reason over the dashboard's time range."),
              options={"reduceOptions": {"calcs": ["sum"], "fields": "/^refused$/", "values": True},
                       "orientation": "horizontal", "displayMode": "basic", "showUnfilled": True},
              defaults={"decimals": 0, "min": 0, "displayName": "${__data.fields.reason}",
                        "color": {"mode": "fixed", "fixedColor": "orange"}}),
    ]


def quiet_sensors(grid: Grid) -> Panel:
    """Sensors without a reading in the last QUIET_MINUTES before the range's end.

    One pass over the lookback: each sensor's newest reading (``last``, with its received_ms from the same
    point; received_ms - arrival_delay_ms is the time it was measured, to the millisecond, as the ingester
    writes both). The outer query keeps the sensors whose newest reading is older than QUIET_MINUTES and
    counts the whole quarter hours, ending at the range's end, that passed without one: quarter k (0 = the
    last) is (end - 15(k+1) min, end - 15k min], so a reading 15k < end - t <= 15(k+1) minutes old leaves k
    quarters silent."""
    end = "${__to}"
    quarter_ms = QUIET_MINUTES * 60_000
    newest = (f'SELECT last("arrival_delay_ms") AS "delay", "received_ms" FROM {ident(c.READING)} '
              f"WHERE time >= {end}ms - {QUIET_LOOKBACK} AND time < {end}ms AND {REGION} "
              'GROUP BY "facility", "sensor"')
    measured = '"received_ms" - "delay"'
    age = f"({end} - ({measured}))"  # ms; ${__to} as a plain number, as dashboards.lint allows it in field arithmetic
    query = (f'SELECT {QUIET_MINUTES} * (ceil({age} / {quarter_ms}) - 1) AS "silent_minutes" '
             f"FROM ({newest}) WHERE {age} > {quarter_ms} GROUP BY \"facility\", \"sensor\"")
    return Panel(
        _("Sensors not heard from"), "table", grid.place(12, 9), (Target(query, result_format="table"),),
        description=_("Sensors that sent readings in the last {lookback} but none in the last {minutes} minutes, "
                      "with how long they have been silent (whole quarter hours). The contract asks for a heartbeat "
                      "only while the facility is open: outside opening hours a silent sensor is expected. 'Last "
                      "reading per sensor' gives the exact time.").format(lookback=QUIET_LOOKBACK,
                                                                          minutes=QUIET_MINUTES),
        options=c.table_options(_("Silent for"), descending=True),
        transformations=(c.organize({"facility": N_("Facility"), "sensor": N_("Sensor"),
                                     "silent_minutes": N_("Silent for")},
                                    exclude=("Time",)),),
        overrides=(c.link_override(_("Facility")),
                   {"matcher": {"id": "byName", "options": _("Silent for")},
                    "properties": [{"id": "unit", "value": "m"}]}),
    )


def last_seen(grid: Grid) -> Panel:
    query = (f'SELECT last("arrival_delay_ms") AS "arrival_delay_ms" FROM {ident(c.READING)} '
             f'WHERE time >= ${{__to}}ms - 35d AND time <= ${{__to}}ms AND {REGION} GROUP BY "facility", "sensor"')
    return Panel(
        _("Last reading per sensor"), "table", grid.place(12, 9), (Target(query, result_format="table"),),
        description=_("Every sensor heard from in the last 35 days (the oldest reading the ingester accepts), "
                    "longest silent first."),
        options=c.table_options(_("Last reading")),
        transformations=(c.organize({"facility": N_("Facility"), "sensor": N_("Sensor"), "Time": N_("Last reading"),
                                     "arrival_delay_ms": N_("Arrived after")}),),
        overrides=(c.link_override(_("Facility")),
                   {"matcher": {"id": "byName", "options": _("Arrived after")},
                    "properties": [{"id": "unit", "value": "ms"}]}),
    )


#: How far back the devices table counts revisions: the oldest reading the ingester accepts (as `facmon devices`).
REVISION_LOOKBACK = "35d"
DAY_BEFORE_END = "time >= ${__to}ms - 1d AND time <= ${__to}ms"


def devices(grid: Grid) -> Panel:
    """`facmon devices` as a table: one query per source, each one row per facility and sensor, merged by Grafana.

    InfluxQL cannot join measurements, so each target reads one: readings (A), refusals (B), the last status (C)
    and revisions (D). A refusal's sensor is a field, not a tag, and InfluxQL groups by tags only: B returns the
    refusals themselves (oldest first) and Grafana's groupBy sums them per facility and sensor and keeps the latest
    reason. groupBy keeps only the fields it is told about, which drops each frame's time column, so the merge
    that follows joins rows on facility and sensor alone. Refusals for an unknown facility have no facility tag
    and are left out (the refusal panels count them; `facmon devices` lists them)."""
    readings = (f'SELECT count("received_ms") AS "readings_24h", last("received_ms") AS "last_received_ms" '
                f"FROM {ident(c.READING)} WHERE {DAY_BEFORE_END} AND {REGION} GROUP BY \"facility\", \"sensor\"")
    refused = (f'SELECT "count" AS "refusals_24h", "sensor", "reason" AS "latest_reason" FROM {ident(names.REFUSAL)} '
               f'WHERE {DAY_BEFORE_END} AND "facility" =~ /./ GROUP BY "facility"')
    status = (f'SELECT last("online") AS "online" FROM {ident(names.SENSOR_STATUS)} WHERE time <= ${{__to}}ms '
              'GROUP BY "facility", "sensor"')
    revisions = (f'SELECT count("new_received_ms") AS "revisions" FROM {ident(names.REVISION)} '
                 f"WHERE time >= ${{__to}}ms - {REVISION_LOOKBACK} AND time <= ${{__to}}ms "
                 'GROUP BY "facility", "sensor"')
    targets = tuple(Target(query, ref_id=ref_id, result_format="table")
                    for ref_id, query in zip("ABCD", (readings, refused, status, revisions), strict=True))
    # (column, groupBy's calculation or None for a key, its title); groupBy names a result "column (calculation)"
    columns = (("facility", None, N_("Facility")), ("sensor", None, N_("Sensor")),
               ("readings_24h", "lastNotNull", N_("Readings in 24 h")),
               ("last_received_ms", "lastNotNull", N_("Last arrived")),
               ("refusals_24h", "sum", N_("Refusals in 24 h")), ("latest_reason", "last", N_("Latest refusal reason")),
               ("online", "lastNotNull", N_("Last status")), ("revisions", "lastNotNull", N_("Revisions")))
    group = {"id": "groupBy", "options": {"fields": {
        name: {"aggregations": [calc] if calc else [], "operation": "aggregate" if calc else "groupby"}
        for name, calc, _title in columns}}}
    titles = {f"{name} ({calc})" if calc else name: title for name, calc, title in columns}
    return Panel(
        _("Devices"), "table", grid.place(24, 9), targets,
        description=_("Every sensor heard from: its readings in the 24 hours before the range's end (the heartbeat "
                      "is one per 15 minutes while open, 96 for a facility open all day) and when the last one "
                      "arrived, its refusals in those 24 hours with the latest reason, whether its last status "
                      "message (or Last Will) said online, and its revisions (readings re-sent with other values) "
                      "in the last 35 days. The region filter applies to readings only. `facmon devices` adds "
                      "today's expected count and the sensors refused for an unknown facility."),
        options=c.table_options(_("Readings in 24 h")),
        transformations=(group, {"id": "merge", "options": {}}, c.organize(titles)),
        overrides=(c.link_override(_("Facility")),
                   {"matcher": {"id": "byName", "options": _("Last arrived")},
                    "properties": [{"id": "unit", "value": "dateTimeAsIso"}]},
                   {"matcher": {"id": "byName", "options": _("Last status")},
                    "properties": [{"id": "mappings", "value": [{"type": "value", "options": {
                        "true": {"text": _("online"), "color": "green", "index": 0},
                        "false": {"text": _("offline"), "color": "red", "index": 1}}}]},
                                   {"id": "custom.cellOptions", "value": {"type": "color-text"}}]}),
    )


def lag(grid: Grid) -> Panel:
    write = ('SELECT max("lag_ms") AS "write lag, max" FROM "ingest_stats" WHERE $timeFilter '
             'GROUP BY time($__interval), "instance"')
    arrival = (f'SELECT percentile("arrival_delay_ms", 95) AS "arrival delay, p95" FROM {ident(c.READING)} '
               f"WHERE {RAW_RANGE} AND {REGION} GROUP BY time($__interval)")
    return Panel(
        _("Write lag"), "timeseries", grid.place(24, 8),
        (Target(write, alias="$col ($tag_instance)"), Target(arrival, ref_id="B")),
        description=_("Write lag: from receiving a batch to InfluxDB having it (ingest_stats.lag_ms). Arrival "
                      "delay: from measuring to receiving (store-and-forward batches arrive late on purpose), over "
                      "the last {span} of the range only (reading every raw reading of a longer range is too slow "
                      "for a province): move the range to see an earlier day.").format(span=RAW_SPAN),
        interval="10s", options=TIMESERIES_OPTIONS,
        defaults={"custom": {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 0}, "unit": "ms", "min": 0},
    )


def offline_now(grid: Grid) -> Panel:
    query = ('SELECT count("online") AS "offline" FROM (SELECT last("online") AS "online" FROM "sensor_status" '
             'GROUP BY "facility", "sensor") WHERE "online" = false')
    return Panel(
        _("Sensors reporting offline"), "stat", grid.place(6, 4), (Target(query),),
        description=_("Sensors whose latest status message (or Last Will) says offline."),
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}, "colorMode": "value",
                 "graphMode": "none", "textMode": "value"},
        defaults={"noValue": "0", "decimals": 0, "thresholds": {"mode": "absolute", "steps": [
            {"color": "green", "value": None}, {"color": "red", "value": 1}]}},
    )


def build() -> Dashboard:
    grid = Grid()
    panels = [flow(grid), backlog(grid)]
    grid.new_row()
    panels += refusals(grid)
    grid.new_row()
    panels += [quiet_sensors(grid), last_seen(grid)]
    grid.new_row()
    panels.append(devices(grid))
    grid.new_row()
    panels.append(lag(grid))
    grid.new_row()
    panels.append(offline_now(grid))
    return Dashboard(
        uid=c.PIPELINE_UID, title=_("facmon — pipeline health"),
        description=_("Readings in and written, refusals, quiet sensors and lag: is the data path healthy?"),
        panels=tuple(panels), variables=(c.region_variable(c.READING),), time_from="now-6h", refresh="1m",
    )
