"""Quarter-hour aggregates of raw readings, computed here exactly as InfluxDB 1.x computes them.

Asking InfluxDB for ``GROUP BY time(15m)`` aggregates costs it several times the CPU of returning the raw fields,
so the analysis reads the readings (analytics.analysis.queries) and buckets them here. The numbers must be the
very ones InfluxDB would give (a stored rollup day made either way must be the same), so the arithmetic follows
InfluxDB 1.x's reducers step by step:

* a sum adds a bucket's values one by one in time order to a float64 that starts at zero (np.bincount's order;
  np.add.reduce and reduceat add in pairs and would differ in the last bits);
* a mean is that sum divided by the count (InfluxDB then merges its per-series means weighted by their counts,
  which for the one series of a facility's sensor gives the same float back: round(round(s / c) * c) / c is
  round(s / c));
* fill(none): an empty quarter has no row, a field without a value in a non-empty quarter is NaN.

Pure: arrays in, a frame out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analytics.analysis.schedule import SLOT_NS

#: alias -> (InfluxQL function, field): the facility's occupancy is the sum of its sensors' means per slot; exits
#: and the arrival feed the integrity checks (analytics.integrity.days). Arrival is the mean receive time: exact
#: where the ingester stored ``received_ms``, else (older points) estimated from the slot and the mean delay. The
#: mean, not the max: one resent reading should not make a whole slot look late.
AGGREGATES = {"occ_mean": ("mean", "occupancy"), "entries": ("sum", "entries"), "uses": ("sum", "uses"),
              "exits": ("sum", "exits"), "delay": ("mean", "arrival_delay_ms"), "received": ("mean", "received_ms")}
VALUE_COLUMNS = tuple(AGGREGATES)
ALL_FIELDS = tuple(field for _, field in AGGREGATES.values())


def empty_frame() -> pd.DataFrame:
    """No quarter hours: the columns fac, sensor, slot and VALUE_COLUMNS with their types."""
    frame = pd.DataFrame({"fac": np.empty(0, np.int64), "sensor": np.empty(0, np.int64),
                          "slot": np.empty(0, np.int64)})
    for column in VALUE_COLUMNS:
        frame[column] = np.empty(0, np.float64)
    return frame


def _sums(bucket: np.ndarray, values: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Per bucket: the float64 sum of the values that are not NaN, added in the order given, and their count."""
    present = ~np.isnan(values)
    where = bucket[present]
    counts = np.bincount(where, minlength=buckets)
    sums = np.bincount(where, weights=values[present], minlength=buckets)  # one by one, in order, from 0.0
    return sums, counts


def quarter_hours(fac: np.ndarray, sensor: np.ndarray, time_ns: np.ndarray,
                  fields: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Readings (parallel arrays: facility code, sensor code, time in ns, each field's values with NaN where a
    reading lacks the field) as one row per series (fac, sensor) and quarter hour with a value: columns fac,
    sensor, slot (time // SLOT_NS) and VALUE_COLUMNS, NaN for an aggregate whose field is not in ``fields``.

    The readings may come in any order; within a quarter they are added in time order, as InfluxDB does.
    """
    size = len(time_ns)
    problems = [f"{name} has {len(array)} values for {size} readings"
                for name, array in {"fac": fac, "sensor": sensor, **fields}.items() if len(array) != size]
    problems += [f"unknown field {name!r}" for name in fields if name not in ALL_FIELDS]
    if problems:
        raise ValueError("; ".join(problems))
    if not size:
        return empty_frame()
    times = np.asarray(time_ns, dtype=np.int64)
    order = np.lexsort((times, np.asarray(sensor, dtype=np.int64), np.asarray(fac, dtype=np.int64)))
    fac_sorted = np.asarray(fac, dtype=np.int64)[order]
    sensor_sorted = np.asarray(sensor, dtype=np.int64)[order]
    slot_sorted = times[order] // SLOT_NS
    starts = np.ones(size, dtype=bool)
    starts[1:] = ((fac_sorted[1:] != fac_sorted[:-1]) | (sensor_sorted[1:] != sensor_sorted[:-1])
                  | (slot_sorted[1:] != slot_sorted[:-1]))
    bucket = np.cumsum(starts) - 1
    buckets = int(bucket[-1]) + 1
    first = np.flatnonzero(starts)
    columns: dict[str, np.ndarray] = {}
    seen = np.zeros(buckets, dtype=bool)
    for alias, (function, field) in AGGREGATES.items():
        if field not in fields:
            columns[alias] = np.full(buckets, np.nan)
            continue
        sums, counts = _sums(bucket, np.asarray(fields[field], dtype=np.float64)[order], buckets)
        seen |= counts > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            columns[alias] = np.where(counts > 0, sums / counts if function == "mean" else sums, np.nan)
    frame = pd.DataFrame({"fac": fac_sorted[first], "sensor": sensor_sorted[first], "slot": slot_sorted[first],
                          **columns})
    return frame[seen].reset_index(drop=True)
