"""Structural checks of rendered dashboards, the things Grafana would only show as a broken panel.

Every query goes to the data source of the database holding what it reads (readings or evidence; a panel
whose targets read both uses Grafana's mixed source) and every panel has a type Grafana ships; grid positions
fit 24 columns and do not overlap; panel ids and uids are unique; every query is raw InfluxQL; every link to a
dashboard names one that exists; every variable a query uses is declared (before it, for chained variables)
and written in a form that stays valid InfluxQL for any value (see dashboards.common); a variable with All has
the custom all value ``.*`` (dashboards.model.QueryVariable).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from dashboards.model import ALL_VALUE, GRID_COLUMNS, JSON, MIXED, source_of

PANEL_TYPES = frozenset({
    "timeseries", "table", "stat", "geomap", "state-timeline", "heatmap", "barchart", "piechart", "bargauge",
    "gauge", "text", "status-history", "histogram", "news", "dashlist", "logs", "nodeGraph", "trend", "xychart",
})
#: Grafana's own pattern for variable references in text ($var, [[var:fmt]], ${var.path:fmt}).
VARIABLE_RE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}")
MACROS = frozenset({"timeFilter", "__interval", "__interval_ms"})
TIME_BUILTINS = frozenset({"__from", "__to"})
RAW_SAFE = frozenset({"tz"})  # values written by facmon itself (IANA zone names), used inside a string literal
DASHBOARD_LINK_RE = re.compile(r"/d/([A-Za-z0-9_-]+)")


def _overlaps(a: Mapping[str, int], b: Mapping[str, int]) -> bool:
    across = a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
    return across and a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]


def queries(model: JSON) -> Iterator[tuple[str, str]]:
    """(where, query) for every InfluxQL query in a dashboard: variables, annotations, panel targets."""
    for variable in model["templating"]["list"]:
        yield f"variable {variable['name']}", variable["query"]
    for annotation in model["annotations"]["list"]:
        yield f"annotation {annotation['name']}", annotation["query"]
    for panel in model["panels"]:
        for target in panel["targets"]:
            yield f"panel {panel['title']!r} {target['refId']}", target["query"]


def reference_problems(query: str, declared: set[str]) -> list[str]:
    """Variables used in a form other than the safe ones, or not declared."""
    problems = []
    for match in VARIABLE_RE.finditer(query):
        bare, bracket, name, fmt = match.group(1), match.group(2), match.group(4), match.group(6)
        before, after = query[: match.start()], query[match.end() :]
        if bracket:
            problems.append(f"[[{bracket}]]: use ${{{bracket}:regex}}")
        elif bare is not None:
            if bare not in MACROS:
                problems.append(f"${bare}: write variables as ${{{bare}:regex}} inside /^...$/")
        elif name in TIME_BUILTINS:
            as_time = after.startswith("ms")
            as_number = before.endswith("(") and after.startswith(" - ")  # field arithmetic: (${__to} - "x")
            if fmt is not None or not (as_time or as_number):
                problems.append(f"${{{name}}} must be followed by ms (epoch milliseconds), or open a difference "
                                f"of milliseconds: (${{{name}}} - ...)")
        elif name not in declared:
            problems.append(f"${{{name}}} is not a variable declared before this query")
        elif fmt == "regex":
            if not (before.endswith("/^") and after.startswith("$/")):
                problems.append(f"${{{name}:regex}} must stand alone inside /^...$/")
        elif fmt == "raw" and name in RAW_SAFE:
            if not (before.endswith("tz('") and after.startswith("')")):
                problems.append(f"${{{name}:raw}} is only allowed as tz('${{{name}:raw}}')")
        else:
            problems.append(f"${{{name}:{fmt}}}: write variables as ${{{name}:regex}} inside /^...$/")
    return problems


def _links(value: Any) -> Iterator[str]:
    """Every link URL anywhere in a panel's field config."""
    if isinstance(value, dict):
        if value.get("id") == "links" and isinstance(value.get("value"), list):  # an override's property
            yield from (str(link.get("url", "")) for link in value["value"] if isinstance(link, dict))
            return
        for key, item in value.items():
            if key == "links" and isinstance(item, list):
                yield from (str(link.get("url", "")) for link in item if isinstance(link, dict))
            else:
                yield from _links(item)
    elif isinstance(value, list):
        for item in value:
            yield from _links(item)


def lint_dashboard(model: JSON, known_uids: set[str]) -> list[str]:
    title = model.get("title", "?")
    problems: list[str] = []
    seen_ids: set[int] = set()
    placed: list[tuple[str, Mapping[str, int]]] = []
    for panel in model["panels"]:
        name = f"{title}: panel {panel.get('id')} {panel.get('title')!r}"
        if panel.get("id") in seen_ids:
            problems.append(f"{name}: duplicate panel id")
        seen_ids.add(panel.get("id"))
        if panel.get("type") not in PANEL_TYPES:
            problems.append(f"{name}: panel type {panel.get('type')!r} is not one Grafana ships")
        wanted = {source_of(t.get("query", ""))["uid"]: source_of(t.get("query", "")) for t in panel.get("targets", [])}
        expected = next(iter(wanted.values())) if len(wanted) == 1 else MIXED
        if panel.get("datasource") != expected:
            problems.append(f"{name}: data source is not {expected}")
        pos = panel["gridPos"]
        if pos["x"] < 0 or pos["y"] < 0 or pos["w"] < 1 or pos["h"] < 1 or pos["x"] + pos["w"] > GRID_COLUMNS:
            problems.append(f"{name}: gridPos {pos} does not fit {GRID_COLUMNS} columns")
        problems += [f"{name}: overlaps {other}" for other, other_pos in placed if _overlaps(pos, other_pos)]
        placed.append((repr(panel.get("title")), pos))
        targets = panel.get("targets", [])
        if not targets:
            problems.append(f"{name}: no query")
        ref_ids = [target.get("refId") for target in targets]
        if len(set(ref_ids)) != len(ref_ids):
            problems.append(f"{name}: duplicate refId")
        for target in targets:
            source = source_of(str(target.get("query", "")))
            if target.get("datasource") != source or target.get("rawQuery") is not True or not target.get("query"):
                problems.append(f"{name} {target.get('refId')}: not a raw InfluxQL query on {source}")
        for url in _links(panel.get("fieldConfig", {})):
            linked = DASHBOARD_LINK_RE.search(url)
            if linked is None or linked.group(1) not in known_uids:
                problems.append(f"{name}: link {url!r} does not point at a facmon dashboard")
    declared: set[str] = set()
    for variable in model["templating"]["list"]:
        where = f"{title}: variable {variable['name']}"
        problems += [f"{where}: {p}" for p in reference_problems(variable["query"], declared)]
        if variable.get("includeAll") and variable.get("allValue") != ALL_VALUE:
            problems.append(f"{where}: All must be the custom all value {ALL_VALUE!r}, not every value joined")
        if variable.get("datasource") != source_of(variable["query"]):
            problems.append(f"{where}: data source is not {source_of(variable['query'])}")
        declared.add(variable["name"])
    for where, query in queries(model):
        if not where.startswith("variable"):
            problems += [f"{title}: {where}: {p}" for p in reference_problems(query, declared)]
    return problems


def lint(models: Mapping[str, JSON]) -> list[str]:
    """Problems of all dashboards together (links may point from one to another)."""
    uids = [model.get("uid") for model in models.values()]
    problems = [f"uid {uid!r} is used twice" for uid in set(uids) if uids.count(uid) > 1]
    known = {str(uid) for uid in uids}
    for model in models.values():
        problems += lint_dashboard(model, known)
    return problems
