"""The hook: `facmon analyze` alerts after its run, as deployed, from readings in the real InfluxDB to a mail
in the real SMTP server, a JSON POST and an MQTT message, for a usage alert, a sensor outage and a data-integrity
flag the analysis raised itself; a second run sends nothing new."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml

from tests.integration.analytics.auditing import (
    COMM,
    GYM,
    LIB,
    D,
    Subscriber,
    alerts,
    wait_for,
)
from tests.integration.analytics.test_review import env, facmon

__all__ = ["env"]  # fixtures used by name
pytestmark = pytest.mark.servers
ZONE = ZoneInfo("Asia/Shanghai")


def seed_readings(db) -> None:
    """A week of readings every 15 minutes of opening hours: LIB always empty, GYM busy at exactly 60 people all
    day every day (ACTIVE, and a flat line no real crowd draws), COMM silent."""
    lines = []
    for offset in range(1, 8):
        day = D - timedelta(days=offset)
        start = datetime(day.year, day.month, day.day, 9, tzinfo=ZONE)
        for slot in range(32):
            ns = int((start + timedelta(minutes=15 * slot)).timestamp()) * 10**9
            lines.append(f"reading,facility={LIB},sensor=door-1 occupancy=0i {ns}")
            lines.append(f"reading,facility={GYM},sensor=door-1 occupancy=60i {ns}")
    db.write("\n".join(lines).encode())


def test_analyze_alerts_once_per_change(db, evidence, env, smtp_server, webhook, mosquitto, tmp_path):
    seed_readings(db)
    auditors = tmp_path / "auditors.yaml"
    auditors.write_text(yaml.safe_dump({
        "auditors": [{"id": "city", "name": "City", "regions": ["zhejiang"], "email": "city@example.org",
                      "webhook": webhook.url(), "allow_http": True, "allow_private": True, "mqtt": True,
                      "digest": False}],  # one mail per notice (the opt-out of the digest)
        "departments": {"瓯海区娄桥街道办事处": {"id": "street", "email": "street@example.org"}},
    }, allow_unicode=True), encoding="utf-8")
    prefix = f"t{uuid.uuid4().hex[:8]}/v1"  # the broker is shared: no retained alert of another test
    subscriber = Subscriber(mosquitto, f"{prefix}/alerts/#")
    full = {**env, "FACMON_AUDITORS": str(auditors), "FACMON_SMTP_URL": smtp_server.url,
            "FACMON_MQTT_URL": mosquitto.url, "FACMON_TOPIC_PREFIX": prefix}
    args = ("analyze", "--as-of", D.isoformat(), "--window", "7d", "--format", "json")
    done = facmon(*args, env=full)
    assert done.returncode == 0, done.stderr
    assert "7 deliveries sent, 0 failed" in done.stderr, done.stderr
    analysed = {r["facility_id"]: r for r in json.loads(done.stdout)["facilities"]}
    assert (analysed[GYM]["status"], analysed[GYM]["integrity"]["suspect"]) == ("ACTIVE", True)
    assert not analysed[LIB]["integrity"]["suspect"]  # all zeros is an empty room, not a flat line

    mails = wait_for(smtp_server.mailbox.messages, 3)
    by_facility = {mail["X-Facmon-Facility"]: mail for _, mail in mails}
    assert by_facility[LIB]["Subject"] == f"[facmon] IDLE: 鹿城区图书馆五马分馆 ({LIB})"
    assert by_facility[COMM]["Subject"] == f"[facmon] Sensor outage (NO_DATA): 娄桥街道社区活动中心 ({COMM})"
    assert by_facility[GYM]["Subject"].startswith("[facmon] Data integrity flag (")
    idle = by_facility[LIB].get_body(("plain",)).get_content()
    assert "no use on 7 of 7 open days (100% ≥ 80%)" in idle
    flagged = by_facility[GYM].get_body(("plain",)).get_content()
    assert "not proof" in flagged
    stored = evidence.query(
        f'SELECT "integrity", "integrity_detectors" FROM "facility_status" WHERE "facility" = \'{GYM}\'')
    ((_, reasons, detectors),) = stored[0]["series"][0]["values"]  # what analyze stored is what the alert says
    assert reasons.split("; ")[0] in flagged
    bodies = {body["kind"]: body for body in wait_for(webhook.received, 2)}
    assert (bodies["raised"]["status"], bodies["raised"]["figures"]["idle_days"]) == ("IDLE", 7)
    assert (bodies["integrity"]["facility"]["id"], bodies["integrity"]["status"]) == (GYM, "ACTIVE")
    assert ",".join(bodies["integrity"]["integrity"]["detectors"]) == detectors
    published = wait_for(lambda: subscriber.messages, 2)
    assert sorted(topic for topic, _, _ in published) == sorted([f"{prefix}/alerts/{LIB}", f"{prefix}/alerts/{GYM}"])
    subscriber.stop()
    assert sorted((a["facility"], a["kind"]) for a in alerts(evidence)) == [(GYM, "integrity"), (LIB, "raised"),
                                                                     (COMM, "outage")]

    again = facmon(*args, env=full)
    assert again.returncode == 0, again.stderr
    assert len(alerts(evidence)) == 3
    assert len(smtp_server.mailbox.messages()) == 3
    assert len(webhook.received()) == 2

    quiet = facmon(*args, "--no-store", env=full)  # writes nothing, so decides nothing either
    assert quiet.returncode == 0, quiet.stderr
    assert len(alerts(evidence)) == 3
