"""The dashboards as code: the committed JSON is what the code renders, and it is well formed."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from analytics.alerts.decide import Kind
from dashboards import common, lint, render
from dashboards.model import DATASOURCE, DATASOURCE_UID, EVIDENCE, EVIDENCE_UID, MIXED, Grid
from dashboards.provisioning import DASHBOARDS_PATH, ENV, datasource_yaml, provider_yaml

MODELS = render.dashboards()


def test_the_committed_files_are_what_the_code_renders():
    assert render.drift() == [], "run `facmon dashboards render` and commit the result"


def test_drift_is_found(tmp_path):
    render.render(tmp_path)
    assert render.drift(tmp_path) == []
    path = tmp_path / "en" / "overview.json"
    model = json.loads(path.read_text())
    model["panels"][0]["title"] = "edited in Grafana"
    path.write_text(json.dumps(model))
    (tmp_path / "zh_CN" / "pipeline.json").unlink()
    assert render.drift(tmp_path) == ["en/overview.json: differs from what the code renders; run `facmon dashboards "
                                      "render`", "zh_CN/pipeline.json: missing; run `facmon dashboards render`"]


def test_both_languages_are_rendered_from_the_same_code():
    chinese = render.dashboards("zh_CN")
    assert lint.lint(chinese) == []
    for name, model in MODELS.items():
        other = chinese[name]
        assert other["uid"] == model["uid"]
        # the same panels, at the same places, with the same queries: only the words differ
        assert [(p["id"], p["type"], p["gridPos"], [t["query"] for t in p["targets"]]) for p in other["panels"]] == [
            (p["id"], p["type"], p["gridPos"], [t["query"] for t in p["targets"]]) for p in model["panels"]]
        assert other["title"] != model["title"]
        assert all(a["title"] != b["title"] and a["description"] != b["description"]
                   for a, b in zip(other["panels"], model["panels"], strict=True))
    titles = {p["title"] for p in chinese["overview.json"]["panels"]}
    assert {"需关注的设施", "数据存疑的设施", "设施分布图"} <= titles, titles
    assert chinese["overview.json"]["title"] == "facmon — 设施使用总览"


def test_in_chinese_the_columns_a_panel_matches_are_the_columns_it_renames():
    """Overrides and sorting name columns by their display name: in Chinese they must name the translated one."""
    for models in (MODELS, render.dashboards("zh_CN")):
        for model in models.values():
            for panel in model["panels"]:
                shown = set()
                for transformation in panel.get("transformations", []):
                    shown |= set(transformation.get("options", {}).get("renameByName", {}).values())
                if not shown:
                    continue
                named = {o["matcher"]["options"] for o in panel["fieldConfig"]["overrides"]
                         if o["matcher"]["id"] == "byName"}
                sorted_by = {s["displayName"] for s in panel["options"].get("sortBy", [])}
                assert (named | sorted_by) - {"facility", "Time"} <= shown, (model["uid"], panel["title"])


def test_status_words_in_chinese_keep_the_status_codes_as_values():
    overview = render.dashboards("zh_CN")["overview.json"]
    stat = overview["panels"][0]
    assert [t["alias"] for t in stat["targets"]] == ["闲置", "使用率低", "数据缺失", "暂停开放", "正常使用"]
    assert "'IDLE'" in stat["targets"][0]["query"]  # the stored code, untranslated
    mappings = common.status_mappings()
    assert set(mappings[0]["options"]) == {"IDLE", "UNDERUSED", "NO_DATA", "EXEMPT", "ACTIVE"}


def test_rendering_is_stable():
    assert render.rendered_files() == render.rendered_files()


def test_the_dashboards_are_well_formed():
    assert lint.lint(MODELS) == []


def test_uids_and_titles_are_stable():
    assert {name: model["uid"] for name, model in MODELS.items()} == {
        "overview.json": "facmon-overview", "facility.json": "facmon-facility", "pipeline.json": "facmon-pipeline"}
    for model in MODELS.values():
        assert [panel["id"] for panel in model["panels"]] == list(range(1, len(model["panels"]) + 1))
        assert all(panel["description"] for panel in model["panels"]), "every panel says what it is for"


def test_every_query_is_raw_influxql_on_the_datasource_of_the_database_it_reads():
    evidence = ('"facility_status"', '"alert"', '"review"', '"facility_info"')
    for model in MODELS.values():
        for panel in model["panels"]:
            sources = set()
            for target in panel["targets"]:
                assert target["rawQuery"] is True
                assert target["query"].startswith(("SELECT ", "SHOW "))
                reads_evidence = any(f"FROM {name}" in target["query"] for name in evidence)
                assert target["datasource"] == (EVIDENCE if reads_evidence else DATASOURCE), target["query"]
                sources.add(target["datasource"]["uid"])
            assert panel["datasource"] == (MIXED if len(sources) > 1 else panel["targets"][0]["datasource"])
        for item in [*model["templating"]["list"], *model["annotations"]["list"]]:
            reads_evidence = any(f"FROM {name}" in item["query"] for name in evidence)
            assert item["datasource"] == (EVIDENCE if reads_evidence else DATASOURCE), item["query"]


def test_a_query_reading_both_databases_is_refused():
    from dashboards.model import source_of

    with pytest.raises(ValueError, match="both databases"):
        source_of('SELECT * FROM "facility_status" WHERE x IN (SELECT y FROM "reading")')


def test_the_flagged_table_links_to_the_detail_dashboard():
    flagged = next(p for p in MODELS["overview.json"]["panels"] if p["title"] == "Flagged facilities")
    links = [prop["value"] for o in flagged["fieldConfig"]["overrides"] for prop in o["properties"]
             if prop["id"] == "links"]
    assert links == [[{"title": "Open the facility's detail dashboard",
                       "url": "/d/facmon-facility/facmon-facility?var-facility=${__data.fields.facility}"
                              "&${__url_time_range}"}]]


def test_the_suspect_table_reads_the_latest_integrity_flag_and_links_to_the_detail():
    panel = next(p for p in MODELS["overview.json"]["panels"] if p["title"] == "Suspect data")
    (target,) = panel["targets"]
    assert target["query"].endswith('WHERE "suspect" = true')
    assert 'last("window_days")' in target["query"]  # each facility's latest point only
    links = [prop["value"] for o in panel["fieldConfig"]["overrides"] for prop in o["properties"]
             if prop["id"] == "links"]
    assert links == [[common.detail_link()]]
    renamed = panel["transformations"][0]["options"]["renameByName"]
    assert renamed == {"facility": "Facility", "name": "Name", "status": "Status", "integrity_detectors": "Detectors",
                       "integrity": "Reasons"}


def test_every_alert_kind_is_in_its_tracks_open_alerts_panel():
    titles = {"usage": "Open usage alerts", "outage": "Open sensor outages", "integrity": "Open data-integrity alerts"}
    panels = {p["title"]: p["targets"][0]["query"] for p in MODELS["overview.json"]["panels"]}
    for kind in Kind:
        query = panels[titles[kind.track]]
        kinds, still_open = query.split("/^(")[1].split(")$/")[0], query.rsplit("/^(", 1)[1].split(")$/")[0]
        assert kind.value in kinds.split("|"), (kind, query)
        assert (kind.value in still_open.split("|")) == kind.opens, (kind, query)


def broken(mutate):
    models = copy.deepcopy(MODELS)
    mutate(models)
    return lint.lint(models)


def test_lint_finds_overlaps_and_panels_outside_the_grid():
    def overlap(models):
        models["overview.json"]["panels"][1]["gridPos"] = dict(models["overview.json"]["panels"][2]["gridPos"])
    assert any("overlaps" in p for p in broken(overlap))

    def too_wide(models):
        models["pipeline.json"]["panels"][0]["gridPos"]["x"] = 20
    assert any("does not fit 24 columns" in p for p in broken(too_wide))


def test_lint_finds_ids_types_datasources_and_links():
    def duplicate(models):
        models["facility.json"]["panels"][1]["id"] = 1
    assert any("duplicate panel id" in p for p in broken(duplicate))

    def unknown_type(models):
        models["facility.json"]["panels"][0]["type"] = "graph-old"
    assert any("not one Grafana ships" in p for p in broken(unknown_type))

    def other_datasource(models):
        models["pipeline.json"]["panels"][0]["targets"][0]["datasource"] = {"type": "influxdb", "uid": "other"}
    assert any("not a raw InfluxQL query" in p for p in broken(other_datasource))

    def dead_link(models):
        del models["facility.json"]
    assert any("does not point at a facmon dashboard" in p for p in broken(dead_link))

    def same_uid(models):
        models["pipeline.json"]["uid"] = "facmon-overview"
    assert any("used twice" in p for p in broken(same_uid))


@pytest.mark.parametrize(("query", "problem"), [
    ('"region" = \'$region\'', "write variables as ${region:regex}"),
    ('"region" =~ /^${region}$/', "${region:None}"),
    ('"region" =~ /${region:regex}/', "must stand alone inside /^...$/"),
    ('"x" =~ /^${nosuch:regex}$/', "not a variable declared before this query"),
    ("time > ${__from}", "must be followed by ms"),
    ('time > ${__to} - 7d', "must be followed by ms"),
    ('"x" > (${__to})', "must be followed by ms"),
    ("tz('${region:raw}')", "write variables as ${region:regex}"),
    ("[[region]]", "use ${region:regex}"),
])
def test_lint_allows_variables_only_in_safe_forms(query, problem):
    problems = lint.reference_problems(query, {"region", "tz"})
    assert problems
    assert problem in problems[0], problems


def test_the_time_builtins_may_open_a_difference_of_milliseconds():
    query = 'SELECT (${__to} - "received_ms") FROM "reading" WHERE time < ${__to}ms'
    assert lint.reference_problems(query, set()) == []


def test_all_is_the_custom_all_value_of_every_variable_that_has_all():
    variables = [v for model in render.dashboards().values() for v in model["templating"]["list"]]
    assert {v["name"]: v["allValue"] for v in variables if v["includeAll"]} == {
        "region": ".*", "type": ".*", "facility": ".*"}
    assert all(v["allValue"] is None for v in variables if not v["includeAll"])

    def expanded(models):
        models["overview.json"]["templating"]["list"][0]["allValue"] = None
    assert any("custom all value '.*'" in p for p in broken(expanded))


def test_variables_are_declared_before_the_variables_that_use_them():
    def reorder(models):
        variables = models["overview.json"]["templating"]["list"]
        variables.reverse()
    assert any("not a variable declared before this query" in p for p in broken(reorder))


def test_grid_wraps_rows():
    grid = Grid()
    first, second, third = grid.place(16, 4), grid.place(16, 6), grid.place(8, 2)
    assert (first.x, first.y, second.x, second.y, third.x, third.y) == (0, 0, 0, 4, 16, 4)
    with pytest.raises(ValueError, match="columns wide"):
        grid.place(25, 1)


def test_one_of_takes_plain_words_only():
    assert common.one_of("kind", ("raised", "outage")) == '"kind" =~ /^(raised|outage)$/'
    with pytest.raises(ValueError, match="plain words"):
        common.one_of("kind", ("a/b",))


def test_provisioning_files():
    source, evidence = yaml.safe_load(datasource_yaml())["datasources"]
    assert (source["uid"], source["type"], source["access"]) == (DATASOURCE_UID, "influxdb", "proxy")
    assert (evidence["uid"], evidence["isDefault"]) == (EVIDENCE_UID, False)
    assert evidence["jsonData"]["dbName"] == f"$__env{{{ENV['evidence_database']}}}"
    assert source["url"] == "$__env{FACMON_GRAFANA_INFLUX_URL}"
    assert source["secureJsonData"] == {"password": "$__env{FACMON_GRAFANA_INFLUX_PASSWORD}"}
    assert source["jsonData"]["dbName"] == f"$__env{{{ENV['database']}}}"
    assert source["jsonData"]["version"] == "InfluxQL"
    provider = yaml.safe_load(provider_yaml())["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == DASHBOARDS_PATH
    assert provider["allowUiUpdates"] is False
