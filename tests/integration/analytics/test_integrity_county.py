"""False alarms: the sample county's honest profiles over 28 days raise no integrity flag, and each forged
profile present in facmon/resources/county.yaml is caught by its detector (docs/analytics.md, *Data integrity*)."""

from __future__ import annotations

import json
from datetime import datetime, time

import pytest

from facmon.cli.main import main
from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from sensors.registry import load_registry
from sensors.simulator.plan import plan
from sensors.simulator.publisher import Fleet, backfill
from tests.integration.ingester import unique, wait_until
from tests.integration.test_simulate import COUNTY, COUNTY_AS_OF, county_now, running_stack

pytestmark = pytest.mark.servers

HONEST = {"busy", "normal", "underused", "idle", "offline", "flaky", "night_only"}
#: late_backfill too, though the backfill replays weeks in seconds: readings store their receive time to the
#: millisecond, and its upload comes after everything else (docs/analytics.md, late_arrival).
CAUGHT_BY = {"forged_flat": "flat_line", "forged_copy": "copied_days", "clone_of": "clone",
             "impossible": "impossible_counts", "late_backfill": "late_arrival"}


def test_honest_profiles_raise_nothing_and_forged_ones_are_caught(
        mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, influx_db_name: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    registry = load_registry(COUNTY)
    sensors, _ = plan(registry)
    end = int(datetime.combine(COUNTY_AS_OF, time(), sensors[0].facility.zone).timestamp())
    with running_stack(mosquitto, influxdb, influx_db_name, COUNTY, county_now()) as running:
        fleet = Fleet(running.settings, sensors, client_prefix=unique("county-"))
        fleet.connect()
        try:
            summary = backfill(fleet, sensors, 1, end - 28 * 86400, end)
        finally:
            fleet.close()
        wait_until(lambda: int(running.influx.scalar('SELECT count("seq") FROM "reading"') or 0) >= summary.readings,
                   120, interval=0.5, what=f"{summary.readings} readings")
    code = main(["analyze", "--influx-url", influxdb.url, "--influx-db", influx_db_name, "--registry", str(COUNTY),
                 "--as-of", COUNTY_AS_OF.isoformat(), "--format", "json", "--no-store"])
    out = capsys.readouterr()
    assert code == 0, out.err
    integrity = {f["facility_id"]: f["integrity"] for f in json.loads(out.out)["facilities"]}
    profiles = {f.id: (f.simulation or {}).get("profile", "normal") for f in registry}
    # A clone's source shares its series: the data cannot tell which name is the real one, so both are flagged.
    sources = {f.simulation.get("source") for f in registry if f.simulation and profiles[f.id] == "clone_of"}
    false_alarms = {fid: found["findings"] for fid, found in integrity.items()
                    if profiles[fid] in HONEST and fid not in sources and found["suspect"]}
    assert false_alarms == {}
    for fid, profile in profiles.items():
        if profile in CAUGHT_BY:
            assert CAUGHT_BY[profile] in integrity[fid]["detectors"], (fid, integrity[fid])
    for source in sources:
        assert integrity[source]["detectors"] == ["clone"]
