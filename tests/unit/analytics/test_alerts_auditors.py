"""The auditors file (validation that names entry and field), who gets which notice, and what a notice says."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from analytics.alerts.auditors import AuditorsError, load_auditors, parse_auditors
from analytics.alerts.decide import Kind, Notice
from analytics.alerts.deliver import MQTT_RECIPIENT, webhook_target
from analytics.alerts.message import mail_text, payload, subject, summary
from analytics.alerts.run import planned, recipients_for
from analytics.analysis.model import FacilityResult, Figures, Fired, Status, Window
from facmon.core.i18n import using
from tests.unit.analytics.helpers import facility

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "auditors.yaml"
AS_OF = date(2025, 11, 3)


def directory(**extra):
    data = {
        "auditors": [
            {"id": "city", "name": "City auditor", "regions": ["zhejiang/wenzhou"], "email": "city@example.org",
             "mqtt": True},
            {"id": "district", "name": "District", "regions": ["zhejiang/wenzhou/lucheng"],
             "webhook": "https://hooks.example.org/x?token=abc"},
            {"id": "other", "name": "Other", "regions": ["zhejiang/wenzhouxx"], "email": ["o@example.org"]},
        ],
        "departments": {"Culture bureau": {"id": "culture", "email": "it@example.org"}},
        **extra,
    }
    return parse_auditors(data, "auditors.yaml")


def result(status: Status = Status.IDLE, region: str = "zhejiang/wenzhou/lucheng",
           department: str | None = "Culture bureau") -> FacilityResult:
    window = Window(date(2025, 10, 6), date(2025, 11, 2), "Asia/Shanghai")
    figures = Figures(open_hours=224.0, covered_hours=201.5, open_days=24, observed_days=24, idle_days=20,
                      coverage=0.9, occupancy_rate=0.004, idle_day_share=20 / 24, reports_occupancy=True)
    return FacilityResult("lib-1", "鹿城区图书馆", "library", region, department, 120, status, figures, window,
                          ("no use on 20 of 24 open days (83% ≥ 80%)", "mean occupancy 0.4% of capacity (< 10%)"),
                          (Fired("idle_day_share", 20 / 24, 0.8, ">="),))


def test_example_file_is_valid():
    found = load_auditors(EXAMPLE)
    assert [a.id for a in found.auditors] == ["wz-audit-zhang", "lc-audit-office"]
    assert found.department("鹿城区文广旅体局").id == "lc-culture"


def test_every_problem_names_the_entry_and_the_field():
    data = {
        "auditors": [
            {"id": "ok", "name": "A", "regions": ["zhejiang"], "emial": "a@example.org"},
            {"id": "b", "name": "B", "regions": ["Zhe Jiang"], "email": ["not-an-address"],
             "webhook": "ftp://x", "mqtt": "yes"},
            {"id": "c", "name": "C", "regions": []},
        ],
        "departments": {"Bureau": {"id": "d"}},
        "evidence": "x",
    }
    with pytest.raises(AuditorsError) as caught:
        parse_auditors(data, "auditors.yaml")
    lines = str(caught.value).splitlines()
    expected = [
        "auditors.yaml: auditors[0] (ok) emial: unknown key; did you mean 'email'?",
        "auditors.yaml: auditors[1] (b) email[0]: must be an email address",
        "auditors.yaml: auditors[1] (b) webhook: must be an https:// URL",
        "auditors.yaml: auditors[1] (b) mqtt: must be a valid boolean",
        "auditors.yaml: auditors[1] (b) regions[0]: must be a region path",
        "auditors.yaml: auditors[2] (c) regions: must list at least one region",
        "auditors.yaml: departments[Bureau]: has no channel",
        "auditors.yaml: evidence: unknown key; did you mean 'evidence_url'?",
    ]
    for start in expected:
        assert any(line.startswith(start) for line in lines), (start, lines)
    assert len(lines) == len(expected)


def test_duplicate_ids_and_unknown_placeholders():
    data = {"auditors": [{"id": "a", "name": "A", "regions": "*", "mqtt": True}],
            "departments": {"X": {"id": "a", "mqtt": True}}, "evidence_url": "https://g/{facilty}"}
    with pytest.raises(AuditorsError) as caught:
        parse_auditors(data, "f")
    assert "f: departments[X] id: 'a' is also the id of auditors[0]" in str(caught.value)
    assert "unknown placeholder {facilty}" in str(caught.value)


@pytest.mark.parametrize("text", ["", "[]", "auditors: {}", "auditors:\n  - id: a\n    id: b\n"])
def test_unusable_files(tmp_path, text):
    path = tmp_path / "auditors.yaml"
    path.write_text(text)
    with pytest.raises(AuditorsError, match=str(path)):
        load_auditors(path)


def test_missing_file():
    with pytest.raises(AuditorsError, match="cannot read"):
        load_auditors("/nonexistent/auditors.yaml")


def test_regions_match_whole_segments_and_star_matches_all():
    found = directory()
    assert [a.id for a in found.auditors_for("zhejiang/wenzhou/lucheng")] == ["city", "district"]
    assert [a.id for a in found.auditors_for("zhejiang/wenzhouxx/a")] == ["other"]
    everyone = parse_auditors({"auditors": [{"id": "all", "name": "All", "regions": "*", "mqtt": True}]})
    assert everyone.auditors_for("anything/at/all")


def test_usage_notices_go_to_the_regions_auditors_and_outages_to_the_department():
    found = directory()
    idle = Notice(Kind.RAISED, result(), AS_OF)
    assert [r.id for r in recipients_for(idle, found)] == ["city", "district"]
    outage = Notice(Kind.OUTAGE, result(Status.NO_DATA), AS_OF)
    assert [r.id for r in recipients_for(outage, found)] == ["culture"]
    assert recipients_for(Notice(Kind.OUTAGE, result(Status.NO_DATA, department=None), AS_OF), found) == []
    assert recipients_for(Notice(Kind.RAISED, result(region="beijing"), AS_OF), found) == []


def test_planned_deliveries_publish_mqtt_once():
    found = directory()
    assert planned(found.auditors_for("zhejiang/wenzhou/lucheng")) == [
        ("email", "city"), ("webhook", "district"), ("mqtt", MQTT_RECIPIENT)]


def test_webhook_target_never_shows_path_or_query():
    assert webhook_target("https://user:pw@hooks.example.org:8443/secret/path?token=abc") == \
        "https://hooks.example.org:8443"


def test_payload_and_mail_carry_the_evidence():
    found = directory(evidence_url="https://grafana.example/d/f?var-facility={facility}&time={as_of}")
    notice = Notice(Kind.RAISED, result(), AS_OF, previous=Status.UNDERUSED)
    link = found.evidence_link("lib-1", AS_OF.isoformat(), "zhejiang/wenzhou/lucheng", "IDLE")
    site = facility("lib-1", location={"lat": 28.0, "lon": 120.65}, department="Culture bureau")
    data = payload(notice, site, [{"id": "city", "name": "City auditor"}], link, datetime(2025, 11, 3, tzinfo=UTC))
    assert data["kind"] == "raised"
    assert data["status"] == "IDLE"
    assert data["previous_status"] == "UNDERUSED"
    assert data["facility"]["location"] == {"lat": 28.0, "lon": 120.65}
    assert data["coverage"] == 0.9
    assert data["evidence"]["link"] == "https://grafana.example/d/f?var-facility=lib-1&time=2025-11-03"
    assert "WHERE \"facility\" = 'lib-1' AND time = '2025-11-03T00:00:00.000000Z'" in data["evidence"]["influxdb"][
        "query"]
    assert data["message"] == summary(data)
    assert data["message"].startswith("UNDERUSED → IDLE: 鹿城区图书馆 (lib-1), 2025-10-06..2025-11-02: no use on 20")
    assert subject(data) == "[facmon] UNDERUSED → IDLE: 鹿城区图书馆 (lib-1)"
    text = mail_text(data)
    for expected in ("Status: IDLE (was UNDERUSED), as of 2025-11-03", "Sensor coverage: 90.0% of opening hours",
                     "  - no use on 20 of 24 open days (83% ≥ 80%)", "  - mean occupancy 0.4% of capacity (< 10%)",
                     "share of open days without use: 83.3%", "department Culture bureau",
                     "location 28.0, 120.65", "https://grafana.example/d/f?var-facility=lib-1&time=2025-11-03",
                     "facmon analyze --facility lib-1 --as-of 2025-11-03 --window 28d --format json --no-store",
                     "facmon review lib-1 --disposition"):
        assert expected in text, expected


@pytest.mark.parametrize(("kind", "status", "previous", "start"), [
    (Kind.REMINDER, Status.IDLE, Status.IDLE, "Reminder: still IDLE since 2025-10-01: "),
    (Kind.RESOLVED, Status.ACTIVE, Status.IDLE, "Resolved, IDLE → ACTIVE: "),
    (Kind.OUTAGE, Status.NO_DATA, None, "Sensor outage (NO_DATA): "),
    (Kind.OUTAGE_RESOLVED, Status.ACTIVE, Status.NO_DATA, "Sensors reporting again (ACTIVE): "),
])
def test_headlines(kind, status, previous, start):
    notice = Notice(kind, result(status), AS_OF, previous=previous, since=date(2025, 10, 1))
    data = payload(notice, None, [], None, datetime(2025, 11, 3, tzinfo=UTC))
    assert subject(data).startswith("[facmon] " + start)
    assert (data["review"] is None) == (kind.track == "outage")


def test_a_recipients_language_is_one_facmon_speaks():
    entry = {"id": "city", "name": "温州市审计局", "regions": ["zhejiang/wenzhou"], "email": "a@audit.example.org"}
    assert parse_auditors({"auditors": [entry]}).auditors[0].language is None  # the process's language
    assert parse_auditors({"auditors": [{**entry, "language": "zh_CN.UTF-8"}]}).auditors[0].language == "zh_CN"
    with pytest.raises(AuditorsError) as refused:
        parse_auditors({"auditors": [{**entry, "language": "fr"}]})
    assert "auditors[0] (city) language" in str(refused.value)
    assert "en, zh_CN" in str(refused.value)
    assert "'fr'" in str(refused.value)


CODES = ("IDLE", "UNDERUSED", "NO_DATA", "EXEMPT", "ACTIVE")


@pytest.mark.parametrize(("kind", "status", "previous", "headline"), [
    (Kind.RAISED, Status.IDLE, Status.UNDERUSED, "使用率低 → 闲置：鹿城区图书馆 (lib-1)"),
    (Kind.REMINDER, Status.EXEMPT, Status.EXEMPT, "提醒：仍为暂停开放（自 2025-10-01 起）：鹿城区图书馆 (lib-1)"),
    (Kind.RESOLVED, Status.ACTIVE, Status.IDLE, "已解除，闲置 → 正常使用：鹿城区图书馆 (lib-1)"),
    (Kind.OUTAGE, Status.NO_DATA, None, "传感器故障（数据缺失）：鹿城区图书馆 (lib-1)"),
    (Kind.OUTAGE_RESOLVED, Status.ACTIVE, Status.NO_DATA, "传感器已恢复上报（正常使用）：鹿城区图书馆 (lib-1)"),
])
def test_a_chinese_mail_says_the_status_in_words_and_keeps_the_codes_in_the_json(kind, status, previous, headline):
    """Subject, summary and body in Chinese show 闲置, 使用率低 ... and the full-width colon after each label; the
    payload's machine fields keep the codes, and the type is shown by its name (the registry's, passed along)."""
    notice = Notice(kind, result(status), AS_OF, previous=previous, since=date(2025, 10, 1))
    site = facility("lib-1", location={"lat": 28.0, "lon": 120.65}, department="Culture bureau")
    with using("zh_CN"):
        data = payload(notice, site, [], None, datetime(2025, 11, 3, tzinfo=UTC),
                       {"zh_CN": "城市书房", "en": "City reading room"})
        title, line, text, word = subject(data), summary(data), mail_text(data), status.label
    assert (data["status"], data["previous_status"]) == (status.value, previous and previous.value)
    assert data["facility"]["type"] == "library"
    assert title == f"[facmon] {headline}"
    assert line.startswith(f"{headline}，2025-10-06 至 2025-11-02：")
    assert data["message"] == line  # the webhook's and MQTT's text, in the process's language
    assert text.startswith(headline + "\n")
    assert f"状态：{word}" in text
    assert "  数据覆盖率（开放时段）：90.0%\n" in text
    assert "  无人使用天数占比：83.3%\n" in text
    assert "类型 城市书房，设计容量 120" in text
    assert "  InfluxDB：SELECT" in text
    assert ": " not in text.replace("--note TEXT", "").split("证据查询")[0]  # no ASCII colon before the evidence
    assert not [code for code in CODES if code in text + title], text
    with using("en"):
        english = mail_text(data)
    assert "  sensor coverage of opening hours: 90.0%\n" in english
    assert "type City reading room, capacity 120" in english
    assert f"Status: {status.value}" in english


def test_the_evidence_link_percent_encodes_what_it_fills_in():
    found = directory(evidence_url="https://g.example/d/facmon-overview?var-region={region}&var-facility={facility}"
                                   "&time={as_of}&status={status}")
    link = found.evidence_link("jy-cul-01", "2025-11-03", "浙江省/丽水市/缙云县", "IDLE")
    assert link == ("https://g.example/d/facmon-overview?var-region=%E6%B5%99%E6%B1%9F%E7%9C%81%2F%E4%B8%BD%E6%B0%B4"
                    "%E5%B8%82%2F%E7%BC%99%E4%BA%91%E5%8E%BF&var-facility=jy-cul-01&time=2025-11-03&status=IDLE")
