"""The deterministic reading generator behind `facmon simulate`. Pure: no I/O, no clock, no paho.

Everything a virtual sensor publishes is a function of (facility, sensor, profile, seed, local day): each day is
generated on its own from random generators seeded with those values, starting and ending empty (the closing
reading), so a run repeats exactly, and any time window gives the same messages however it is cut. A day is
first measured (`day_readings`, where forged profiles fake their figures: sensors/simulator/forge.py), then delivered
the way the profile's sensor sends (`day_messages`).
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from sensors.contract import MAX_BATCH_ITEMS, RefusalReason
from sensors.registry import Facility
from sensors.simulator.forge import (
    UPLOAD_MINUTE,
    Measured,
    flat_level,
    inflate,
    is_silent,
    late_phase,
    template_weekday,
    uploaded_on,
)
from sensors.simulator.forge_shape import (
    LOCAL_EVENT_AMP,
    class_time,
    consistent,
    copy_shift,
    jittered,
    noisy_copy,
    regional_day,
    stable_group,
    typed,
    weekly_class,
)
from sensors.simulator.plan import SimSensor
from sensors.simulator.profiles import (
    DAY_MINUTES,
    NIGHT_SHAPE,
    NIGHT_START,
    base_weight,
    event_hits,
    mean_weight,
    open_minutes_before,
    poisson,
    rhythm_for,
    week_spans,
)

__all__ = ["HEARTBEAT", "Measured", "Message", "SimSensor", "day_messages", "day_readings", "messages"]

HEARTBEAT = 900  # seconds: the contract's 15-minute heartbeat
_EPOCH_MONDAY = date(1970, 1, 5).toordinal()
_SEQ_EPOCH = 1_600_000_000  # seq = seconds since 2020-09-13: increasing per sensor, and pure
_FUTURE = 4_102_444_800  # 2100-01-01: a ts every ingester finds in the future
BAD_KINDS = (RefusalReason.WRONG_TYPE, RefusalReason.UNKNOWN_FIELD, RefusalReason.OUT_OF_RANGE,
             RefusalReason.TS_IN_FUTURE, RefusalReason.BAD_JSON)


class Message(NamedTuple):
    """One MQTT message: readings (one, or a store-and-forward array), a status, or a bad payload."""

    send_at: int  # epoch seconds: when a real sensor would publish it
    facility: str
    sensor: str
    kind: str  # "reading", "status" or "bad"
    readings: tuple[dict[str, Any], ...] = ()
    times: tuple[int, ...] = ()  # each reading's ts in epoch seconds
    batch: bool = False
    payload: bytes = b""  # status and bad messages
    reason: str | None = None  # the refusal a bad message should get
    late: bool = False  # late_backfill's upload of a silent stretch; a backfill sends these after all others

    def encode(self) -> bytes:
        if self.kind != "reading":
            return self.payload
        return orjson.dumps(list(self.readings) if self.batch else self.readings[0])


def _local_epoch(day: date, minute: int, facility: Facility) -> int:
    wall = datetime(day.year, day.month, day.day, tzinfo=facility.zone) + timedelta(minutes=minute)
    return int(wall.timestamp())


def _runs(facility: Facility, weekday: int) -> list[tuple[int, int]]:
    """The day's opening periods in minutes from local midnight, touching ones merged."""
    runs: list[tuple[int, int]] = []
    for span in facility.hours_on(weekday):
        start = span.start.hour * 60 + span.start.minute
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], start + span.minutes)
        else:
            runs.append((start, start + span.minutes))
    return runs


