"""Hostile input, end to end: >= 10,000 generated messages through the real broker to the real ingester.

Hypothesis draws one seed (`st.randoms`); tests/faults/hostile.py turns it into FACMON_HOSTILE_CASES (10,000 by
default) topics and payloads: invalid UTF-8, deep nesting, huge numbers, NaN and Infinity, floats where integers
belong, duplicate keys, oversize payloads, arrays over the limit, ids and keys full of line-protocol and InfluxQL
metacharacters, random mutations of valid readings, and valid readings and batches among them. They are
published in one go to one ingester, then everything is checked at once (a server per example would take hours):

- the ingester is still running and its counters account for every message;
- MessageParser, on the same topic and payload, predicts each message's outcome; InfluxDB holds exactly the
  predicted readings (values, tags, one point per facility/sensor/ts), status changes and refusal points, and
  the MQTT notices are exactly the predicted refusals — so nothing refused is stored and nothing valid is lost;
- the generator's own expectation per kind of case (e.g. NaN must be bad_json) agrees with the parser, so the
  prediction is not vacuous;
- InfluxDB's schema is still only the documented one (docs/schema.md): no input added a measurement, tag key,
  field key, database, or a tag value that is not a registry facility, a valid sensor id or a refusal reason.

A failure replays from Hypothesis's database; for a longer run: FACMON_HOSTILE_CASES=100000 pytest -k hostile.
"""

from __future__ import annotations

import os
import random
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from facmon.demo.localstack import LocalInfluxDB, LocalMosquitto
from sensors.attribution import route
from sensors.contract import NOTICE_PAYLOAD_BYTES, RefusalReason, TopicGrammar, is_valid_id
from sensors.parse import MessageParser
from tests.faults.hostile import Case, Generator
from tests.integration.ingester import (
    COMMUNITY,
    COMMUNITY_TAGS,
    LIBRARY,
    LIBRARY_TAGS,
    InfluxReader,
    IngesterProcess,
    StreamPublisher,
    notice_listener,
    now_ms,
    unique,
    wait_until,
)

pytestmark = [pytest.mark.servers, pytest.mark.slow]

CASES = int(os.environ.get("FACMON_HOSTILE_CASES", "10000"))
CAPACITIES = {LIBRARY: 120, COMMUNITY: 60}
TAGS = {LIBRARY: LIBRARY_TAGS, COMMUNITY: COMMUNITY_TAGS}
MAX_AGE_S = 35 * 86_400
COUNT_FIELDS = ("occupancy", "entries", "exits", "uses", "seq")

#: docs/schema.md: measurement -> (tag keys, {field key: InfluxDB type}).
SCHEMA: dict[str, tuple[set[str], dict[str, str]]] = {
    "reading": (
        {"facility", "sensor", "type", "region"},
        {**dict.fromkeys(COUNT_FIELDS, "integer"), "over_capacity": "boolean", "arrival_delay_ms": "integer",
         "received_ms": "integer"},
    ),
    "sensor_status": ({"facility", "sensor"}, {"online": "boolean"}),
    "revision": (
        {"facility", "sensor"},
        {**{f"{age}_{name}": "integer" for age in ("old", "new") for name in COUNT_FIELDS},
         "old_received_ms": "integer", "new_received_ms": "integer"},
    ),
    "refusal": ({"reason", "facility"}, {"count": "integer", "sensor": "string", "path": "string",
                                         "unknown_facility": "string"}),
    "ingest_stats": (
        {"instance"},
        dict.fromkeys(
            ("received", "readings_accepted", "readings_written", "refused", "write_retries", "pending", "lag_ms",
             "notices_dropped", "unattributed", "revisions", "resends_unchecked", "silent", "silence_alerts"),
            "integer",
        ),
    ),
}


def stored_text(text: str) -> str:
    """A string field as InfluxDB gives it back: line breaks were written as the two characters \\n, \\r."""
    return text.replace("\n", "\\n").replace("\r", "\\r")


