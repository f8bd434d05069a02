"""`facmon dashboards sync-registry` against a real InfluxDB: facility_info mirrors the registry, stale series go."""

from __future__ import annotations

import pytest
import yaml

from facmon.cli.main import main
from facmon.core.influx import InfluxClient
from tests.integration.dashboards import scenario

pytestmark = pytest.mark.servers


def facilities(client: InfluxClient) -> dict[str, dict]:
    series = client.query('SELECT * FROM "facility_info"')[0].get("series", [])
    return {row["facility"]: row for s in series for row in (dict(zip(s["columns"], v, strict=True))
                                                             for v in s["values"])}


def test_sync_mirrors_the_registry_and_drops_what_left_it(influxdb, influx_db_name, tmp_path, capsys):
    influxdb.query(f'CREATE DATABASE "{influx_db_name}"')
    data = scenario.registry(scenario.utc_now())
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    args = ["dashboards", "sync-registry", "--influx-url", influxdb.url, "--influx-db", influx_db_name,
            "--registry", str(path)]
    assert main(args) == 0
    assert "wrote 5 facilities" in capsys.readouterr().out
    client = InfluxClient(influxdb.url, f"{influx_db_name}_evidence")  # with the statuses it completes
    try:
        rows = facilities(client)
        assert set(rows) == {f.id for f in scenario.FACILITIES}
        busy = rows["d-busy"]
        assert (busy["lat"], busy["lon"], busy["capacity"], busy["department"], busy["timezone"]) == (
            28.0, 120.65, 100, scenario.DEPARTMENT, "Asia/Shanghai")
        assert rows["d-exempt"]["lat"] is None
        data["facilities"] = [f for f in data["facilities"] if f["id"] != "d-idle"]
        data["facilities"][0]["region"] = "zhejiang/wenzhou/ouhai"
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        assert main(args) == 0
        rows = facilities(client)
        assert set(rows) == {f.id for f in scenario.FACILITIES} - {"d-idle"}
        assert rows["d-busy"]["region"] == "zhejiang/wenzhou/ouhai"
        regions = client.query('SHOW TAG VALUES FROM "facility_info" WITH KEY = "region" WHERE "facility" = \'d-busy\'')
        assert [v[1] for v in regions[0]["series"][0]["values"]] == ["zhejiang/wenzhou/ouhai"]
    finally:
        client.close()
        influxdb.query(f'DROP DATABASE "{influx_db_name}"')
        influxdb.query(f'DROP DATABASE "{influx_db_name}_evidence"')


def test_sync_reports_an_unreachable_influxdb(tmp_path, capsys):
    from facmon.demo.localstack import free_port

    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(scenario.registry(scenario.utc_now())))
    code = main(["dashboards", "sync-registry", "--influx-url", f"http://127.0.0.1:{free_port()}",
                 "--registry", str(path)])
    assert code == 1
    assert "InfluxDB at http://127.0.0.1:" in capsys.readouterr().err
