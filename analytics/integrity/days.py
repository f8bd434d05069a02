"""Per facility and local day, what the data-integrity detectors need, from the 15-minute per-sensor aggregates.

Computed in the same pass as the day summaries (figures.day_summaries) and kept with them in the rollup, so a
warm run judges integrity without touching the raw readings again. Only opening-hour slots of open days count:
the night cleaners and closure days are left out here (closure-day activity is ``closed_activity``'s business).

Per (fac, day), CHECK_COLUMNS:
* ``flat_slots``, ``flat_value``: the longest run of consecutive slots in which one sensor's mean occupancy stays
  the same non-zero value, and that value;
* ``unexplained``: people by which occupancy rose beyond the entries of the two slots (or fell beyond their
  exits), summed over each sensor's consecutive slots; ``moves``: entries plus exits of those sensors;
* ``exits_sum``, ``exits_slots``: the day's exits and the slots that reported them;
* ``round_hits``, ``round_base``: whole-number slot occupancies of at least 10, and those that are multiples of 5.

Besides: ``prints`` (fac, day, fp), a fingerprint per sensor of the day's (slot, occupancy) pairs for sensors
whose day varies, for the clone check; ``arrivals`` (fac, day, hour, arrival, uncertainty): per UTC hour, how many
seconds after the hour's start the readings arrived on average, for the late-arrival check. Arrival is the stored
receive time (``received_ms``, exact to the millisecond: a replay of weeks in seconds needs it, uncertainty 0);
points written before the ingester stored it fall back to the slot's middle plus its mean ``arrival_delay_ms``,
uncertain by up to a slot (uncertainty SLOT_S). Pure.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.analysis.schedule import SLOT_NS

CHECK_COLUMNS = ("flat_slots", "flat_value", "unexplained", "moves", "exits_sum", "exits_slots", "round_hits",
                 "round_base")
SLOT_S = SLOT_NS // 10**9
HOUR_S = 3600
#: How far an arrival estimated from the slot and the mean delay (points without received_ms) may be off.
ESTIMATE_UNCERTAINTY_S = float(SLOT_S)
PRINT_MIN_SLOTS = 8  # a sensor-day shorter than two hours says too little to call two series the same
_SHIFT = 32


def empty_checks() -> pd.DataFrame:
    index = pd.MultiIndex.from_arrays([np.empty(0, np.int64), np.empty(0, np.int64)], names=["fac", "day"])
    return pd.DataFrame({c: np.empty(0, np.float64) for c in CHECK_COLUMNS}, index=index)


def empty_prints() -> pd.DataFrame:
    return pd.DataFrame({"fac": np.empty(0, np.int64), "day": np.empty(0, np.int64), "fp": np.empty(0, np.int64)})


def empty_arrivals() -> pd.DataFrame:
    return pd.DataFrame({"fac": np.empty(0, np.int64), "day": np.empty(0, np.int64), "hour": np.empty(0, np.int64),
                         "arrival": np.empty(0, np.float64), "uncertainty": np.empty(0, np.float64)})


def _column(readings: pd.DataFrame, name: str) -> np.ndarray:
    if name in readings.columns:
        values: np.ndarray = readings[name].to_numpy(np.float64)  # pandas is untyped here (pyproject.toml)
        return values
    return np.full(len(readings), np.nan)


def sensor_rows(open_slots: pd.DataFrame, readings: pd.DataFrame) -> pd.DataFrame:
    """The readings inside the given open slots, with their local day, sorted by facility, sensor and slot."""
    keys = (open_slots["fac"].to_numpy(np.int64) << _SHIFT) | open_slots["slot"].to_numpy(np.int64)
    where = pd.Index(keys).get_indexer(
        (readings["fac"].to_numpy(np.int64) << _SHIFT) | readings["slot"].to_numpy(np.int64))
    inside = where >= 0
    sensor = readings["sensor"].to_numpy(np.int64) if "sensor" in readings.columns else np.zeros(len(readings),
                                                                                                    np.int64)
    rows = pd.DataFrame({
        "fac": readings["fac"].to_numpy(np.int64)[inside],
        "sensor": sensor[inside],
        "slot": readings["slot"].to_numpy(np.int64)[inside],
        "day": open_slots["day"].to_numpy(np.int64)[where[inside]],
        **{name: _column(readings, name)[inside] for name in ("occ_mean", "entries", "exits", "uses", "delay",
                                                                 "received")},
    })
    return rows.sort_values(["fac", "sensor", "slot"], kind="stable").reset_index(drop=True)


def _flat(rows: pd.DataFrame, follows: np.ndarray) -> pd.DataFrame:
    """Longest run per (fac, day) of one sensor's same non-zero occupancy in consecutive slots."""
    occ = np.round(rows["occ_mean"].to_numpy(), 3)
    positive = occ > 0
    prev = np.concatenate(([np.nan], occ[:-1]))
    same = follows & positive & (occ == prev)
    run = np.cumsum(~same)
    runs = pd.DataFrame({"run": run, "fac": rows["fac"].to_numpy(), "day": rows["day"].to_numpy(), "value": occ,
                         "positive": positive})
    runs = runs[positive]
    if not len(runs):
        return pd.DataFrame({"flat_slots": [], "flat_value": []},
                            index=pd.MultiIndex.from_arrays([[], []], names=["fac", "day"]))
    sized = runs.groupby("run", sort=False).agg(fac=("fac", "first"), day=("day", "first"),
                                                 flat_value=("value", "first"), flat_slots=("value", "size"))
    longest = sized.sort_values(["flat_slots", "flat_value"], ascending=False, kind="stable")
    return longest.drop_duplicates(["fac", "day"]).set_index(["fac", "day"])[["flat_slots", "flat_value"]]


