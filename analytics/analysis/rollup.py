"""The rollup: one point per facility and local day with that day's summary, so later runs skip the raw data.

InfluxDB 1.x spends most of an analysis on 15-minute buckets of raw readings; a day's summary (figures.Days)
is a handful of sums, so after the first run a 28-day analysis mostly reads small points from here.

Measurement ``analytics_day``: tag facility; time = the local date at 00:00 UTC (a label, not an instant);
two fields: ``key`` and ``packed``, the day's values packed as base64 of little-endian 8-byte words (``_pack``:
the counts of the three lists, NUMBERS — the slot counts and sums, ``active``, the integrity checks' day values
(analytics.integrity.days: CHECK_COLUMNS) — then the hourly peaks and their local hours from midnight, the
fingerprints and the arrivals with their uncertainty). One field instead of forty-odd: InfluxDB 1.x reads a field
per cursor, and a province's daily run reads a million stored days. Peaks and arrivals keep the three decimals
(and the uncertainty the six digits) the format has always kept, so a stored day reads back as it did as text.
``key`` hashes the format version, the facility's time zone and that weekday's
opening hours: when the registry changes them, the
stored day no longer matches and is computed again. Only settled days are stored: days with data once older than
the settle period (late readings are rare after that), days without any data only once older than the ingester's
oldest accepted reading (max_reading_age), since a sensor back online may still upload them. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
from collections.abc import Sequence
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd

from analytics.analysis.calendar import NO_CALENDAR, Calendar
from analytics.analysis.figures import DAY_COLUMNS, Days
from analytics.analysis.schedule import day_changes, week_hours
from analytics.integrity.days import CHECK_COLUMNS, DIGIT_COLUMNS, empty_arrivals, empty_prints
from facmon.core import names
from facmon.core.influxql import ident
from facmon.core.lineproto import FieldValue, column_lines
from sensors.registry import Facility

log = logging.getLogger(__name__)

MEASUREMENT = names.ANALYTICS_DAY
VERSION = 6  # 2: integrity checks; 3: arrivals carry their uncertainty (exact ones from received_ms);
# 4: peak hours and the second-generation checks' day values (integrity.days.SHAPE_COLUMNS); 5: counts_drift's
# day values (integrity.days.DRIFT_COLUMNS); 6: the values packed in one field (FIELD)
FIELD = "packed"
DAY_NS = 86400 * 10**9
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
INT_COLUMNS = ("open_slots", "covered_slots", "occ_slots", "entries_slots", "uses_slots")
FLOAT_COLUMNS = ("occ_sum", "entries_sum", "uses_sum")
CHECK_INT = ("flat_slots", "exits_slots", "round_hits", "round_base", "flat_counted", "step1_n", "step2_n",
             *DIGIT_COLUMNS)
#: The fixed part of a packed day, in order; the INTEGER ones are whole numbers (kept as the format kept them).
NUMBERS = (*INT_COLUMNS, *FLOAT_COLUMNS, *CHECK_COLUMNS, "active")
INTEGER = (*INT_COLUMNS, *CHECK_INT)
_HEADER = 3  # words before NUMBERS: how many peaks, fingerprints and arrivals follow
_DAY_CODES = 1 << 22  # (fac, day) as one number: day ordinals stay below 2**22 until the year 11484


@lru_cache(maxsize=4096)
def _key(timezone: str, spans: tuple[tuple[int, int], ...]) -> str:
    text = f"v{VERSION}|{timezone}|{spans}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def week_keys(facility: Facility) -> tuple[str, ...]:
    """What a stored day must match, Monday to Sunday: format version, time zone, that weekday's hours."""
    return tuple(_key(facility.timezone, spans) for spans in week_hours(facility))


def day_key(facility: Facility, ordinal: int) -> str:
    return week_keys(facility)[date.fromordinal(ordinal).weekday()]


