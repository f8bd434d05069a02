"""Two databases, so the data path cannot touch the evidence.

InfluxDB 1.x lets a user with WRITE on a database also DELETE points and DROP SERIES there, so a "write-only"
ingester could erase readings and forge reviews if both lived in one database. Readings, sensor statuses,
refusals and the ingester's counters therefore live in the readings database (FACMON_INFLUX_DB), the only one the
ingester may write; everything analytics and the auditors' tools write (statuses, the day rollup, alerts and their
deliveries, reviews, the registry facts for the dashboards) lives in the evidence database
(FACMON_INFLUX_EVIDENCE_DB), on which the ingester has no grant, while analytics may only READ the readings.

The rollup belongs with the evidence: it is analytics' own copy of each settled day's figures, so a reading
deleted after its day was summarised changes no status and shows as a difference between a normal run and one
computed from the raw readings alone (``facmon analyze --rollup rebuild --no-store``), and a day summary forged
through the ingester's credentials cannot exist.

A database from before the split holds these measurements next to the readings; they are ignored (a review
written there, forged or not, silences nothing) and ``facmon migrate-evidence`` moves them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from analytics.analysis import rollup
from facmon.core import names
from facmon.core.errors import FacmonError
from facmon.core.influx import (
    InfluxAuthError,
    InfluxClient,
    InfluxDatabaseMissing,
    InfluxError,
    InfluxPermissionDenied,
)
from facmon.core.influxql import ident

if TYPE_CHECKING:
    from facmon.core.settings import Settings

log = logging.getLogger(__name__)

#: What analytics and the auditors' tools write; never read from the readings database.
MEASUREMENTS = names.EVIDENCE_MEASUREMENTS
#: Moved by migrate-evidence; the rollup is not (it is analytics' own copy and is computed again from readings).
MIGRATED = tuple(m for m in MEASUREMENTS if m != rollup.MEASUREMENT)


class EvidenceError(FacmonError):
    """The evidence database cannot be used; the message says what an admin must do."""


def clients(settings: Settings, timeout: float | None = None) -> tuple[InfluxClient, InfluxClient]:
    """(readings, evidence) clients with the same credentials: analytics' user reads one and writes the other."""
    return InfluxClient.from_settings(settings, timeout=timeout), InfluxClient.from_settings(settings, True, timeout)


def prepare(evidence: InfluxClient) -> None:
    """Make sure the evidence database takes writes, creating it when missing and this user may (an admin)."""
    try:
        evidence.write(b"")
        return
    except InfluxDatabaseMissing:
        pass
    except InfluxPermissionDenied as exc:
        raise EvidenceError(f"may not write to the evidence database {evidence.database}; an admin must run GRANT ALL "
                            f"ON {ident(evidence.database)} TO the analytics user ({exc})") from None
    except InfluxAuthError as exc:
        raise EvidenceError(str(exc)) from None
    except InfluxError as exc:
        log.warning("InfluxDB at %s not ready yet (%s)", evidence.url, exc)
        return
    try:
        evidence.create_database()
        log.info("created the evidence database %s", evidence.database)
    except InfluxAuthError:
        raise EvidenceError(f"the evidence database {evidence.database} does not exist and this user may not create "
                            f"it; an admin must run CREATE DATABASE {ident(evidence.database)}") from None
    except InfluxError as exc:
        log.warning("InfluxDB at %s not ready yet (%s)", evidence.url, exc)


def exists(evidence: InfluxClient) -> bool:
    """Whether the evidence database exists yet (an empty write stores nothing); unsure counts as yes."""
    try:
        evidence.write(b"")
    except InfluxDatabaseMissing:
        return False
    except InfluxError:
        return True
    return True


def legacy_measurements(readings: InfluxClient) -> list[str]:
    """Evidence measurements found in the readings database (written there before the split, or forged)."""
    results = readings.query("SHOW MEASUREMENTS")
    present = {row[0] for series in results[0].get("series", []) for row in series.get("values", [])}
    return [m for m in MEASUREMENTS if m in present]


def warn_legacy(readings: InfluxClient, evidence_db: str) -> list[str]:
    """Say in one line when the readings database holds evidence measurements; never fails the run."""
    try:
        found = legacy_measurements(readings)
    except InfluxError as exc:
        log.debug("could not list the measurements of %s: %s", readings.database, exc)
        return []
    if found:
        log.warning(
            "the readings database %s holds %s, which facmon now keeps in %s and ignores there (written by an older "
            "facmon, or forged with the ingester's credentials): check them, then run `facmon migrate-evidence` as "
            "an InfluxDB admin to move them", readings.database, ", ".join(found), evidence_db)
    return found


def migrate_statements(readings_db: str, evidence_db: str, measurements: Sequence[str] = MIGRATED) -> list[str]:
    """Copy each measurement with its tags (GROUP BY *) into the evidence database, then drop it from the readings."""
    source, target = ident(readings_db), ident(evidence_db)
    statements = []
    for name in measurements:
        if name not in MEASUREMENTS:
            raise ValueError(f"{name!r} is not an evidence measurement")
        m = ident(name)
        statements.append(f"SELECT * INTO {target}..{m} FROM {source}..{m} GROUP BY *")  # noqa: S608 (quoted)
    statements += [f"DROP MEASUREMENT {ident(name)}" for name in MEASUREMENTS]
    return statements