def _moves(rows: pd.DataFrame, follows: np.ndarray) -> pd.DataFrame:
    """Unexplained occupancy changes between a sensor's consecutive slots, and the movements counted."""
    occ, entries, exits = rows["occ_mean"].to_numpy(), rows["entries"].to_numpy(), rows["exits"].to_numpy()

    def before(values: np.ndarray) -> np.ndarray:
        return np.concatenate(([np.nan], values[:-1]))

    rise = occ - before(occ)
    came = entries + before(entries)
    left = exits + before(exits)
    over = np.where(follows & ~np.isnan(rise) & ~np.isnan(came), np.maximum(rise - came, 0.0), 0.0)
    under = np.where(follows & ~np.isnan(rise) & ~np.isnan(left), np.maximum(-rise - left, 0.0), 0.0)
    counted = ~np.isnan(occ) & (~np.isnan(entries) | ~np.isnan(exits))
    moves = np.where(counted, np.nan_to_num(entries) + np.nan_to_num(exits), 0.0)
    frame = pd.DataFrame({"fac": rows["fac"].to_numpy(), "day": rows["day"].to_numpy(), "unexplained": over + under,
                          "moves": moves, "exits_sum": np.nan_to_num(exits), "exits_slots": ~np.isnan(exits)})
    return frame.groupby(["fac", "day"], sort=True).sum().astype(np.float64)


def _round(rows: pd.DataFrame) -> pd.DataFrame:
    occ = rows["occ_mean"].to_numpy()
    whole = ~np.isnan(occ) & (np.abs(occ - np.round(occ)) < 1e-9) & (occ >= 10)
    hits = whole & (np.round(np.nan_to_num(occ)) % 5 == 0)
    frame = pd.DataFrame({"fac": rows["fac"].to_numpy(), "day": rows["day"].to_numpy(), "round_hits": hits,
                          "round_base": whole})
    return frame.groupby(["fac", "day"], sort=True).sum().astype(np.float64)