class Prediction:
    """What the ingester must make of the cases, according to MessageParser on the same input."""

    def __init__(self, prefix: str) -> None:
        self.grammar = TopicGrammar(prefix)
        self.parser = MessageParser(self.grammar, CAPACITIES, MAX_AGE_S)
        self.readings: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.accepted = 0
        self.statuses: Counter[tuple[str, str, bool]] = Counter()
        self.refusal_points: Counter[tuple[str, str | None, str | None, str | None]] = Counter()
        self.notices: Counter[tuple[str, str, str | None, str, str]] = Counter()
        self.reasons: Counter[str] = Counter()
        self.received = 0
        self.mismatches: list[str] = []
        self.retained: set[tuple[str, str]] = set()  # sensors whose last notice is retained (issue 17)
        self.clears = 0  # empty retained messages that clear one: the sensor's next message was accepted

    def add(self, case: Case, received_ns: int) -> None:
        parsed = self.parser.parse(case.topic, case.payload, received_ns)
        self._check_expectation(case, parsed)
        self.received += not parsed.ignored
        for reading in parsed.readings:
            self.accepted += 1
            fields = {name: getattr(reading, name) for name in COUNT_FIELDS if getattr(reading, name) is not None}
            if reading.over_capacity:
                fields["over_capacity"] = True
            # The same facility, sensor and ts is the same point: InfluxDB merges later fields into it.
            key = (reading.facility, reading.sensor, reading.ts_ns)
            self.readings[key] = {**self.readings.get(key, {}), **fields}
        if parsed.status is not None:
            self.statuses[(parsed.status.facility, parsed.status.sensor, parsed.status.online)] += 1
        payload_text = case.payload[:NOTICE_PAYLOAD_BYTES].decode("utf-8", "replace")
        where = route(self.grammar, case.topic, parsed.refusals[0], CAPACITIES) if parsed.refusals else None
        if where is not None and where.facility is not None and where.sensor is not None:
            self.retained.add((where.facility, where.sensor))
        elif where is None and parsed.readings and parsed.topic is not None:
            key = (parsed.topic.facility, parsed.topic.sensor)
            if key in self.retained:
                self.retained.discard(key)
                self.clears += 1
        for refusal in parsed.refusals:
            assert where is not None
            reason = refusal.reason.value
            self.reasons[reason] += 1
            path = stored_text(refusal.path[:200]) if refusal.path else None
            self.refusal_points[(reason, where.facility, refusal.sensor or where.sensor, path)] += 1
            self.notices[(where.topic, reason, refusal.path, case.topic, payload_text)] += 1

    def _check_expectation(self, case: Case, parsed: Any) -> None:
        """The generator knows some outcomes for sure; the parser must agree (else the prediction is vacuous)."""
        refused = [r.reason.value for r in parsed.refusals]
        if case.expect == "any":
            return
        if case.expect == "valid":
            ok = not refused and (parsed.readings or parsed.status is not None)
        elif case.expect == "refused":
            ok = bool(refused) and not parsed.readings
        else:
            ok = refused[:1] == [case.expect] and not parsed.readings
        if not ok:
            self.mismatches.append(f"{case.kind}: expected {case.expect}, parser gave {refused or 'accepted'}: "
                                   f"{case.topic!r} {case.payload[:200]!r}")


def stored_readings(reader: InfluxReader) -> dict[tuple[str, str, int], dict[str, Any]]:
    stored: dict[tuple[str, str, int], dict[str, Any]] = {}
    for row in reader.rows('SELECT * FROM "reading"'):
        key = (row["facility"], row["sensor"], row["time"])
        assert key not in stored, f"two points for {key}"
        assert {"type": row["type"], "region": row["region"], "facility": row["facility"]} == TAGS[row["facility"]]
        assert isinstance(row["arrival_delay_ms"], int), row
        assert isinstance(row["received_ms"], int), row
        names = (*COUNT_FIELDS, "over_capacity")
        stored[key] = {name: row[name] for name in names if row.get(name) is not None}
    return stored


def assert_schema_is_documented(reader: InfluxReader) -> None:
    assert reader.measurements() <= set(SCHEMA), reader.measurements()
    for measurement, keys in reader.all_tag_keys().items():
        assert keys <= SCHEMA[measurement][0], (measurement, keys)
    for measurement, fields in reader.all_field_keys().items():
        documented = SCHEMA[measurement][1]
        assert set(fields) <= set(documented), (measurement, fields)
        assert all(documented[name] == kind for name, kind in fields.items()), (measurement, fields)
    for measurement in ("reading", "sensor_status", "refusal"):
        assert reader.tag_values(measurement, "facility") <= set(CAPACITIES)
    for measurement in ("reading", "sensor_status"):
        assert all(is_valid_id(sensor) for sensor in reader.tag_values(measurement, "sensor"))
    assert reader.tag_values("refusal", "reason") <= {reason.value for reason in RefusalReason}


