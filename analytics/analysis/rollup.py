"""The rollup: one point per facility and local day with that day's summary, so later runs skip the raw data.

InfluxDB 1.x spends most of an analysis on 15-minute buckets of raw readings; a day's summary (figures.Days)
is a handful of sums, so after the first run a 28-day analysis mostly reads small points from here.

Measurement ``analytics_day``: tag facility; time = the local date at 00:00 UTC (a label, not an instant);
fields open_slots, covered_slots, occ_slots, entries_slots, uses_slots (int), occ_sum, entries_sum, uses_sum
(float), active (bool), peaks (hourly peaks, comma-separated), peak_hours (their local hours from midnight),
the integrity checks' day values (analytics.integrity.days: CHECK_COLUMNS, ``prints`` as hex fingerprints and
``arrivals`` as hour:seconds pairs, hour:seconds:uncertainty where the arrival was estimated, both
comma-separated) and key. ``key`` hashes the format version, the facility's time zone and that weekday's
opening hours: when the registry changes them, the
stored day no longer matches and is computed again. Only settled days are stored: days with data once older than
the settle period (late readings are rare after that), days without any data only once older than the ingester's
oldest accepted reading (max_reading_age), since a sensor back online may still upload them. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import io
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
from facmon.core.lineproto import FieldValue, column_lines
from sensors.registry import Facility

MEASUREMENT = names.ANALYTICS_DAY
VERSION = 5  # 2: integrity checks; 3: arrivals carry their uncertainty (exact ones from received_ms);
# 4: peak hours and the second-generation checks' day values (integrity.days.SHAPE_COLUMNS); 5: counts_drift's
# day values (integrity.days.DRIFT_COLUMNS)
DAY_NS = 86400 * 10**9
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
INT_COLUMNS = ("open_slots", "covered_slots", "occ_slots", "entries_slots", "uses_slots")
FLOAT_COLUMNS = ("occ_sum", "entries_sum", "uses_sum")
CHECK_INT = ("flat_slots", "exits_slots", "round_hits", "round_base", "flat_counted", "step1_n", "step2_n",
             *DIGIT_COLUMNS)
CHECK_FLOAT = tuple(c for c in CHECK_COLUMNS if c not in CHECK_INT)


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


def _peaks_text(peaks: pd.DataFrame) -> tuple[dict[tuple[int, int], str], dict[tuple[int, int], str]]:
    """Each day's hourly peaks, and their local hours from the day's midnight (past 23 after midnight)."""
    if not len(peaks):
        return {}, {}
    text = peaks["peak"].map(lambda v: f"{v:.3f}".rstrip("0").rstrip("."))
    keys = [peaks["fac"], peaks["day"]]
    joined = text.groupby(keys, sort=False).agg(",".join)
    hours = pd.Series((peaks["hour"].to_numpy(np.int64) - (peaks["day"].to_numpy(np.int64) - _EPOCH_ORDINAL) * 24)
                      .astype(str), index=peaks.index).groupby(keys, sort=False).agg(",".join)
    return ({(int(fac), int(day)): value for (fac, day), value in joined.items()},
            {(int(fac), int(day)): value for (fac, day), value in hours.items()})


def _prints_text(prints: pd.DataFrame) -> dict[tuple[int, int], str]:
    if not len(prints):
        return {}
    text = pd.Series([f"{v:016x}" for v in prints["fp"].to_numpy(np.int64).view(np.uint64)], index=prints.index)
    joined = text.groupby([prints["fac"], prints["day"]], sort=False).agg(",".join)
    return {(int(fac), int(day)): value for (fac, day), value in joined.items()}


def _arrivals_text(arrivals: pd.DataFrame) -> dict[tuple[int, int], str]:
    if not len(arrivals):
        return {}
    base = (arrivals["day"].to_numpy(np.int64) - _EPOCH_ORDINAL) * 24
    pairs = [f"{h}:{a:.3f}:{u:g}" if u else f"{h}:{a:.3f}"
             for h, a, u in zip((arrivals["hour"].to_numpy(np.int64) - base).tolist(),
                                arrivals["arrival"].to_numpy().tolist(), arrivals["uncertainty"].to_numpy().tolist(),
                                strict=True)]
    joined = pd.Series(pairs, index=arrivals.index).groupby([arrivals["fac"], arrivals["day"]], sort=False).agg(
        ",".join)
    return {(int(fac), int(day)): value for (fac, day), value in joined.items()}


def rollup_lines(days: Days, facilities: Sequence[Facility], settled_before: int, final_before: int,
                 calendar: Calendar = NO_CALENDAR) -> list[str]:
    """Points for days with data before ``settled_before`` and days without before ``final_before`` (ordinals)."""
    table = days.table.reset_index()
    data = table["covered_slots"] > 0
    table = table[(data & (table["day"] < settled_before)) | (~data & (table["day"] < final_before))]
    if not len(table):
        return []
    peaks, peak_hours = _peaks_text(days.peaks)
    prints, arrivals = _prints_text(days.prints), _arrivals_text(days.arrivals)
    checks = days.checks.reindex(pd.MultiIndex.from_arrays([table["fac"], table["day"]]), fill_value=0.0)
    table = table.assign(**{c: checks[c].to_numpy() for c in CHECK_COLUMNS})
    fac, day = table["fac"].to_numpy(np.int64), table["day"].to_numpy(np.int64)
    keys = keys_for(facilities, fac, day, calendar)
    pairs = list(zip(fac.tolist(), day.tolist(), strict=True))
    fields: dict[str, Sequence[FieldValue]] = {name: [int(v) for v in table[name].tolist()] for name in INT_COLUMNS}
    fields.update({name: [float(v) for v in table[name].tolist()] for name in FLOAT_COLUMNS})
    fields.update({name: [int(v) for v in table[name].tolist()] for name in CHECK_INT})
    fields.update({name: [float(v) for v in table[name].tolist()] for name in CHECK_FLOAT})
    fields["active"] = [bool(v) for v in table["active"].tolist()]
    for name, texts in (("peaks", peaks), ("peak_hours", peak_hours), ("prints", prints), ("arrivals", arrivals)):
        fields[name] = [texts.get(pair, "") for pair in pairs]
    fields["key"] = keys.tolist()
    ids = [f.id for f in facilities]
    return column_lines(MEASUREMENT, {"facility": [ids[code] for code, _ in pairs]}, fields,
                        [day_ns(ordinal) for _, ordinal in pairs])


def parse_rollup(text: str, facilities: Sequence[Facility], wanted: pd.DataFrame) -> Days:
    """Stored days from the CSV of ``SELECT * FROM analytics_day``, kept only where ``wanted`` (fac, day rows)
    lists them and the key still matches the registry: ``wanted``'s ``key`` column when it has one (the engine
    computes it with China's calendar), else the facility's weekly hours."""
    if not text.strip() or not len(wanted):
        return Days.empty()
    numbers = (*INT_COLUMNS, *FLOAT_COLUMNS, *CHECK_COLUMNS)
    raw = pd.read_csv(io.StringIO(text), dtype={"facility": str, "key": str, "peaks": str, "peak_hours": str,
                                                "prints": str,
                                                "arrivals": str},
                      keep_default_na=False, na_values={c: [""] for c in numbers})
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
    if any(c not in raw.columns for c in numbers):
        return Days.empty()  # written by another version: everything is computed again
    if raw[list(numbers)].isna().any().any():
        raw = raw.dropna(subset=list(numbers))  # a damaged point is computed again
    raw = raw.assign(active=raw["active"].astype(str).str.lower() == "true")
    table = raw.set_index(["fac", "day"])[list(DAY_COLUMNS)].astype(
        {c: np.float64 for c in DAY_COLUMNS if c != "active"}
    )
    fac, day, text = _items(raw, "peaks")
    values = np.array(text.split(","), dtype=np.float64) if text else np.empty(0, np.float64)
    _, _, hours_text = _items(raw, "peak_hours")
    of_day = np.array(hours_text.split(","), dtype=np.int64) if hours_text else np.empty(0, np.int64)
    if len(of_day) != len(values):
        return Days.empty()  # damaged: everything is computed again
    peaks = pd.DataFrame({"fac": fac, "day": day, "hour": of_day + (day - _EPOCH_ORDINAL) * 24, "peak": values})
    checks = raw.set_index(["fac", "day"])[list(CHECK_COLUMNS)].astype(np.float64)
    return Days(table.sort_index(), peaks, checks.sort_index(), _parse_prints(raw), _parse_arrivals(raw))


def _items(raw: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Every comma-separated item of ``column`` as one comma-joined string, with each item's fac and day.

    One join and one split for the whole answer: per-row string operations cost more than the rest of the run.
    """
    texts = raw[column].fillna("").tolist()
    counts = np.array([t.count(",") + 1 if t else 0 for t in texts], dtype=np.int64)
    fac = np.repeat(raw["fac"].to_numpy(np.int64), counts)
    day = np.repeat(raw["day"].to_numpy(np.int64), counts)
    return fac, day, ",".join(t for t in texts if t)


