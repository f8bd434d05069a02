"""Run every query of a dashboard against InfluxDB the way Grafana would: variables resolved in order (chained
ones see the values chosen before them), then each panel's and annotation's query interpolated and sent.

Used by the tests, which check the answers against a known scenario, and by `facmon dashboards check --live`,
which tells an operator which panels would fail on their database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dashboards.interpolate import Mode, Selection, TimeRange, interpolate, interval
from dashboards.model import EVIDENCE_UID, JSON
from facmon.core.influx import InfluxClient, InfluxError

#: Grafana's value of a variable whose All is selected (as in a URL: var-region=$__all).
ALL = "$__all"
#: The data source's minimum interval (jsonData.timeInterval in dashboards.provisioning).
DATASOURCE_MIN_INTERVAL = "10s"


@dataclass(frozen=True, slots=True)
class Clients:
    """One client per data source, as Grafana has: the readings database and the evidence database."""

    readings: InfluxClient
    evidence: InfluxClient

    def of(self, datasource: JSON) -> InfluxClient:
        return self.evidence if datasource.get("uid") == EVIDENCE_UID else self.readings


@dataclass(frozen=True, slots=True)
class QueryResult:
    """One query as sent, and InfluxDB's answer as rows (GROUP BY tags merged into each row)."""

    where: str
    ref_id: str
    query: str
    series: list[JSON] = field(default_factory=list)
    seconds: float = 0.0  # how long InfluxDB took to answer, as the client saw it
    error: str | None = None  # InfluxDB's refusal (run_dashboard with keep_going)

    @property
    def rows(self) -> list[dict[str, Any]]:
        out = []
        for series in self.series:
            for values in series.get("values", []):
                row = dict(zip(series["columns"], values, strict=True))
                row.update(series.get("tags") or {})
                out.append(row)
        return out


def _run(client: InfluxClient, query: str) -> list[JSON]:
    results = client.query(query, epoch="ms")
    series: list[JSON] = []
    for result in results:  # one result per statement; InfluxClient.query raises on any statement's error
        series += result.get("series", [])
    return series


def resolve_variables(model: JSON, clients: Clients, time_range: TimeRange,
                      chosen: Mapping[str, Sequence[str]] | None = None) -> dict[str, Selection]:
    """Each variable's options from its query, then the chosen values (default: All, or the first option;
    ``[ALL]`` chooses All explicitly)."""
    chosen = chosen or {}
    selections: dict[str, Selection] = {}
    for variable in model["templating"]["list"]:
        query = interpolate(variable["query"], selections, time_range, "1m", 60_000)
        answer = _run(clients.of(variable["datasource"]), query)
        options = [str(row["value"]) for row in QueryResult("", "", query, answer).rows]
        multi, include_all = bool(variable["multi"]), bool(variable["includeAll"])
        name = variable["name"]
        all_value = variable.get("allValue") if include_all else None
        if name in chosen and list(chosen[name]) != [ALL]:
            selections[name] = Selection(tuple(chosen[name]), multi, include_all)
        elif include_all:  # Grafana's All: the custom all value if the variable has one, else every option
            selections[name] = Selection(tuple(options), multi, include_all, all_value or None)
        else:
            selections[name] = Selection(tuple(options[:1]), multi, include_all)
    return selections


def panel_queries(model: JSON) -> Iterator[tuple[str, str, str, str | None, JSON]]:
    """(where, refId, raw query, minimum interval, data source) of every panel target and annotation."""
    for annotation in model["annotations"]["list"]:
        yield f"annotation {annotation['name']}", "", annotation["query"], None, annotation["datasource"]
    for panel in model["panels"]:
        for target in panel["targets"]:
            yield (f"panel {panel['title']}", target["refId"], target["query"], panel.get("interval"),
                   target["datasource"])


def run_dashboard(model: JSON, clients: Clients, time_range: TimeRange, selections: Mapping[str, Selection],
                  mode: Mode = Mode.BACKEND, keep_going: bool = False) -> list[QueryResult]:
    """Every panel and annotation query, interpolated as Grafana would and answered by its data source, one after
    another. A query InfluxDB refuses raises, or with ``keep_going`` is kept as a result with its ``error``."""
    results = []
    for where, ref_id, raw, min_interval, source in panel_queries(model):
        text, ms = interval(time_range, min_interval or DATASOURCE_MIN_INTERVAL)
        query = interpolate(raw, selections, time_range, text, ms, mode)
        started = time.perf_counter()
        try:
            series = _run(clients.of(source), query)
        except InfluxError as exc:
            if not keep_going:
                raise
            results.append(QueryResult(where, ref_id, query, [], time.perf_counter() - started, str(exc)))
            continue
        results.append(QueryResult(where, ref_id, query, series, time.perf_counter() - started))
    return results


def dashboard_range(model: JSON, now_ms: int) -> TimeRange:
    """The dashboard's default time range (``now-<n><unit>`` to ``now``)."""
    raw = str(model["time"]["from"])
    amount, unit = int(raw[4:-1]), raw[-1]
    return TimeRange.last(now_ms, amount, unit)


def live_problems(model: JSON, clients: Clients, now_ms: int) -> tuple[list[str], list[str]]:
    """(queries InfluxDB refused, queries that answered nothing) with All selected and the default range."""
    time_range = dashboard_range(model, now_ms)
    try:
        selections = resolve_variables(model, clients, time_range)
    except InfluxError as exc:
        return [f"{model['title']}: variables: {exc}"], []
    errors, empty = [], []
    for result in run_dashboard(model, clients, time_range, selections, keep_going=True):
        name = f"{model['title']}: {result.where} {result.ref_id}".rstrip()
        if result.error is not None:
            errors.append(f"{name}: {result.error}")
        elif not result.series:
            empty.append(name)
    return errors, empty