@settings(
    max_examples=1,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each run costs tens of seconds
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    print_blob=True,
)
@given(rng=st.randoms(use_true_random=True))
def test_hostile_messages_through_broker_and_ingester_are_stored_or_refused_as_predicted(
    rng: random.Random, mosquitto: LocalMosquitto, influxdb: LocalInfluxDB, tmp_path: Path
) -> None:
    # Hypothesis replays a failing example once more to report it: each run gets its own prefix, database and
    # ingester (killed at the end), so a replay is a clean run, not a second ingester on the first one's data.
    prefix, influx_db_name = unique("h") + "/v1", "t_" + uuid.uuid4().hex[:12]
    reader = InfluxReader(influxdb.url, influx_db_name)
    ingester = IngesterProcess(
        tmp_path / prefix.replace("/", "-"),
        mqtt_url=mosquitto.url,
        influx_url=influxdb.url,
        influx_db=influx_db_name,
        topic_prefix=prefix,
        # The generator invents thousands of sensor ids per facility, and every notice is compared: the sensor cap
        # and the notice queue's bound are lifted here and have tests of their own (test_hostile_integrator.py).
        env={"FACMON_STATS_INTERVAL": "0.5", "FACMON_MAX_SENSORS_PER_FACILITY": "1000000",
             "FACMON_NOTICE_QUEUE": "100000"},
    )
    try:
        check_hostile_run(rng, mosquitto, reader, ingester)
    finally:
        ingester.kill()


def check_hostile_run(
    rng: random.Random, mosquitto: LocalMosquitto, reader: InfluxReader, ingester: IngesterProcess
) -> None:
    prefix, influx_db_name = ingester.topic_prefix, reader.database
    now = now_ms()  # the tests' pinned clock, which the ingester's follows
    cases = Generator(rng, prefix, now).cases(CASES)
    assert len(cases) >= 10_000 or CASES < 10_000
    prediction = Prediction(prefix)
    for case in cases:
        prediction.add(case, now * 1_000_000)
    assert not prediction.mismatches, "\n".join(prediction.mismatches[:20])
    kinds = Counter(case.kind for case in cases)
    assert prediction.accepted > CASES, kinds  # many valid readings among them (batches count each)
    assert sum(prediction.reasons.values()) > CASES // 2, (kinds, prediction.reasons)

    databases_before = reader.databases()
    ingester.start()
    expected_notices = sum(prediction.notices.values())
    with notice_listener(mosquitto.host, mosquitto.port, prefix) as listener:
        StreamPublisher(mosquitto.host, mosquitto.port, [(c.topic, c.payload) for c in cases]).start().join(300)
        notices = listener.take(expected_notices, timeout=180)
        notices += listener.drain(quiet=1.0)  # none, or the comparison below shows which

    def settled() -> bool:
        return ingester.counter("received") >= prediction.received and ingester.counter("pending") == 0

    wait_until(settled, timeout=120, interval=0.5, what=f"the ingester to take {prediction.received} messages")
    ingester.wait_for_log(r"counters .* pending=0 ")
    assert ingester.running, ingester.run_log
    assert "Traceback" not in ingester.run_log
    assert "InfluxDB refused" not in ingester.run_log, ingester.run_log

    # Its counters account for every message and every refusal, by reason.
    events = "\n".join(line for line in ingester.run_log.splitlines() if " counters " not in line)
    counters = ingester.counters_history()[-1]
    assert counters["received"] == prediction.received
    assert counters["accepted"] == counters["written"] == prediction.accepted
    assert counters["statuses"] == sum(prediction.statuses.values())
    # its own notices and the clears of retained ones, delivered back to it and ignored
    assert counters["ignored"] == expected_notices + prediction.clears, events
    assert ingester.refused_counts() == dict(prediction.reasons)

    # The notices are the predicted refusals, each to the right topic, with reason, path, topic and payload.
    got = Counter((n.topic, n.body["reason"], n.body["path"], n.body["topic"], n.body["payload"]) for n in notices)
    assert got == prediction.notices, (got - prediction.notices, prediction.notices - got)

    # InfluxDB holds exactly the predicted readings, statuses and refusals: nothing refused, nothing lost.
    stored = stored_readings(reader)
    assert stored.keys() == prediction.readings.keys(), (
        len(stored.keys() - prediction.readings.keys()), len(prediction.readings.keys() - stored.keys()))
    wrong = [(key, stored[key], value) for key, value in prediction.readings.items() if stored[key] != value]
    assert not wrong, wrong[:10]
    statuses = Counter((r["facility"], r["sensor"], r["online"]) for r in reader.points("sensor_status"))
    assert statuses == prediction.statuses
    refusal_rows = reader.points("refusal")
    points = Counter((r["reason"], r["facility"] or None, r["sensor"], r["path"]) for r in refusal_rows)
    assert points == prediction.refusal_points, (points - prediction.refusal_points, prediction.refusal_points - points)
    assert all(r["count"] == 1 for r in refusal_rows)

    # No input reached the schema, a query or another database.
    assert_schema_is_documented(reader)
    assert reader.databases() == databases_before | {influx_db_name}
    code, log = ingester.stop()
    assert code == 0, log
    print(f"\n{len(cases)} cases ({dict(kinds)}): {prediction.accepted} readings stored as {len(stored)} points, "
          f"{sum(prediction.reasons.values())} refusals {dict(prediction.reasons)}, "
          f"{sum(prediction.statuses.values())} status changes")
