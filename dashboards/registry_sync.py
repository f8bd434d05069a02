"""The registry's facts that dashboards need and the measurements lack, as measurement ``facility_info``.

facility_status carries no location and no time zone, so the overview's map and the detail dashboard's local
days read them from here: tags facility, region, type, timezone; fields name, department, lat, lon, capacity;
one point per facility, at the time of the sync. A sync first drops the old series, so a facility removed from
the registry, or one whose region or type changed, leaves nothing stale behind.
"""

from __future__ import annotations

import logging
import time

from facmon.core import names
from facmon.core.influx import InfluxClient
from facmon.core.influxql import ident
from facmon.core.lineproto import FieldValue, line
from sensors.registry import Facility, Registry

log = logging.getLogger(__name__)

MEASUREMENT = names.FACILITY_INFO


def info_line(facility: Facility, ts_ns: int) -> str:
    tags = {"facility": facility.id, "region": facility.region, "type": facility.type, "timezone": facility.timezone}
    fields: dict[str, FieldValue] = {"name": facility.name, "capacity": int(facility.capacity)}
    if facility.department:
        fields["department"] = facility.department
    if facility.location is not None:
        fields["lat"] = float(facility.location.lat)
        fields["lon"] = float(facility.location.lon)
    return line(MEASUREMENT, tags, fields, ts_ns)


def info_lines(registry: Registry, ts_ns: int | None = None) -> list[str]:
    moment = time.time_ns() if ts_ns is None else ts_ns
    return [info_line(facility, moment) for facility in registry]


def sync(client: InfluxClient, registry: Registry) -> int:
    """Replace facility_info with the registry's facilities; returns how many were written."""
    lines = info_lines(registry)
    client.query(f"DROP SERIES FROM {ident(MEASUREMENT)}")
    client.write("\n".join(lines).encode())
    located = sum(1 for facility in registry if facility.location is not None)
    log.info("wrote %d facilities (%d with a location) to %s", len(lines), located, MEASUREMENT)
    return len(lines)