def _prints(rows: pd.DataFrame) -> pd.DataFrame:
    """A fingerprint of each varying sensor-day's (slot, occupancy) pairs: equal sets give equal prints."""
    data = rows[rows["occ_mean"].notna()]
    if not len(data):
        return empty_prints()
    pairs = pd.DataFrame({"slot": data["slot"].to_numpy(), "occ": np.round(data["occ_mean"].to_numpy(), 3)})
    hashed = pd.util.hash_pandas_object(pairs, index=False).to_numpy(np.uint64).view(np.int64)
    frame = pd.DataFrame({"fac": data["fac"].to_numpy(), "sensor": data["sensor"].to_numpy(),
                          "day": data["day"].to_numpy(), "h": hashed, "occ": pairs["occ"].to_numpy()})
    grouped = frame.groupby(["fac", "sensor", "day"], sort=True)
    summary = grouped.agg(fp=("h", "sum"), n=("h", "size"), low=("occ", "min"), high=("occ", "max"))
    summary = summary[(summary["n"] >= PRINT_MIN_SLOTS) & (summary["high"] > summary["low"])].reset_index()
    return summary[["fac", "day", "fp"]].astype(np.int64).reset_index(drop=True)


def _arrivals(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (fac, day, hour) the mean arrival after the hour's start, exact where received_ms was stored."""
    received, delay = rows["received"].to_numpy(), rows["delay"].to_numpy()
    exact = ~np.isnan(received)
    known = exact | ~np.isnan(delay)
    if not known.any():
        return empty_arrivals()
    slot = rows["slot"].to_numpy()[known]
    hour = slot * SLOT_S // HOUR_S
    exact = exact[known]
    estimate = slot * SLOT_S + SLOT_S / 2 + np.nan_to_num(delay[known]) / 1000
    arrival = np.where(exact, np.nan_to_num(received[known]) / 1000, estimate) - hour * HOUR_S
    frame = pd.DataFrame({"fac": rows["fac"].to_numpy()[known], "day": rows["day"].to_numpy()[known], "hour": hour,
                          "arrival": arrival, "uncertainty": np.where(exact, 0.0, ESTIMATE_UNCERTAINTY_S)})
    out = frame.groupby(["fac", "day", "hour"], sort=True).agg(arrival=("arrival", "mean"),
                                                                uncertainty=("uncertainty", "max"))
    out = out.reset_index().assign(arrival=lambda f: f["arrival"].round(3))
    return out.astype({"fac": np.int64, "day": np.int64, "hour": np.int64, "arrival": np.float64,
                       "uncertainty": np.float64})


def day_checks(open_slots: pd.DataFrame, readings: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(checks, prints, arrivals) for the (fac, day) of ``open_slots`` (closure days already left out)."""
    if not len(open_slots) or not len(readings):
        return empty_checks(), empty_prints(), empty_arrivals()
    rows = sensor_rows(open_slots, readings)
    if not len(rows):
        return empty_checks(), empty_prints(), empty_arrivals()
    fac, sensor, day, slot = (rows[c].to_numpy() for c in ("fac", "sensor", "day", "slot"))
    follows = np.concatenate(([False], (fac[1:] == fac[:-1]) & (sensor[1:] == sensor[:-1]) & (day[1:] == day[:-1])
                              & (slot[1:] == slot[:-1] + 1)))
    checks = _moves(rows, follows).join(_round(rows)).join(_flat(rows, follows))
    checks[["flat_slots", "flat_value"]] = checks[["flat_slots", "flat_value"]].fillna(0.0)
    checks = checks[list(CHECK_COLUMNS)].astype(np.float64)
    return checks, _prints(rows), _arrivals(rows)


def closed_activity(closed_slots: pd.DataFrame, readings: pd.DataFrame) -> dict[int, int]:
    """Per facility code, the opening-hour slots of closure days in which someone was counted or something used."""
    if not len(closed_slots) or not len(readings):
        return {}
    rows = sensor_rows(closed_slots, readings)
    active = np.zeros(len(rows), dtype=bool)
    for name in ("occ_mean", "entries", "uses"):
        active |= np.nan_to_num(rows[name].to_numpy()) > 0
    busy = rows[active].drop_duplicates(["fac", "slot"])
    return {int(k): int(v) for k, v in busy.groupby("fac").size().items()}
