"""Webhook URLs cannot reach internal services (issue 19, item 5): the attack from the issue, an auditors file
whose webhook is the local InfluxDB's query endpoint with a DROP SERIES in it, is refused and InfluxDB keeps its
data; a send is checked again, after DNS resolution, before anything is connected to."""

from __future__ import annotations

import pytest
import yaml

from analytics.alerts.auditors import parse_auditors
from analytics.alerts.decide import Kind, Notice
from analytics.alerts.deliver import Deliverer
from analytics.alerts.message import payload
from analytics.alerts.webhook_guard import WebhookRefused, pick_address, resolve
from analytics.analysis.model import Status
from facmon.core.settings import Settings
from tests.conftest import TEST_NOW
from tests.integration.analytics.auditing import COMM, GYM, LIB, D, run_of
from tests.integration.analytics.test_alerts_analyze import seed_readings
from tests.integration.analytics.test_review import env, facmon

__all__ = ["env"]  # fixtures used by name
pytestmark = pytest.mark.servers


def readings(db) -> int:
    series = db.query('SELECT count("occupancy") FROM "reading"')[0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


@pytest.mark.parametrize("extra", [{}, {"allow_http": True}], ids=["as-is", "http-allowed"])
def test_a_webhook_at_the_local_influxdb_is_refused_and_influxdb_keeps_its_data(db, evidence, env, influxdb, tmp_path,
                                                                                 extra):
    seed_readings(db)
    before = readings(db)
    port = influxdb.url.rsplit(":", 1)[1]
    hook = f"http://127.0.0.1:{port}/query?db={db.database}&q=DROP%20SERIES%20FROM%20reading"
    auditors = tmp_path / "auditors.yaml"
    auditors.write_text(yaml.safe_dump({"auditors": [
        {"id": "evil", "name": "Evil", "regions": ["*"], "webhook": hook, **extra}]}), encoding="utf-8")
    done = facmon("analyze", "--as-of", D.isoformat(), "--window", "7d", "--format", "json",
                  env={**env, "FACMON_AUDITORS": str(auditors)})
    assert done.returncode == 3, done.stderr  # EXIT_ALERTS: the run is stored, its alerts are not
    assert "alerts not sent, the auditors file is unusable" in done.stderr
    reason = "loopback address (127.0.0.1)" if extra else "must be https://"
    assert f"auditors[0] (evil): webhook http://127.0.0.1:{port}: " in done.stderr
    assert reason in done.stderr
    assert "DROP" not in done.stderr  # the path and query (often a token) are never shown
    assert readings(db) == before > 0


def test_a_send_is_checked_again_and_refused_before_any_connection(db, webhook):
    """The auditors file was fine when loaded; when sending, the target is loopback: nothing reaches it."""
    settings = Settings(influx_url=db.url, influx_db=db.database, delivery_timeout=3)
    found = parse_auditors({"auditors": [{"id": "district", "name": "D", "regions": ["*"],
                                          "webhook": "https://hooks.example.org/hook"}]})
    data = payload(Notice(Kind.RAISED, run_of(D, {LIB: Status.IDLE, GYM: Status.ACTIVE, COMM: Status.ACTIVE})
                          .facilities[0], D), None, [], None, TEST_NOW)
    deliverer = Deliverer(settings, found)
    try:
        refused = deliverer._post(webhook.url(), data, allow_http=True, allow_private=False)
        allowed = deliverer._post(webhook.url(), data, allow_http=True, allow_private=True)
    finally:
        deliverer.close()
    assert not refused.ok
    assert refused.error.startswith("refused: points at a loopback address (127.0.0.1)")
    assert allowed.ok, allowed.error
    assert len(webhook.received()) == 1  # only the allowed one arrived


def test_a_name_is_judged_by_every_address_it_resolves_to():
    addresses = resolve("localhost", 80)  # the hosts file: a name, not an address, resolving to loopback
    with pytest.raises(WebhookRefused, match=r"localhost resolves to a loopback address"):
        pick_address("localhost", addresses, allow_private=False)
    assert str(pick_address("localhost", addresses, allow_private=True)) in {"127.0.0.1", "::1"}
