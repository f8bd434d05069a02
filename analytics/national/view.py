"""The national view as JSON (codes and numbers, the same in every language; docs/scaling.md) and as a table for
people (in the current language: status words, type names, what each fired threshold measures)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson

from analytics.analysis.model import DISPLAY_ORDER
from analytics.analysis.output import SUSPECT, display_width, fit_columns
from analytics.national.export import ExportedFacility, ExportedFired
from analytics.national.merge import NationalView, Tally
from facmon.core.i18n import N_, _, current, format_number, format_percent
from sensors.facility_types import display_type

FORMAT_VERSION = 1
VIEW = "facmon-national"

#: What each status rule measures, for the table; the JSON keeps the rule's code. Rules a newer facmon adds show
#: their code.
RULE_WORDS = {
    "exempt_closed_share": N_("closed on purpose"),
    "min_coverage": N_("sensor data"),
    "idle_day_share": N_("days without use"),
    "min_occupancy_rate": N_("occupancy rate"),
    "min_visits_per_capacity": N_("visits or uses per open day"),
}
COMPARISONS = {">=": "≥", "<=": "≤"}
NAME_WIDTH, TYPE_WIDTH = 24, 16
#: Rules whose value and threshold are shares (written as percentages); the others are counts.
SHARE_RULES = frozenset({"exempt_closed_share", "min_coverage", "idle_day_share", "min_occupancy_rate"})


# -- JSON ------------------------------------------------------------------------------------------------------
def tally_dict(tally: Tally) -> dict[str, Any]:
    return {"facilities": tally.facilities, "counts": {s.value: n for s, n in tally.counts.items()},
            "suspect": tally.suspect}


def national_dict(view: NationalView) -> dict[str, Any]:
    """Everything but the flagged facilities, which render_json writes one a line after it."""
    return {
        "view": VIEW,
        "format": FORMAT_VERSION,
        "as_of": view.as_of.isoformat(),
        "window": view.window.model_dump(mode="json"),
        "key": ["deployment", "facility_id"],
        "region_depth": view.region_depth,
        "deployments": [{"deployment": d.name, "file": d.source, "sha256": d.sha256,
                         "facmon_version": d.facmon_version, **tally_dict(d.tally)} for d in view.deployments],
        "total": tally_dict(view.total),
        "by_region": [{"region": region, **tally_dict(t)} for region, t in view.by_region.items()],
        "by_type": [{"type": kind, **tally_dict(t)} for kind, t in view.by_type.items()],
    }


def render_json(view: NationalView) -> bytes:
    """The view: its summary indented, then `flagged`, one facility a line (a country has hundreds of thousands:
    each is written once, as the merge kept it)."""
    summary = orjson.dumps(national_dict(view), option=orjson.OPT_INDENT_2)
    lines = [f.line for f in view.flagged]
    flagged = b"[\n    " + b",\n    ".join(lines) + b"\n  ]" if lines else b"[]"
    return summary[:-2] + b',\n  "flagged": ' + flagged + b"\n}\n"


# -- table -----------------------------------------------------------------------------------------------------
def grid(headers: Sequence[str], rows: Sequence[Sequence[str]], last_free: bool = False) -> list[str]:
    """Columns as wide as their widest cell (CJK characters count two); the last one unpadded if `last_free`."""
    table = [list(headers), *(list(row) for row in rows)]
    widths = [max(display_width(row[i]) for row in table) for i in range(len(headers))]
    last = len(headers) - 1 if last_free else -1
    return ["  ".join(cell if i == last else fit_columns(cell, widths[i]) for i, cell in enumerate(row)).rstrip()
            for row in table]


def cut(text: str, width: int) -> str:
    """At most `width` columns, an ellipsis marking a cut."""
    return text if display_width(text) <= width else fit_columns(text, width)


def _number(rule: str, value: float) -> str:
    return format_percent(value) if rule in SHARE_RULES else format_number(value, 1)


def fired_text(fired: ExportedFired) -> str:
    """`occupancy 5% < 10%`: what the rule measures, its value, the comparison, the threshold."""
    words = RULE_WORDS.get(fired.rule)
    return _("{measure} {value} {comparison} {threshold}").format(
        measure=_(words) if words else fired.rule, value=_number(fired.rule, fired.value),
        comparison=COMPARISONS.get(fired.comparison, fired.comparison), threshold=_number(fired.rule, fired.threshold))


def reason_text(facility: ExportedFacility) -> str:
    """The thresholds that fired, then the integrity checks that did (their codes, as analyze's table shows)."""
    parts = [fired_text(f) for f in facility.fired]
    if facility.findings:
        parts.append(f"{_(SUSPECT)} " + ",".join(f.detector for f in facility.findings))
    return _("; ").join(parts)


def _tally_rows(label: Callable[[str], str], tallies: dict[str, Tally]) -> list[list[str]]:
    return [[label(key), str(t.facilities), *(str(t.counts[s]) for s in DISPLAY_ORDER), str(t.suspect)]
            for key, t in tallies.items()]


def _tally_headers(first: str) -> list[str]:
    return [first, _("FACILITIES"), *(s.label for s in DISPLAY_ORDER), _(SUSPECT)]


def summary_line(view: NationalView) -> str:
    """`National view as of …, 28 days: 2 deployments, 11 facilities: 2 IDLE, …; 3 DATA_SUSPECT` (zeros left out)."""
    total = view.total
    counted = _(", ").join(_("{count} {status}").format(count=total.counts[s], status=s.label)
                           for s in DISPLAY_ORDER if total.counts[s])
    line = _("National view as of {as_of}, {days} days: {deployments} deployments, {facilities} facilities: "
             "{counts}").format(as_of=view.as_of.isoformat(), days=view.window.days,
                                deployments=len(view.deployments), facilities=total.facilities, counts=counted)
    if total.suspect:
        line += _("; {count} {suspect}").format(count=total.suspect, suspect=_(SUSPECT))
    return line


def render_table(view: NationalView) -> str:
    """Counts by deployment, region and type, then every flagged facility with its deployment."""
    language = current()
    lines = [summary_line(view),
             _("A facility is its deployment and its id together: ids are unique only within a deployment."), ""]
    deployments = {d.name: d.tally for d in view.deployments}
    lines += grid(_tally_headers(_("DEPLOYMENT")), _tally_rows(str, deployments))
    lines.append("")
    lines += grid(_tally_headers(_("REGION")), _tally_rows(str, view.by_region))
    lines.append("")
    lines += grid(_tally_headers(_("TYPE")), _tally_rows(lambda code: display_type(code, language), view.by_type))
    lines.append("")
    lines.append(_("Flagged facilities ({count}): idle, underused, without data, or with data that look forged")
                 .format(count=len(view.flagged)))
    rows = []
    for flagged in view.flagged:
        facility = flagged.facility()
        rows.append([flagged.deployment, facility.facility_id, cut(facility.name, NAME_WIDTH),
                     cut(display_type(facility.type, language), TYPE_WIDTH), facility.region, facility.status.label,
                     reason_text(facility)])
    headers = [_("DEPLOYMENT"), _("FACILITY"), _("NAME"), _("TYPE"), _("REGION"), _("STATUS"), _("REASON")]
    lines += grid(headers, rows, last_free=True)
    return "\n".join(lines) + "\n"


RENDERERS: dict[str, Callable[[NationalView], bytes]] = {
    "json": render_json,
    "table": lambda view: render_table(view).encode(),
}
