"""The evidence cannot be touched by the data path (issue 19, item 3), on the real InfluxDB 1.6 with auth on.

InfluxDB 1.x grants DELETE and DROP SERIES with WRITE. So the readings and the evidence live in two databases
(analytics.analysis.evidence): the ingester's credentials cannot read, write or delete anything in the evidence
database, analytics' cannot write or delete readings, and a review forged into the readings database silences nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from analytics.alerts import reviews
from facmon.core.influx import InfluxClient, InfluxPermissionDenied
from tests.integration.ingester import REGISTRY_YAML, unique
from tests.integration.security.conftest import ANALYTICS_USER, INGEST_USER, LIBRARY, SecureInflux, run_facmon

pytestmark = pytest.mark.servers

AS_OF = "2026-03-02"


def client(influx: SecureInflux, user: str | None, database: str) -> InfluxClient:
    server = influx.server
    if user is None:
        assert server.admin_user is not None
        assert server.admin_password is not None
        return InfluxClient(server.url, database, (server.admin_user, server.admin_password))
    return InfluxClient(server.url, database, (user, influx.passwords[user]))


@pytest.fixture
def clients(secure_influx: SecureInflux) -> Iterator[dict[str, InfluxClient]]:
    db = secure_influx.database
    made = {
        "admin": client(secure_influx, None, db), "admin_evidence": client(secure_influx, None, f"{db}_evidence"),
        "ingest": client(secure_influx, INGEST_USER, db),
        "ingest_evidence": client(secure_influx, INGEST_USER, f"{db}_evidence"),
        "analytics": client(secure_influx, ANALYTICS_USER, db),
    }
    yield made
    for each in made.values():
        each.close()


def count(admin: InfluxClient, statement: str) -> int:
    series = admin.query(statement)[0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def test_the_ingesters_credentials_cannot_read_write_or_delete_any_evidence(clients: dict[str, InfluxClient]) -> None:
    facility = unique("ev-")
    clients["admin_evidence"].write(
        f'review,facility={facility},disposition=confirmed note="real",until="",reviewer="li"\n'
        f'facility_status,facility={facility},status=IDLE window_days=28i\n'
        f'alert,facility={facility},kind=raised,status=IDLE as_of="{AS_OF}"\n'
        f'analytics_day,facility={facility} open_slots=4i'.encode())
    attacker = clients["ingest_evidence"]
    for statement in (f"DELETE FROM review WHERE facility = '{facility}'", "DELETE FROM facility_status",
                      f"DROP SERIES FROM alert WHERE facility = '{facility}'", "DROP MEASUREMENT analytics_day",
                      "SELECT * FROM review"):
        with pytest.raises(InfluxPermissionDenied):
            attacker.query(statement)
    with pytest.raises(InfluxPermissionDenied, match="not authorized to write"):
        attacker.write(f'review,facility={facility},disposition=seasonal note="x",until="2027-12-31"'.encode())
    where = f"WHERE facility = '{facility}'"
    admin = clients["admin_evidence"]
    assert [count(admin, f"SELECT count({field}) FROM {m} {where}") for m, field in
            (("review", "note"), ("facility_status", "window_days"), ("alert", "as_of"),
             ("analytics_day", "open_slots"))] == [1, 1, 1, 1]


def test_a_write_only_user_may_delete_readings_in_its_own_database_as_influxdb_1x_grants_it(
    clients: dict[str, InfluxClient],
) -> None:
    """What docs/security.md states about the ingester's rights in the readings database, checked as stated."""
    one, two = unique("del-"), unique("drop-")
    clients["admin"].write(f"reading,facility={LIBRARY},sensor={one} occupancy=1i 1000000000\n"
                           f"reading,facility={LIBRARY},sensor={two} occupancy=2i 1000000000".encode())
    ingest = clients["ingest"]
    ingest.query(f"DELETE FROM reading WHERE sensor = '{one}'")
    ingest.query(f"DROP SERIES FROM reading WHERE sensor = '{two}'")
    for statement in ("DROP MEASUREMENT reading", f'DROP DATABASE "{ingest.database}"', "SHOW MEASUREMENTS"):
        with pytest.raises(InfluxPermissionDenied):
            ingest.query(statement)
    assert count(clients["admin"], f"SELECT count(occupancy) FROM reading WHERE sensor = '{one}' OR sensor = "
                                   f"'{two}'") == 0


