"""The analysis's quarter hours made from raw readings (queries.fetch_aggregates, analytics.analysis.buckets) equal
InfluxDB's own GROUP BY time(15m) aggregates of the same readings to the last bit, fill(none) included."""

from __future__ import annotations

import uuid

import numpy as np
import pandas as pd
import pytest

from analytics.analysis import queries
from analytics.analysis.schedule import SLOT_NS
from facmon.core.influx import InfluxClient
from facmon.demo.localstack import LocalInfluxDB

pytestmark = pytest.mark.servers

T0 = 1_760_000_400 * 10**9  # a quarter hour
FACILITIES = ["fac-a", "fac-b", "fac-c"]
OUTSIDE = "fac-z"  # written, never asked for
SENSORS = ["door-1", "door-2", "desk"]
QUARTERS = 24
#: values whose float sums depend on the order they are added in
AWKWARD = [0.1, 0.2, 0.3, 0.7, 1e-17, 3e-17, 1e16, -1e16, 1 / 3, 2 / 3, 7.000000000000001, 123456.789, 1e-300]


def _readings(rng: np.random.Generator, floats: bool) -> list[str]:
    """Line protocol: a series per facility and sensor, 0 to 40 readings a quarter at random instants (quarter
    boundaries and their last nanosecond among them), each field missing now and then, some quarters without a
    field at all."""
    lines = []
    for facility in [*FACILITIES, OUTSIDE]:
        for sensor in SENSORS:
            for quarter in range(QUARTERS):
                start = T0 + quarter * SLOT_NS
                count = int(rng.integers(0, 41))
                instants = {start, start + SLOT_NS - 1} if count >= 2 else set()
                while len(instants) < count:
                    instants.add(start + int(rng.integers(0, SLOT_NS // 10**6)) * 10**6)
                absent = set(rng.choice(queries.ALL_FIELDS, int(rng.integers(0, 3)), replace=False).tolist())
                for ts in sorted(instants):
                    fields = [_field(name, rng, floats) for name in queries.ALL_FIELDS
                              if name not in absent and rng.random() > 0.15]
                    if not fields:
                        fields = ["seq=1i"]  # a reading without any of the analysed fields
                    lines.append(f"reading,facility={facility},region=r,sensor={sensor},type=library "
                                 f"{','.join(fields)} {ts}")
    return lines


def _field(name: str, rng: np.random.Generator, floats: bool) -> str:
    if not floats:
        base = 1_760_000_000_000 if name == "received_ms" else 0
        return f"{name}={base + int(rng.integers(0, 5000))}i"
    value = float(rng.choice(AWKWARD)) if rng.random() < 0.6 else float(rng.uniform(-1e4, 1e4))
    if name == "received_ms":
        value += 1_760_000_000_000.0
    return f"{name}={value!r}"


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["fac", "sensor", "slot"]).reset_index(drop=True)


@pytest.mark.parametrize("floats", [True, False], ids=["float-fields", "integer-fields"])
def test_local_quarter_hours_equal_influxdb_aggregates_bit_for_bit(influxdb: LocalInfluxDB, floats: bool) -> None:
    database = "t_" + uuid.uuid4().hex[:12]
    influxdb.query(f'CREATE DATABASE "{database}"')
    lines = _readings(np.random.default_rng(18), floats)
    influxdb.write(database, "\n".join(lines))
    client = InfluxClient(influxdb.url, database)
    try:
        # two ranges of whole quarters, with readings before, between and after them
        ranges = [(T0 + SLOT_NS, T0 + 9 * SLOT_NS), (T0 + 12 * SLOT_NS, T0 + 23 * SLOT_NS)]
        fields = queries.reading_fields(client)
        assert set(fields) == set(queries.ALL_FIELDS)
        reference = pd.concat(
            [queries.parse_aggregates(text, FACILITIES)
             for text in queries.run_statements(client, queries.aggregate_statements(FACILITIES, ranges, fields))],
            ignore_index=True)
        local = queries.fetch_aggregates(client, FACILITIES, ranges, fields)
    finally:
        client.close()
    expected, got = _sorted(reference), _sorted(local)
    assert len(expected) > 150  # of 3 facilities x 3 sensors x 19 quarters
    assert expected["fac"].isin([0, 1, 2]).all()
    assert expected[list(queries.VALUE_COLUMNS)].isna().any().all()  # every field is missing somewhere
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    values = got[list(queries.VALUE_COLUMNS)].to_numpy()
    assert (np.signbit(values) == np.signbit(expected[list(queries.VALUE_COLUMNS)].to_numpy())).all()
