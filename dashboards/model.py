"""Grafana dashboards as plain typed structures, rendered to the JSON that Grafana's file provisioning and HTTP API
take. The structure (dashboard, panels, grid, targets, variables, annotations, links) is typed here; each panel
type's own options stay free-form dictionaries, built by small helpers next to the dashboards that use them.

Why no builder library: grafanalib's last release is from early 2024 and models the old graph panel; the
foundation SDK's Python package tracks Grafana's schema releases closely but makes every panel a chain of
generated builder calls. facmon needs a small, stable subset (InfluxQL raw queries, a dozen panel types), and
dataclasses keep the rendered JSON exactly what the code says, which the committed-JSON drift test relies on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from facmon.core import names

JSON = dict[str, Any]
DATASOURCE_UID = "facmon-influxdb"
EVIDENCE_UID = "facmon-evidence"
DATASOURCE_TYPE = "influxdb"
#: Grafana's data source is per database: readings (the ingester's) and evidence (analytics':
#: analytics.analysis.evidence).
DATASOURCE: JSON = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}
EVIDENCE: JSON = {"type": DATASOURCE_TYPE, "uid": EVIDENCE_UID}
MIXED: JSON = {"type": "datasource", "uid": "-- Mixed --"}
#: Every variable's All: a regex matching any value, which Grafana substitutes unformatted (QueryVariable).
ALL_VALUE = ".*"
#: Measurements of the evidence database.
EVIDENCE_MEASUREMENTS = frozenset(names.EVIDENCE_MEASUREMENTS)
_FROM_RE = re.compile(r'\bFROM\s+"((?:[^"\\]|\\.)*)"', re.IGNORECASE)


def source_of(query: str) -> JSON:
    """The data source a query must go to, from the measurements it reads; InfluxQL cannot join two databases, so
    a query reading from both is a mistake."""
    names = set(_FROM_RE.findall(query))
    evidence = names & EVIDENCE_MEASUREMENTS
    if evidence and names - EVIDENCE_MEASUREMENTS:
        raise ValueError(f"a query reads both databases ({sorted(names)}): split it into two targets")
    return dict(EVIDENCE if evidence else DATASOURCE)
SCHEMA_VERSION = 39
GRID_COLUMNS = 24

PanelType = Literal[
    "timeseries", "table", "stat", "geomap", "state-timeline", "heatmap", "barchart", "piechart", "bargauge",
]
ResultFormat = Literal["time_series", "table"]


@dataclass(frozen=True, slots=True)
class Target:
    """One raw InfluxQL query of a panel; ``alias`` names its series in the legend."""

    query: str
    ref_id: str = "A"
    result_format: ResultFormat = "time_series"
    alias: str | None = None

    def to_json(self) -> JSON:
        data: JSON = {
            "refId": self.ref_id,
            "datasource": source_of(self.query),
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias is not None:
            data["alias"] = self.alias
        return data


@dataclass(frozen=True, slots=True)
class GridPos:
    x: int
    y: int
    w: int
    h: int

    def to_json(self) -> JSON:
        return {"h": self.h, "w": self.w, "x": self.x, "y": self.y}


class Grid:
    """Places panels left to right in rows of 24 columns, so positions never overlap by construction."""

    def __init__(self) -> None:
        self._x = 0
        self._y = 0
        self._row_height = 0

    def place(self, w: int, h: int) -> GridPos:
        if not 0 < w <= GRID_COLUMNS or h <= 0:
            raise ValueError(f"a panel is 1 to {GRID_COLUMNS} columns wide and at least 1 high")
        if self._x + w > GRID_COLUMNS:
            self.new_row()
        pos = GridPos(self._x, self._y, w, h)
        self._x += w
        self._row_height = max(self._row_height, h)
        return pos

    def new_row(self) -> None:
        self._y += self._row_height
        self._x = 0
        self._row_height = 0


@dataclass(frozen=True, slots=True)
class Panel:
    """A panel; ``interval`` is Grafana's minimum interval for ``$__interval`` (None: the data source's)."""

    title: str
    type: PanelType
    grid: GridPos
    targets: tuple[Target, ...]
    description: str = ""
    options: JSON = field(default_factory=dict)
    defaults: JSON = field(default_factory=dict)
    overrides: tuple[JSON, ...] = ()
    transformations: tuple[JSON, ...] = ()
    interval: str | None = None

    def datasource(self) -> JSON:
        """Its targets' data source; Grafana's mixed source when they read both databases."""
        found = {source_of(target.query)["uid"]: source_of(target.query) for target in self.targets}
        return next(iter(found.values())) if len(found) == 1 else dict(MIXED)

    def to_json(self, panel_id: int) -> JSON:
        data: JSON = {
            "id": panel_id,
            "type": self.type,
            "title": self.title,
            "description": self.description,
            "datasource": self.datasource(),
            "gridPos": self.grid.to_json(),
            "targets": [target.to_json() for target in self.targets],
            "options": self.options,
            "fieldConfig": {"defaults": self.defaults, "overrides": list(self.overrides)},
        }
        if self.transformations:
            data["transformations"] = list(self.transformations)
        if self.interval is not None:
            data["interval"] = self.interval
        return data


@dataclass(frozen=True, slots=True)
class QueryVariable:
    """A dashboard variable filled by an InfluxQL ``SHOW TAG VALUES`` query.

    All is Grafana's custom all value ``.*`` (ALL_VALUE): Grafana then writes ``.*`` as it stands, whatever the
    format, instead of an alternation of every value (20,000 facility ids in a province); ``/^.*$/`` matches
    every series, those without the tag included."""

    name: str
    label: str
    query: str
    multi: bool = True
    include_all: bool = True
    hide: bool = False

    def to_json(self) -> JSON:
        current: JSON = {"selected": True, "text": ["All"], "value": ["$__all"]} if self.include_all else {}
        return {
            "type": "query",
            "name": self.name,
            "label": self.label,
            "datasource": source_of(self.query),
            "query": self.query,
            "definition": self.query,
            "refresh": 1,  # on dashboard load
            "multi": self.multi,
            "includeAll": self.include_all,
            "allValue": ALL_VALUE if self.include_all else None,
            "current": current,
            "options": [],
            "regex": "",
            "sort": 1,
            "hide": 2 if self.hide else 0,
        }


@dataclass(frozen=True, slots=True)
class Annotation:
    """Events from an InfluxQL query drawn on every time panel (alerts, reviews)."""

    name: str
    query: str
    text_column: str
    tags_column: str
    color: str

    def to_json(self) -> JSON:
        return {
            "name": self.name,
            "datasource": source_of(self.query),
            "enable": True,
            "iconColor": self.color,
            "query": self.query,
            "textColumn": self.text_column,
            "tagsColumn": self.tags_column,
        }


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    variables: tuple[QueryVariable, ...] = ()
    annotations: tuple[Annotation, ...] = ()
    time_from: str = "now-7d"
    refresh: str = "5m"

    def to_json(self) -> JSON:
        """The dashboard model; panel ids are their 1-based order, so they stay stable while panels are stable."""
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["facmon"],
            "timezone": "",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": SCHEMA_VERSION,
            "version": 1,
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "links": [{
                "type": "dashboards", "tags": ["facmon"], "asDropdown": False, "title": "facmon",
                "includeVars": False, "keepTime": True, "targetBlank": False, "icon": "external link",
                "tooltip": "", "url": "",
            }],
            "templating": {"list": [variable.to_json() for variable in self.variables]},
            "annotations": {"list": [annotation.to_json() for annotation in self.annotations]},
            "panels": [panel.to_json(index) for index, panel in enumerate(self.panels, start=1)],
        }