def test_the_analytics_credentials_cannot_write_or_delete_readings(clients: dict[str, InfluxClient]) -> None:
    sensor = unique("keep-")
    clients["admin"].write(f"reading,facility={LIBRARY},sensor={sensor} occupancy=3i 1000000000".encode())
    analytics = clients["analytics"]
    for statement in (f"DELETE FROM reading WHERE sensor = '{sensor}'", "DROP SERIES FROM reading",
                      "DROP MEASUREMENT reading"):
        with pytest.raises(InfluxPermissionDenied):
            analytics.query(statement)
    with pytest.raises(InfluxPermissionDenied, match="not authorized to write"):
        analytics.write(f"reading,facility={LIBRARY},sensor={sensor} occupancy=99i 1000000000".encode())
    assert count(analytics, f"SELECT sum(occupancy) FROM reading WHERE sensor = '{sensor}'") == 3


def test_a_review_forged_with_the_ingesters_credentials_silences_nothing_and_is_reported(
    secure_influx: SecureInflux, clients: dict[str, InfluxClient], tmp_path: Path
) -> None:
    note = unique("forged-")
    clients["ingest"].write(
        f'review,facility={LIBRARY},disposition=seasonal note="{note}",until="2027-12-31",reviewer="x"'.encode())
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY_YAML, encoding="utf-8")
    env = {"FACMON_INFLUX_URL": secure_influx.server.url, "FACMON_INFLUX_DB": secure_influx.database,
           "FACMON_INFLUX_USER": ANALYTICS_USER, "FACMON_INFLUX_PASSWORD": secure_influx.passwords[ANALYTICS_USER],
           "FACMON_REGISTRY": str(registry)}
    analyzed = run_facmon("analyze", "--as-of", AS_OF, "--window", "7", "--rollup", "off", "--format", "json",
                          env=env)
    assert analyzed.returncode == 0, analyzed.stderr
    assert LIBRARY in {f["facility_id"] for f in json.loads(analyzed.stdout)["facilities"]}
    [warning] = [line for line in analyzed.stderr.splitlines() if "migrate-evidence" in line]
    assert f"the readings database {secure_influx.database} holds " in warning
    assert "review" in warning
    assert f"{secure_influx.database}_evidence" in warning
    evidence = client(secure_influx, ANALYTICS_USER, f"{secure_influx.database}_evidence")
    try:
        assert [r for r in reviews.read(evidence, [LIBRARY]) if r.note == note] == []  # what alerts are held by
    finally:
        evidence.close()
    report = run_facmon("report", "--format", "csv", "--as-of", AS_OF, "-o", "-", env=env)
    assert report.returncode == 0, report.stderr
    header, *lines = list(csv.reader(io.StringIO(report.stdout.lstrip("\ufeff"))))
    [row] = [dict(zip(header, line, strict=True)) for line in lines if LIBRARY in line]
    assert (row["Review"], row["Review holds alerts until"]) == ("", "")
    assert note not in report.stdout


def test_migrate_evidence_moves_an_older_facmons_points_with_their_tags(secure_influx: SecureInflux) -> None:
    legacy = unique("legacy_")
    secure_influx.server.query(f'CREATE DATABASE "{legacy}"')
    admin = client(secure_influx, None, legacy)
    try:
        admin.write(f'review,facility={LIBRARY},disposition=confirmed note="old",until="",reviewer="li" 1000000000\n'
                    f"facility_status,facility={LIBRARY},status=IDLE window_days=28i 2000000000\n"
                    f"analytics_day,facility={LIBRARY} open_slots=4i 3000000000\n"
                    f"reading,facility={LIBRARY},sensor=s1 occupancy=1i 4000000000".encode())
        env = {"FACMON_INFLUX_URL": secure_influx.server.url, "FACMON_INFLUX_DB": legacy,
               "FACMON_INFLUX_USER": str(secure_influx.server.admin_user),
               "FACMON_INFLUX_PASSWORD": str(secure_influx.server.admin_password)}
        dry = run_facmon("migrate-evidence", "--dry-run", env=env)
        assert dry.returncode == 0, dry.stderr
        assert f'SELECT * INTO "{legacy}_evidence".."review" FROM "{legacy}".."review" GROUP BY *' in dry.stdout
        assert "analytics_day" not in dry.stdout.split("DROP", 1)[0]  # the rollup is computed again, not copied
        moved = run_facmon("migrate-evidence", env=env)
        assert moved.returncode == 0, moved.stderr
        present = {row[0] for row in admin.query("SHOW MEASUREMENTS")[0]["series"][0]["values"]}
        assert present == {"reading"}
        evidence = client(secure_influx, None, f"{legacy}_evidence")
        try:
            [review] = reviews.read(evidence, [LIBRARY])
            assert (review.note, review.disposition.value, review.time_ns) == ("old", "confirmed", 1000000000)
            status = evidence.query("SELECT window_days, status FROM facility_status")[0]["series"][0]
            assert status["values"] == [["1970-01-01T00:00:02Z", 28, "IDLE"]]
        finally:
            evidence.close()
    finally:
        admin.close()
        for name in (legacy, f"{legacy}_evidence"):
            secure_influx.server.query(f'DROP DATABASE "{name}"')