def _parse_prints(raw: pd.DataFrame) -> pd.DataFrame:
    fac, day, text = _items(raw, "prints")
    if not text:
        return empty_prints()
    fp = np.frombuffer(bytes.fromhex(text.replace(",", "")), dtype=">u8").astype(np.uint64).view(np.int64)
    return pd.DataFrame({"fac": fac, "day": day, "fp": fp})


def _parse_arrivals(raw: pd.DataFrame) -> pd.DataFrame:
    fac, day, text = _items(raw, "arrivals")
    if not text:
        return empty_arrivals()
    if text.count(":") == len(fac):  # hour:seconds everywhere: exact arrivals, no uncertainty
        pairs = np.array(text.replace(":", ",").split(","), dtype=np.float64).reshape(-1, 2)
        hour_of_day, arrival, uncertainty = pairs[:, 0], pairs[:, 1], np.zeros(len(fac))
    else:
        parts = [item.split(":") for item in text.split(",")]
        hour_of_day = np.array([p[0] for p in parts], dtype=np.float64)
        arrival = np.array([p[1] for p in parts], dtype=np.float64)
        uncertainty = np.array([p[2] if len(p) > 2 else "0" for p in parts], dtype=np.float64)
    hour = hour_of_day.astype(np.int64) + (day - _EPOCH_ORDINAL) * 24
    return pd.DataFrame({"fac": fac, "day": day, "hour": hour, "arrival": arrival, "uncertainty": uncertainty})
