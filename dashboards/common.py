"""What the three dashboards share: their uids, status colours, variable filters and the latest-status query.

Variables are always written with Grafana's ``regex`` format inside an anchored regex, ``/^${var:regex}$/``:
one value becomes ``^value$`` with regex characters escaped (region paths hold ``/``), several or All become
``^(a|b)$``. The InfluxDB data source's default format would leave ``/`` unescaped in multi-value variables
and end the regex early, so the lint (dashboards.lint) refuses any other use.
"""

from __future__ import annotations

from analytics.analysis.model import DISPLAY_ORDER, Status
from dashboards.model import JSON, QueryVariable
from facmon.core import names
from facmon.core.i18n import _
from facmon.core.influxql import ident, literal

OVERVIEW_UID = "facmon-overview"
DETAIL_UID = "facmon-facility"
PIPELINE_UID = "facmon-pipeline"
DETAIL_SLUG = "facmon-facility"

STATUS, INFO = names.FACILITY_STATUS, names.FACILITY_INFO
ALERT, REVIEW, READING = names.ALERT, names.REVIEW, names.READINGS

#: Statuses in the order managers read them, and their colours (NO_DATA is a sensor problem: never red).
STATUSES: tuple[str, ...] = tuple(status.value for status in DISPLAY_ORDER)
FLAGGED: tuple[str, ...] = tuple(status.value for status in DISPLAY_ORDER if status.flagged)
STATUS_COLORS: dict[str, str] = {
    Status.IDLE.value: "red",
    Status.UNDERUSED.value: "orange",
    Status.NO_DATA.value: "purple",
    Status.EXEMPT.value: "blue",
    Status.ACTIVE.value: "green",
}
#: How far back the "current" panels look for a facility's latest status: analysis runs at least daily.
LATEST_LOOKBACK = "8d"
#: facility_status points sit at midnight UTC of the as-of date, which may lie up to a day after now.
AS_OF_AHEAD = "1d"


def var_match(tag: str, variable: str) -> str:
    """``"tag" =~ /^${variable:regex}$/``: the one way a variable enters a query (see the module docstring)."""
    return f"{ident(tag)} =~ /^${{{variable}:regex}}$/"


def one_of(column: str, values: tuple[str, ...]) -> str:
    """``"column" =~ /^(a|b)$/`` for fixed values (status names, alert kinds: letters and ``_`` only)."""
    if not all(value.replace("_", "").isalnum() for value in values):
        raise ValueError("one_of takes plain words only")
    return f"{ident(column)} =~ /^({'|'.join(values)})$/"


def equals(column: str, value: str) -> str:
    return f"{ident(column)} = {literal(value)}"


def region_type_filter() -> str:
    return f"{var_match('region', 'region')} AND {var_match('type', 'type')}"


def current_range() -> str:
    """The time range of "latest" queries: the last LATEST_LOOKBACK up to the dashboard's end time."""
    return f"time >= ${{__to}}ms - {LATEST_LOOKBACK} AND time <= ${{__to}}ms + {AS_OF_AHEAD}"


def latest_status(where: str, fields: tuple[str, ...] = ()) -> str:
    """Subquery: each facility's latest facility_status point (``window_days`` is always written, so ``last`` of
    it picks the newest point even when figures such as occupancy_rate were left out of it)."""
    selected = ", ".join(['last("window_days") AS "window_days"', '"status"', *(ident(f) for f in fields)])
    return (f"SELECT {selected} FROM {ident(STATUS)} WHERE {current_range()} AND {where} "
            f"GROUP BY {ident('facility')}, {ident('region')}, {ident('type')}")


def tag_values(measurement: str, key: str, where: str = "") -> str:
    query = f"SHOW TAG VALUES FROM {ident(measurement)} WITH KEY = {ident(key)}"
    return f"{query} WHERE {where}" if where else query


def region_variable(measurement: str = STATUS) -> QueryVariable:
    return QueryVariable("region", _("Region"), tag_values(measurement, "region"))


def type_variable() -> QueryVariable:
    return QueryVariable("type", _("Type"), tag_values(STATUS, "type", var_match("region", "region")))


def facility_variable(multi: bool) -> QueryVariable:
    """Facilities of the chosen regions and types; single-valued on the detail dashboard."""
    where = f"{var_match('region', 'region')} AND {var_match('type', 'type')}"
    return QueryVariable("facility", _("Facility"), tag_values(STATUS, "facility", where), multi=multi,
                         include_all=multi)


def detail_link(field: str = "facility") -> JSON:
    """A data link to the facility detail dashboard for the facility of the clicked row."""
    return {
        "title": _("Open the facility's detail dashboard"),
        "url": f"/d/{DETAIL_UID}/{DETAIL_SLUG}?var-facility=${{__data.fields.{field}}}&${{__url_time_range}}",
    }


def link_override(field: str = "facility") -> JSON:
    return {"matcher": {"id": "byName", "options": field}, "properties": [{"id": "links", "value": [detail_link()]}]}


def status_mappings() -> list[JSON]:
    options = {status: {"color": STATUS_COLORS[status], "index": index, "text": status_label(status).replace("_", " ")}
               for index, status in enumerate(STATUSES)}
    return [{"type": "value", "options": options}]


def status_label(status: str) -> str:
    """A status code as the dashboard's language writes it (the code in English, 闲置 in Chinese)."""
    return Status(status).label


def color_override(name: str, color: str) -> JSON:
    return {"matcher": {"id": "byName", "options": name},
            "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": color}}]}


def percent_unit(decimals: int = 1) -> JSON:
    return {"unit": "percentunit", "decimals": decimals, "min": 0}


def table_options(sort_by: str | None = None, descending: bool = False) -> JSON:
    options: JSON = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    if sort_by:
        options["sortBy"] = [{"displayName": sort_by, "desc": descending}]
    return options


def organize(rename: dict[str, str], exclude: tuple[str, ...] = ()) -> JSON:
    """Grafana's organize transformation: friendly column names (marked with N_, translated here into the
    dashboard's language), hidden helper columns."""
    return {"id": "organize", "options": {
        "excludeByName": dict.fromkeys(exclude, True),
        "indexByName": {name: index for index, name in enumerate(rename)},
        "renameByName": {name: _(title) for name, title in rename.items()},
    }}