def keys_for(facilities: Sequence[Facility], fac: np.ndarray, day: np.ndarray,
             calendar: Calendar = NO_CALENDAR) -> np.ndarray:
    """day_key for many (facility code, day ordinal) pairs at once; a day whose hours China's calendar changes
    (a holiday, an adjusted working day) is keyed by the hours it had, so a new notice recomputes it."""
    table = np.array([week_keys(f) for f in facilities], dtype=object).reshape(len(facilities), 7)
    keys: np.ndarray = table[fac, (day - 1) % 7]  # ordinal 1 (0001-01-01) was a Monday
    if len(day) and calendar is not NO_CALENDAR:
        first, last = date.fromordinal(int(day.min())), date.fromordinal(int(day.max()))
        for code in np.unique(fac):
            facility = facilities[int(code)]
            for ordinal, hours in day_changes(facility, calendar, first, last):
                keys[(fac == code) & (day == ordinal)] = _key(facility.timezone, hours)
    return keys


def day_ns(ordinal: int) -> int:
    return (ordinal - _EPOCH_ORDINAL) * DAY_NS


def _exact(values: Sequence[float], spec: str) -> np.ndarray:
    """Values as they read back from their text ``f"{v:{spec}}"`` (the rounding the stored format has always had)."""
    return np.array([float(format(v, spec)) for v in values], dtype=np.float64)


