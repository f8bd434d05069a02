"""Query text and the parsing of InfluxDB's CSV answers (the answers themselves are tested against InfluxDB)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from analytics.analysis import queries
from analytics.analysis.schedule import SLOT_NS

T0 = 1_760_000_400 * 10**9  # a quarter hour


def test_statements_quote_every_value_and_ask_only_for_present_fields():
    [one, two] = queries.aggregate_statements(["a", "b-2"], [(T0, T0 + SLOT_NS), (T0 + 4 * SLOT_NS, T0 + 8 * SLOT_NS)],
                                              fields=("occupancy", "entries"))
    assert one == (
        'SELECT mean("occupancy") AS "occ_mean", sum("entries") AS "entries" FROM "reading" '
        "WHERE (\"facility\" = 'a' OR \"facility\" = 'b-2') "
        "AND time >= '2025-10-09T09:00:00.000000Z' AND time < '2025-10-09T09:15:00.000000Z' "
        'GROUP BY time(15m), "facility", "sensor" fill(none)'
    )
    assert "time >= '2025-10-09T10:00:00.000000Z' AND time < '2025-10-09T11:00:00.000000Z'" in two
    assert queries.aggregate_statements(["a"], [(T0, T0 + SLOT_NS)], fields=()) == []


def test_reading_statements_select_the_raw_fields_per_facility_and_sensor():
    [one, two] = queries.reading_statements(["a", "b-2"], [(T0, T0 + SLOT_NS), (T0 + 4 * SLOT_NS, T0 + 8 * SLOT_NS)],
                                            fields=("received_ms", "occupancy", "entries"))
    assert one == (
        'SELECT "occupancy", "entries", "received_ms" FROM "reading" '
        "WHERE (\"facility\" = 'a' OR \"facility\" = 'b-2') "
        "AND time >= '2025-10-09T09:00:00.000000Z' AND time < '2025-10-09T09:15:00.000000Z' "
        'GROUP BY "facility", "sensor"'
    )
    assert "time >= '2025-10-09T10:00:00.000000Z' AND time < '2025-10-09T11:00:00.000000Z'" in two
    assert queries.reading_statements(["a"], [(T0, T0 + SLOT_NS)], fields=()) == []


@pytest.mark.parametrize("statements", [queries.reading_statements, queries.aggregate_statements])
@pytest.mark.parametrize("bad", ["A", "a b", "x'; DROP DATABASE facmon", ""])
def test_an_invalid_facility_id_never_reaches_a_query(statements, bad):
    with pytest.raises(ValueError, match="invalid facility id"):
        statements([bad], [(T0, T0 + SLOT_NS)])


def test_every_invalid_facility_id_is_named():
    with pytest.raises(ValueError, match="invalid facility id 'A', 'b c'"):
        queries.reading_statements(["ok", "A", "b c"], [(T0, T0 + SLOT_NS)])
    with pytest.raises(ValueError, match="no facilities"):
        queries.reading_statements([], [(T0, T0 + SLOT_NS)])


@pytest.mark.parametrize("statements", [queries.reading_statements, queries.aggregate_statements])
def test_query_bounds_must_be_whole_seconds(statements):
    with pytest.raises(ValueError, match="whole seconds"):
        statements(["a"], [(T0 + 1, T0 + SLOT_NS)])


def test_several_statements_parse_into_one_frame():
    header = "name,tags,time,occ_mean,entries\n"
    text = (header + f'reading,"facility=b,sensor=s1",{T0},2.5,\n'
            f'reading,"facility=zz,sensor=s1",{T0},9,9\n\n'
            + header + f'reading,"facility=a,sensor=s2",{T0 + SLOT_NS},,3\n')
    frame = queries.parse_aggregates(text, ["a", "b"])
    assert frame["fac"].tolist() == [1, 0]  # zz is not in the group
    assert frame["slot"].tolist() == [T0 // SLOT_NS, T0 // SLOT_NS + 1]
    assert frame["occ_mean"].tolist()[0] == 2.5
    assert np.isnan(frame["occ_mean"].tolist()[1])
    assert np.isnan(frame["uses"]).all()
    assert len(queries.parse_aggregates("", ["a"])) == 0


def test_readings_of_several_statements_parse_into_quarter_hours():
    header = "name,tags,time,occupancy,entries,received_ms\n"
    text = (header + f'reading,"facility=b,sensor=s1",{T0},2,,100\n'
            f'reading,"facility=b,sensor=s1",{T0 + 60 * 10**9},3,4,200\n'
            f'reading,"facility=zz,sensor=s1",{T0},9,9,9\n\n'
            + header + f'reading,"facility=a,sensor=s2",{T0 + SLOT_NS},,3,\n'
            f'reading,"facility=a,sensor=s2",{T0 + 3 * SLOT_NS},0.1,,\n')
    frame = queries.parse_readings(text, ["a", "b"])
    assert list(frame.columns) == ["fac", "sensor", "slot", *queries.VALUE_COLUMNS]
    assert frame["fac"].tolist() == [0, 0, 1]  # zz is not in the group
    assert frame["sensor"].tolist() == [queries.sensor_code("s2")] * 2 + [queries.sensor_code("s1")]
    assert frame["slot"].tolist() == [T0 // SLOT_NS + 1, T0 // SLOT_NS + 3, T0 // SLOT_NS]
    assert frame["occ_mean"].tolist()[1:] == [0.1, 2.5]
    assert frame["entries"].tolist()[0] == 3.0
    assert frame["entries"].tolist()[2] == 4.0
    assert frame["received"].tolist()[2] == 150.0
    assert np.isnan(frame["occ_mean"].tolist()[0])
    assert np.isnan(frame["uses"]).all()
    assert len(queries.parse_readings("", ["a"])) == 0


def test_a_missing_end_marker_means_a_statement_failed():
    assert queries._split_marker("name,tags,name\ndatabases,,x\n") == ""
    body = "name,tags,time,occ_mean\nreading,\"facility=a,sensor=s\",1,2\n"
    assert queries._split_marker(body + "\nname,tags,name\ndatabases,,x\n") == body
    with pytest.raises(queries.IncompleteAnswer):
        queries._split_marker(body)


def test_rollup_statement_covers_whole_local_days():
    statement = queries.rollup_statement(["a"], date(2025, 10, 6), date(2025, 10, 7))
    assert statement == ("SELECT \"facility\", \"key\", \"packed\" FROM \"analytics_day\" "
                         "WHERE (\"facility\" = 'a') AND "
                         "time >= '2025-10-06T00:00:00.000000Z' AND time < '2025-10-08T00:00:00.000000Z'")