def _night_runs(open_runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """19:00-24:00 minus the opening periods: when a night_only facility is used."""
    free, cursor = [], NIGHT_START
    for start, end in sorted(open_runs):
        if start > cursor:
            free.append((cursor, min(start, DAY_MINUTES)))
        cursor = max(cursor, end)
    if cursor < DAY_MINUTES:
        free.append((cursor, DAY_MINUTES))
    return [(s, e) for s, e in free if e > s]


def _ts_writer(sensor: SimSensor, seed: int) -> Callable[[int], str | int]:
    """Sensors differ in how they write ts (RFC 3339 with offset, epoch s, epoch ms), as real fleets do."""
    style = zlib.crc32(f"{seed}:{sensor.facility.id}:{sensor.sensor}".encode()) % 3
    if style == 0:
        zone = sensor.facility.zone
        return lambda epoch: datetime.fromtimestamp(epoch, zone).isoformat()
    return (lambda epoch: epoch) if style == 1 else (lambda epoch: epoch * 1000)


@lru_cache(maxsize=16384)
def day_readings(sensor: SimSensor, seed: int, ordinal: int, interval: int = HEARTBEAT) -> tuple[Measured, ...]:
    """What the sensor records for the local day `ordinal`, or what the forger makes up; sorted by ts."""
    facility, profile = sensor.facility, sensor.profile
    if facility.is_closure_day(date.fromordinal(ordinal)) and profile.forge != "impossible":
        return ()
    if profile.outage_days and is_silent(ordinal, _phase(seed, facility.id, profile.outage_period_days),
                                         profile.outage_days, profile.outage_period_days):
        return ()  # the sensor was down: nothing recorded, so nothing is sent later either
    if profile.forge == "clone":
        if sensor.source is None:
            raise ValueError(f"{facility.id}: clone_of needs the facility whose readings it republishes")
        return day_readings(sensor.source, seed, ordinal, interval)  # verbatim: same ts, same counts
    rhythm = rhythm_for(facility.type)
    rng = random.Random(f"{seed}:{facility.id}:{sensor.sensor}:{ordinal}:forge")
    turnover = rhythm.turnover * interval / HEARTBEAT
    if profile.forge == "noisy_copy":
        if sensor.source is None:
            raise ValueError(f"{facility.id}: forged_noisy_copy needs the facility whose readings it copies")
        shift, factor = copy_shift(seed, facility.id)
        source = day_readings(sensor.source, seed, ordinal, interval)
        factor *= sensor.capacity / max(1, sensor.source.capacity)
        return tuple(noisy_copy(source, shift, factor, rng, turnover, rhythm.uses_per_entry))
    readings = _measure(sensor, seed, ordinal, interval)
    if profile.forge == "jittered":
        readings = jittered(readings, sensor.capacity, rng, turnover, rhythm.uses_per_entry)
    elif profile.forge == "digits":
        readings = typed(readings, rng, turnover, rhythm.uses_per_entry)
    elif profile.stable_group and readings:
        opened = [m for m in readings if not m.closing]
        values = stable_group(len(opened), round(profile.rate * sensor.capacity), rng)
        it = iter(values)
        readings = consistent(readings, [0 if m.closing else next(it) for m in readings], rng, 0.0,
                              rhythm.uses_per_entry)
    elif profile.class_share and readings:
        days = [(w, *run) for w in range(7) for run in _runs(facility, w)]
        weekday, start = class_time(seed, facility.id, days)
        if weekday == date.fromordinal(ordinal).weekday():
            readings = weekly_class(readings, start, round(profile.class_share * sensor.capacity), rng, turnover,
                                    rhythm.uses_per_entry)
    if profile.forge == "impossible":
        readings = inflate(readings, sensor.capacity, max(1, HEARTBEAT // interval), rng)
    return tuple(readings)


@lru_cache(maxsize=16384)
def day_messages(sensor: SimSensor, seed: int, ordinal: int, interval: int = HEARTBEAT,
                 bad_rate: float = 0.0) -> tuple[Message, ...]:
    """Everything the sensor publishes for the local day `ordinal` (sorted by send time)."""
    readings = list(day_readings(sensor, seed, ordinal, interval))
    profile = sensor.profile
    if profile.forge != "late":
        return _deliver(sensor, seed, ordinal, interval, bad_rate, readings)
    phase = late_phase(seed, sensor.facility.id, profile.late_period_days)
    if is_silent(ordinal, phase, profile.late_days, profile.late_period_days):
        readings = []
    out = [*_deliver(sensor, seed, ordinal, interval, bad_rate, readings), *_upload(sensor, seed, ordinal, interval)]
    return tuple(sorted(out, key=lambda m: m.send_at))


def _upload(sensor: SimSensor, seed: int, ordinal: int, interval: int) -> list[Message]:
    """late_backfill, live: the silent stretch that ended two days ago, sent at once in office hours."""
    profile = sensor.profile
    phase = late_phase(seed, sensor.facility.id, profile.late_period_days)
    days = uploaded_on(ordinal, phase, profile.late_days, profile.late_period_days)
    held = [item for day in days for item in day_readings(sensor, seed, day, interval)]
    if not held:
        return []
    rng = random.Random(f"{seed}:{sensor.facility.id}:{sensor.sensor}:{ordinal}:upload")
    at = _local_epoch(date.fromordinal(ordinal), UPLOAD_MINUTE + rng.randrange(60), sensor.facility)
    return _bulk(sensor, seed, held, at)


def _bulk(sensor: SimSensor, seed: int, held: list[Measured], at: int) -> list[Message]:
    """Readings sent together long after their ts, as arrays of at most MAX_BATCH_ITEMS."""
    ts_value = _ts_writer(sensor, seed)
    return [Message(at, sensor.facility.id, sensor.sensor, "reading", _payloads(chunk, ts_value),
                    tuple(m.epoch for m in chunk), batch=True, late=True)
            for chunk in (held[k : k + MAX_BATCH_ITEMS] for k in range(0, len(held), MAX_BATCH_ITEMS))]


def _payloads(items: list[Measured], ts_value: Callable[[int], str | int]) -> tuple[dict[str, Any], ...]:
    return tuple({"ts": ts_value(m.epoch), **m.reading, "seq": m.epoch - _SEQ_EPOCH} for m in items)


def _measure(sensor: SimSensor, seed: int, ordinal: int, interval: int) -> list[Measured]:
    """The day as the sensor counts it, or as forged_flat / forged_copy script it."""
    facility, profile = sensor.facility, sensor.profile
    day = date.fromordinal(ordinal)
    weekday, rhythm = day.weekday(), rhythm_for(facility.type)
    copy = profile.forge == "copy"  # every day with the same hours replays one generated day
    weekly = profile.forge == "jittered"  # every Monday replays one generated Monday (then jittered), and so on
    key: int | str = "copy" if copy else f"week:{weekday}" if weekly else ordinal
    shape = template_weekday(facility, weekday) if copy else weekday
    flat = flat_level(sensor.capacity, profile.rate, seed, facility.id, sensor.sensor) \
        if profile.forge == "flat" else None
    fac_rng = random.Random(f"{seed}:{facility.id}:{key}")
    rng = random.Random(f"{seed}:{facility.id}:{sensor.sensor}:{key}")
    day_factor = fac_rng.uniform(1 - sensor.noise, 1 + sensor.noise)
    happening = {e for e in rhythm.events if fac_rng.random() < e.chance or copy or weekly}  # a good day
    local, local_amp = (0, 0), 0.0  # hours of a local event the region shares, and how much it brings here
    if profile.regional:  # neighbours share the weather, holidays and local events, not their visitors
        shared, draw, local = regional_day(seed, facility.region, key, profile.regional)
        day_factor = shared * fac_rng.uniform(0.92, 1.08)
        happening = {e for e in rhythm.events if draw < e.chance}
        lag = fac_rng.randint(-1, 1)  # its crowd reaches each facility at its own hour, in its own numbers
        local, local_amp = (local[0] + lag, local[1] + lag), LOCAL_EVENT_AMP * fac_rng.uniform(0.2, 1.0)
    open_runs = _runs(facility, weekday)
    rate = profile.rate
    if profile.idle_every and (_open_day_index(facility, ordinal) + _phase(seed, facility.id, profile.idle_every)
                               ) % profile.idle_every:
        rate = 0.0
    level = rate * sensor.capacity * day_factor / mean_weight(facility)
    if profile.full_house and fac_rng.random() < 0.4:  # an exam day or an event: more want in than fit
        level *= 2.2
    runs = sorted([(s, e, False) for s, e in open_runs] + [(s, e, True) for s, e in
                   (_night_runs(open_runs) if profile.night_rate else ())])
    step_min = interval / 60
    keep = 0.5 ** (interval / HEARTBEAT)  # how much of the last occupancy carries over (people stay)
    if profile.forge == "memoryless":
        keep = 0.0  # drawn afresh each quarter hour around the rhythm, as if no one stayed
    turnover = rhythm.turnover * interval / HEARTBEAT
    cap = int(sensor.capacity * profile.over_capacity)
    jitter = min(45, interval // 4)
    readings: list[Measured] = []
    for start, end, night in runs:
        first = _local_epoch(day, start, facility)
        occupancy, k = 0, 0
        while start * 60 + k * interval < end * 60:
            minute = start + k * step_min
            if night:
                lam = profile.night_rate * sensor.capacity * day_factor * NIGHT_SHAPE[int(minute // 60) % 24]
            elif profile.night_rate:
                lam = 0.0
            else:
                weight = base_weight(rhythm, shape, int(minute))
                if happening:
                    weight += sum(e.amp for e in event_hits(rhythm, shape, int(minute)) if e in happening)
                if local[0] <= minute // 60 % 24 < local[1]:
                    weight += local_amp
                lam = level * weight
            new = poisson(rng, keep * occupancy + (1 - keep) * lam)
            if new >= cap and profile.full_house:  # full: held at capacity by the door, people still come and go
                new = cap
            elif new >= cap:  # full: the count hovers just below the limit, as people come and go, never flat
                new = max(0, cap - poisson(rng, max(1.0, cap * 0.03)))
            if flat is not None:
                new = flat  # the scripted figure, whatever the counters say
            epoch = first + k * interval + 1 + int(rng.random() * jitter)  # a few seconds after the quarter
            readings.append(Measured(epoch, int(minute),
                                     _reading(rng, rhythm.uses_per_entry, occupancy, new, turnover)))
            occupancy, k = new, k + 1
        closing = _reading(rng, rhythm.uses_per_entry, occupancy, 0, 0.0)  # everyone has left at closing time
        readings.append(Measured(first + (end - start) * 60, end, closing, closing=True))
    return readings


def _reading(rng: random.Random, uses_per_entry: float, before: int, after: int, turnover: float) -> dict[str, Any]:
    """Counts since the previous reading, consistent with occupancy: after = before + entries - exits."""
    churn = poisson(rng, before * turnover)
    entries = max(0, after - before) + churn
    reading = {"occupancy": after, "entries": entries, "exits": max(0, before - after) + churn}
    if uses_per_entry:
        reading["uses"] = poisson(rng, entries * uses_per_entry)
    return reading


def _phase(seed: int, facility_id: str, period: int) -> int:
    return zlib.crc32(f"{seed}:{facility_id}:phase".encode()) % max(1, period)


def _open_day_index(facility: Facility, ordinal: int) -> int:
    """How many days with opening hours there were since an epoch Monday: idle days are counted on it."""
    open_days = [bool(facility.hours_on(d)) for d in range(7)]
    weeks, rest = divmod(ordinal - _EPOCH_MONDAY, 7)
    return weeks * sum(open_days) + sum(open_days[:rest])


def _deliver(sensor: SimSensor, seed: int, ordinal: int, interval: int, bad_rate: float,
             readings: list[Measured]) -> tuple[Message, ...]:
    """Turn the day's readings into messages the way the profile's sensor sends them (or fails to)."""
    facility, profile = sensor.facility, sensor.profile
    day_minute = (ordinal - _EPOCH_MONDAY) * DAY_MINUTES
    rng = random.Random(f"{seed}:{facility.id}:{sensor.sensor}:{ordinal}:send")
    bad_rng = random.Random(f"{seed}:{facility.id}:{sensor.sensor}:{ordinal}:bad")  # --bad-rate changes nothing else
    out: list[Message] = []
    ts_value = _ts_writer(sensor, seed)

    def status(at: int, online: bool) -> None:
        out.append(Message(at, facility.id, sensor.sensor, "status", payload=b"online" if online else b"offline"))

    def send(at: int, items: list[Measured], batch: bool = False) -> None:
        full = _payloads(items, ts_value)
        out.append(Message(at, facility.id, sensor.sensor, "reading", full, tuple(m.epoch for m in items), batch))
        if bad_rate and bad_rng.random() < bad_rate:
            out.append(_bad(bad_rng, facility.id, sensor.sensor, at, full[-1]))

    if profile.up_share < 1:
        spans, weekly = week_spans(facility), facility.weekly_open_minutes
        period = max(1, round(weekly * profile.silence_period_days / 7))
        phase, up_len = _phase(seed, facility.id, period), round(period * profile.up_share)

        def up(minute: int) -> bool:
            return (open_minutes_before(spans, weekly, day_minute + minute) + phase) % period < up_len

        for item in readings:
            now, before = up(item.minute), up(item.minute - interval // 60)
            if now != before:
                status(item.epoch, now)
            if now:
                send(item.epoch, [item])
    elif profile.gaps:
        index = 0
        for start, length in _gaps(rng, len(readings), interval):
            for item in readings[index:start]:
                send(item.epoch, [item])
            status(readings[start].epoch, False)
            lost = rng.random() < profile.lost_gap_share  # the device rebooted and lost its buffer
            resume = start + length
            if resume < len(readings):
                at, index = readings[resume].epoch, resume + 1
                held = [readings[resume]] if lost else readings[start : resume + 1]
            else:
                at, index = readings[-1].epoch + rng.randint(20, 120) * 60, len(readings)
                held = [] if lost else readings[start:]
            status(at, True)
            for chunk in range(0, len(held), MAX_BATCH_ITEMS):
                send(at, held[chunk : chunk + MAX_BATCH_ITEMS], batch=not lost)
        for item in readings[index:]:
            send(item.epoch, [item])
    elif profile.upload_hours:  # held, then uploaded as one array a few minutes after each window of hours
        period = profile.upload_hours * 3600
        windows: dict[int, list[Measured]] = {}
        for item in readings:
            windows.setdefault(item.epoch // period, []).append(item)
        for window, held in windows.items():
            at = (window + 1) * period + rng.randrange(60, 600)
            for chunk in range(0, len(held), MAX_BATCH_ITEMS):
                send(at, held[chunk : chunk + MAX_BATCH_ITEMS], batch=True)
    else:
        for item in readings:
            send(item.epoch, [item])
    return tuple(sorted(out, key=lambda m: m.send_at))


def _gaps(rng: random.Random, count: int, interval: int) -> list[tuple[int, int]]:
    """Non-overlapping (first index, length) gaps in a day's readings: 0 to 2, each about 1 to 6 hours."""
    if count < 8:
        return []
    per_slot = max(1, HEARTBEAT // interval)
    wanted = rng.choice((0, 1, 1, 2))
    gaps = sorted((rng.randrange(count - 4), rng.randint(4, 24) * per_slot) for _ in range(wanted))
    merged: list[tuple[int, int]] = []
    for start, length in gaps:
        if merged and start <= merged[-1][0] + merged[-1][1]:
            continue
        merged.append((start, min(length, count - start)))
    return merged


def _bad(rng: random.Random, facility: str, sensor: str, at: int, reading: dict[str, Any]) -> Message:
    """A message the ingester must refuse for exactly one reason."""
    reason = rng.choice(BAD_KINDS)
    good = {key: value for key, value in reading.items() if key in ("ts", "occupancy", "entries", "exits")}
    if reason is RefusalReason.BAD_JSON:
        payload = orjson.dumps(good)[:-1]  # the closing brace got lost
    else:
        bad = {
            RefusalReason.WRONG_TYPE: {**good, "occupancy": str(good["occupancy"])},
            RefusalReason.UNKNOWN_FIELD: {**good, "temperature": 21},
            RefusalReason.OUT_OF_RANGE: {**good, "entries": -rng.randint(1, 9)},
            RefusalReason.TS_IN_FUTURE: {**good, "ts": _FUTURE + at % 86400},
        }[reason]
        payload = orjson.dumps(bad)
    return Message(at, facility, sensor, "bad", payload=payload, reason=reason.value)


def messages(sensor: SimSensor, seed: int, start: int, end: int, interval: int = HEARTBEAT,
             bad_rate: float = 0.0, *, measured_from: int | None = None,
             upload_at: int | None = None) -> list[Message]:
    """The sensor's messages sent in [start, end) (epoch seconds); readings measured before `measured_from`
    (default `start`: a live run passes its own start, not the current window's) are left out.

    `upload_at` (a backfill's end): late_backfill's silent days in the window are all uploaded then, after every
    other message, instead of when a live run would send them.
    """
    since = start if measured_from is None else measured_from
    zone = sensor.facility.zone
    first = datetime.fromtimestamp(start, zone).date().toordinal() - 1  # late batches of the day before
    last = datetime.fromtimestamp(end, zone).date().toordinal()
    out = []
    for ordinal in range(first, last + 1):
        for message in day_messages(sensor, seed, ordinal, interval, bad_rate):
            if not start <= message.send_at < end or (message.late and upload_at is not None):
                continue
            if message.times and message.times[0] < since:
                kept = [(r, t) for r, t in zip(message.readings, message.times, strict=True) if t >= since]
                if not kept:
                    continue
                message = message._replace(readings=tuple(r for r, _ in kept), times=tuple(t for _, t in kept))
            out.append(message)
    if upload_at is not None and sensor.profile.forge == "late":
        out += _bulk(sensor, seed, _silent_readings(sensor, seed, first, last, interval, since, end), upload_at)
    out.sort(key=lambda m: m.send_at)
    return out


def _silent_readings(sensor: SimSensor, seed: int, first: int, last: int, interval: int, since: int,
                     end: int) -> list[Measured]:
    """late_backfill: the readings of its silent days measured in [since, end), in ts order."""
    profile = sensor.profile
    phase = late_phase(seed, sensor.facility.id, profile.late_period_days)
    return [item for ordinal in range(first, last + 1)
            if is_silent(ordinal, phase, profile.late_days, profile.late_period_days)
            for item in day_readings(sensor, seed, ordinal, interval) if since <= item.epoch < end]