def _spans(frame: pd.DataFrame, fac: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``frame``'s rows grouped by (fac, day) in their own order, and each wanted (fac, day)'s [start, end)."""
    code = frame["fac"].to_numpy(np.int64) * _DAY_CODES + frame["day"].to_numpy(np.int64)
    order = np.argsort(code, kind="stable")
    sorted_code = code[order]
    wanted = fac * _DAY_CODES + day
    return order, np.searchsorted(sorted_code, wanted, "left"), np.searchsorted(sorted_code, wanted, "right")


def _pack(days: Days, table: pd.DataFrame) -> list[str]:
    """Each row's day values as one base64 text of little-endian 8-byte words: the counts of peaks, fingerprints
    and arrivals; NUMBERS; the peaks, then their local hours from midnight; the fingerprints (int64); and each
    arrival's hour from midnight, seconds and uncertainty."""
    fac, day = table["fac"].to_numpy(np.int64), table["day"].to_numpy(np.int64)
    numbers = table[list(NUMBERS)].to_numpy(np.float64)
    peaks, prints, arrivals = days.peaks, days.prints, days.arrivals
    p_order, p_start, p_end = _spans(peaks, fac, day)
    p_value = _exact(peaks["peak"].to_numpy()[p_order].tolist(), ".3f")
    p_hour = (peaks["hour"].to_numpy(np.int64) - (peaks["day"].to_numpy(np.int64) - _EPOCH_ORDINAL) * 24)[p_order]
    f_order, f_start, f_end = _spans(prints, fac, day)
    f_value = prints["fp"].to_numpy(np.int64)[f_order]
    a_order, a_start, a_end = _spans(arrivals, fac, day)
    a_hour = (arrivals["hour"].to_numpy(np.int64)
              - (arrivals["day"].to_numpy(np.int64) - _EPOCH_ORDINAL) * 24)[a_order].astype(np.float64)
    a_seconds = _exact(arrivals["arrival"].to_numpy()[a_order].tolist(), ".3f")
    a_uncertainty = np.array([float(f"{u:g}") if u else 0.0 for u in arrivals["uncertainty"].to_numpy()[a_order]],
                             dtype=np.float64)
    a_triples = np.column_stack([a_hour, a_seconds, a_uncertainty]).astype("<f8")
    counts = np.column_stack([p_end - p_start, f_end - f_start, a_end - a_start]).astype("<f8")
    p_value, p_hour = p_value.astype("<f8"), p_hour.astype("<f8")
    f_value, numbers = f_value.astype("<i8"), numbers.astype("<f8")
    texts = []
    for i in range(len(table)):
        ps, pe, fs, fe, as_, ae = p_start[i], p_end[i], f_start[i], f_end[i], a_start[i], a_end[i]
        blob = b"".join((counts[i].tobytes(), numbers[i].tobytes(), p_value[ps:pe].tobytes(),
                         p_hour[ps:pe].tobytes(), f_value[fs:fe].tobytes(), a_triples[as_:ae].tobytes()))
        texts.append(base64.b64encode(blob).decode("ascii"))
    return texts


def rollup_lines(days: Days, facilities: Sequence[Facility], settled_before: int, final_before: int,
                 calendar: Calendar = NO_CALENDAR) -> list[str]:
    """Points for days with data before ``settled_before`` and days without before ``final_before`` (ordinals)."""
    table = days.table.reset_index()
    data = table["covered_slots"] > 0
    table = table[(data & (table["day"] < settled_before)) | (~data & (table["day"] < final_before))]
    if not len(table):
        return []
    checks = days.checks.reindex(pd.MultiIndex.from_arrays([table["fac"], table["day"]]), fill_value=0.0)
    table = table.assign(**{c: checks[c].to_numpy() for c in CHECK_COLUMNS})
    table = table.assign(active=table["active"].to_numpy(bool).astype(np.float64),
                         **{c: np.trunc(table[c].to_numpy(np.float64)) for c in INTEGER})
    finite = np.isfinite(table[list(NUMBERS)].to_numpy(np.float64)).all(axis=1)
    if not finite.all():
        log.warning("%d days with a value that is not a number are not kept (they are computed again)",
                    int((~finite).sum()))
        table = table[finite]
    keys = keys_for(facilities, table["fac"].to_numpy(np.int64), table["day"].to_numpy(np.int64), calendar)
    fields: dict[str, Sequence[FieldValue]] = {"key": keys.tolist(), FIELD: _pack(days, table)}
    ids = [f.id for f in facilities]
    return column_lines(MEASUREMENT, {"facility": [ids[code] for code in table["fac"].to_numpy(np.int64).tolist()]},
                        fields, [day_ns(ordinal) for ordinal in table["day"].to_numpy(np.int64).tolist()])


def statement_fields() -> str:
    """What a rollup query selects: the facility tag, the key and the packed values."""
    return ", ".join(ident(name) for name in ("facility", "key", FIELD))


def parse_rollup(text: str, facilities: Sequence[Facility], wanted: pd.DataFrame) -> Days:
    """Stored days from the CSV of a query of ``statement_fields()``, kept only where ``wanted`` (fac, day rows)
    lists them and the key still matches the registry: ``wanted``'s ``key`` column when it has one (the engine
    computes it with China's calendar), else the facility's weekly hours. A damaged point is left out (its day is
    computed again)."""
    if not text.strip() or not len(wanted):
        return Days.empty()
    raw = pd.read_csv(io.StringIO(text), usecols=lambda c: c in ("time", "facility", "key", FIELD),
                      dtype={"facility": str, "key": str, FIELD: str}, keep_default_na=False)
    if any(c not in raw.columns for c in ("time", "facility", "key", FIELD)):
        return Days.empty()  # written by another version: everything is computed again
    position = {f.id: index for index, f in enumerate(facilities)}
    raw["fac"] = raw["facility"].map(position)
    raw = raw[raw["fac"].notna()]
    raw = raw.assign(fac=raw["fac"].astype(np.int64), day=raw["time"].to_numpy(np.int64) // DAY_NS + _EPOCH_ORDINAL)
    given = "key" in wanted.columns
    raw = raw.merge(wanted[["fac", "day", "key"] if given else ["fac", "day"]].drop_duplicates(),
                    on=["fac", "day"], suffixes=("", "_wanted"))
    if not len(raw):
        return Days.empty()
    expected = (raw["key_wanted"].to_numpy() if given else
                keys_for(facilities, raw["fac"].to_numpy(np.int64), raw["day"].to_numpy(np.int64)))
    raw = raw[raw["key"].to_numpy() == expected]
    blobs = [_decoded(t) for t in raw[FIELD].tolist()]
    words, start, counts, sound = _unpack(blobs)
    if not sound.all():
        raw = raw[sound]
        words, start, counts, sound = _unpack([b for b, ok in zip(blobs, sound, strict=True) if ok])
    if not len(raw):
        return Days.empty()
    fac, day = raw["fac"].to_numpy(np.int64), raw["day"].to_numpy(np.int64)
    ints = words.view("<i8")
    numbers = words[start[:, None] + _HEADER + np.arange(len(NUMBERS))]
    index = pd.MultiIndex.from_arrays([fac, day], names=["fac", "day"])
    values = dict(zip(NUMBERS, numbers.T, strict=True))
    table = pd.DataFrame({c: values[c] != 0 if c == "active" else values[c] for c in DAY_COLUMNS}, index=index)
    checks = pd.DataFrame({c: values[c] for c in CHECK_COLUMNS}, index=index)
    n_peaks, n_prints, n_arrivals = counts.T
    at = start + _HEADER + len(NUMBERS)
    peak_at = _positions(at, n_peaks)
    peak_fac, peak_day = np.repeat(fac, n_peaks), np.repeat(day, n_peaks)
    peaks = pd.DataFrame({"fac": peak_fac, "day": peak_day,
                          "hour": words[_positions(at + n_peaks, n_peaks)].astype(np.int64)
                          + (peak_day - _EPOCH_ORDINAL) * 24,
                          "peak": words[peak_at].astype(np.float64)})
    at = at + 2 * n_peaks
    prints = (pd.DataFrame({"fac": np.repeat(fac, n_prints), "day": np.repeat(day, n_prints),
                            "fp": ints[_positions(at, n_prints)].astype(np.int64)})
              if n_prints.sum() else empty_prints())
    at = at + n_prints
    arrivals = empty_arrivals()
    if n_arrivals.sum():
        first = _positions(at, n_arrivals, step=3)
        arrival_day = np.repeat(day, n_arrivals)
        arrivals = pd.DataFrame({"fac": np.repeat(fac, n_arrivals), "day": arrival_day,
                                 "hour": words[first].astype(np.int64) + (arrival_day - _EPOCH_ORDINAL) * 24,
                                 "arrival": words[first + 1].astype(np.float64),
                                 "uncertainty": words[first + 2].astype(np.float64)})
    return Days(table.sort_index(), peaks, checks.sort_index(), prints, arrivals)


def _decoded(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _unpack(blobs: Sequence[bytes | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All blobs' words, each blob's first word, its three counts, and whether it is sound (its length agrees
    with its counts, its numbers are finite)."""
    lengths = np.array([len(b) if b is not None else -1 for b in blobs], dtype=np.int64)
    sound = (lengths >= (_HEADER + len(NUMBERS)) * 8) & (lengths % 8 == 0)
    sizes = np.where(sound, lengths // 8, 0)
    joined = b"".join(b for b, ok in zip(blobs, sound, strict=True) if ok and b is not None)
    words = np.frombuffer(joined, dtype="<f8")
    start = np.cumsum(sizes) - sizes
    header = np.zeros((len(blobs), _HEADER), dtype=np.float64)
    if sound.any():
        header[sound] = words[start[sound, None] + np.arange(_HEADER)]
    counts = np.where(np.isfinite(header) & (header >= 0) & (header == np.floor(header)), header, -1).astype(np.int64)
    expected = _HEADER + len(NUMBERS) + 2 * counts[:, 0] + counts[:, 1] + 3 * counts[:, 2]
    sound &= (counts >= 0).all(axis=1) & (expected == sizes)
    if sound.any():
        numbers = words[start[sound, None] + _HEADER + np.arange(len(NUMBERS))]
        finite = np.isfinite(numbers).all(axis=1)
        sound[np.flatnonzero(sound)[~finite]] = False
    return words, start, counts, sound


def _positions(first: np.ndarray, counts: np.ndarray, step: int = 1) -> np.ndarray:
    """Word positions of ``counts[i]`` items of ``step`` words each from ``first[i]``, for every i in order."""
    total = int(counts.sum())
    if not total:
        return np.empty(0, np.int64)
    before = np.cumsum(counts) - counts
    positions: np.ndarray = np.repeat(first, counts) + (np.arange(total) - np.repeat(before, counts)) * step
    return positions
