"""A province's worth of data for bench/analytics.py: the sample county's facilities repeated, with the simulator's
15-minute readings.

Replica ``r`` of the sample county (facmon/resources/county.yaml, 71 facilities) keeps every facility's type,
capacity, opening hours, closures, holiday policy and simulator profile, with ids ``<id>-r<NNNN>`` and regions
``zhejiang/c<NNN>/<township>`` (so a county of the province per replica). The county's nine forged profiles stay
forged in every FORGED_EVERY-th replica only, and become ``normal`` elsewhere: a province has a few forgers, not
one in eight. The readings are what `facmon simulate` would publish (sensors.simulator.simulate.messages, every
15 minutes, late uploads included), encoded by the ingester's own ReadingEncoder with the receive time of each
message, so the analysis reads what an ingester would have written.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from facmon.core.yamlload import REGISTRY, load
from facmon.resources import sample_county
from ingest.points import ReadingEncoder
from ingest.service import facility_tags
from sensors.contract import Reading
from sensors.registry import parse_registry
from sensors.simulator.plan import plan
from sensors.simulator.simulate import messages

COUNTY_SIZE = 71
FORGED_EVERY = 10
SEED = 1
#: the county's fakes; in the other replicas they are honest
FORGED = frozenset({"forged_flat", "forged_copy", "clone_of", "impossible", "late_backfill", "forged_noisy_copy",
                    "forged_memoryless", "forged_jittered_days", "forged_digits"})


def county_facilities() -> list[dict[str, Any]]:
    data = load(Path(sample_county()).read_text(encoding="utf-8"), REGISTRY)
    assert isinstance(data, dict)
    return list(data["facilities"])


def province_registry(count: int) -> dict[str, Any]:
    """The first ``count`` facilities of the repeated county, as registry YAML data."""
    county = county_facilities()
    facilities = []
    for index in range(count):
        replica, position = divmod(index, len(county))
        source = county[position]
        item = dict(source)
        item["id"] = f"{source['id']}-r{replica:04d}"
        township = str(source["region"]).rsplit("/", 1)[-1]
        item["region"] = f"zhejiang/c{replica:03d}/{township}"
        item["name"] = f"{source['name']}（{replica:04d}）"
        simulation = dict(source.get("simulation") or {})
        if simulation.get("profile") in FORGED and replica % FORGED_EVERY:
            simulation = {k: v for k, v in simulation.items() if k not in ("profile", "source")}
            simulation["profile"] = "normal"
        elif "source" in simulation:
            simulation["source"] = f"{simulation['source']}-r{replica:04d}"
        if simulation:
            item["simulation"] = simulation
        facilities.append(item)
    # A clone's source must be in the registry too: drop clones whose source fell past ``count``.
    ids = {f["id"] for f in facilities}
    for item in facilities:
        source_id = (item.get("simulation") or {}).get("source")
        if source_id is not None and source_id not in ids:
            item["simulation"] = {"profile": "normal"}
    return {"facilities": facilities}


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Writes shared opening hours out in full: the registry loader refuses documents full of aliases."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def write_province_registry(path: Path, count: int) -> None:
    text = yaml.dump(province_registry(count), Dumper=_Dumper, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")


# The worker processes' state, set by _start.
_DATA: list[dict[str, Any]] = []
_SPAN: tuple[int, int] = (0, 0)


def _start(count: int, start: int, end: int) -> None:
    global _SPAN
    _DATA[:] = province_registry(count)["facilities"]
    _SPAN = (start, end)


def _replica_lines(replica: int) -> tuple[int, bytes]:
    """Line protocol of one replica's readings sent in the span, each received a moment after it was sent."""
    registry = parse_registry({"facilities": _DATA[replica * COUNTY_SIZE : (replica + 1) * COUNTY_SIZE]})
    sensors, _ = plan(registry)
    encoder = ReadingEncoder(facility_tags(registry))
    capacity = {f.id: f.capacity for f in registry}
    lines = []
    start, end = _SPAN
    for sensor in sensors:
        for message in messages(sensor, SEED, start, end):
            if message.kind != "reading":
                continue
            # a few hundred milliseconds on the way, the same for a message every time the bench runs
            received_ns = message.send_at * 1_000_000_000 + (zlib.crc32(
                f"{message.facility}{message.sensor}{message.send_at}".encode()) % 900 + 50) * 1_000_000
            for item, ts in zip(message.readings, message.times, strict=True):
                occupancy = item.get("occupancy")
                lines.append(encoder.reading(Reading(
                    message.facility, message.sensor, ts * 1_000_000_000, received_ns, occupancy,
                    item.get("entries"), item.get("exits"), item.get("uses"), item.get("seq"),
                    occupancy is not None and occupancy > capacity[message.facility])))
    return len(lines), "\n".join(lines).encode()


def province_readings(count: int, first: date, end: date,
                      workers: int = 2) -> Iterator[tuple[int, bytes]]:
    """(lines, body) per replica, for the messages sent from ``first`` to ``end`` (UTC midnights), in two
    processes."""
    start_s = int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp())
    end_s = int(datetime(end.year, end.month, end.day, tzinfo=UTC).timestamp())
    replicas = range((count + COUNTY_SIZE - 1) // COUNTY_SIZE)
    with ProcessPoolExecutor(max_workers=workers, initializer=_start,
                             initargs=(count, start_s, end_s)) as pool:
        yield from pool.map(_replica_lines, replicas, chunksize=1)

