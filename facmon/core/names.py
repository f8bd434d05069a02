"""Names that more than one part of facmon writes or reads in InfluxDB: the measurements and the count fields.

The readings database holds one measurement, written by the ingester (docs/schema.md); the evidence database
holds what analytics and the auditors' tools write. A name changed here changes it for the writer and every
reader at once, Grafana's dashboards included.
"""

from __future__ import annotations

#: The ingester's measurement: one point per reading, tags facility and sensor.
READINGS = "reading"
SENSOR_STATUS = "sensor_status"  # a sensor's online/offline messages
REFUSAL = "refusal"  # what the ingester refused, counted by reason
REVISION = "revision"  # readings re-sent with other values (ingest/revisions.py)
INGEST_STATS = "ingest_stats"  # the ingester's counters

# -- the evidence database --------------------------------------------------------------------------------------
FACILITY_STATUS = "facility_status"  # analytics.analysis.store: one point per facility and analysis date
ANALYTICS_DAY = "analytics_day"  # analytics.analysis.rollup: the day summaries kept
ALERT = "alert"  # analytics.alerts.store
ALERT_DELIVERY = "alert_delivery"  # analytics.alerts.store
REVIEW = "review"  # analytics.alerts.reviews
FACILITY_INFO = "facility_info"  # dashboards.registry_sync: the registry, for Grafana's tables
#: Every measurement of the evidence database; none of them is ever read from the readings database.
EVIDENCE_MEASUREMENTS = (FACILITY_STATUS, ANALYTICS_DAY, ALERT, ALERT_DELIVERY, REVIEW, FACILITY_INFO)

# -- the fields of a reading --------------------------------------------------------------------------------------
COUNT_FIELDS = ("occupancy", "entries", "exits", "uses")
#: The fields that show a facility in use.
ACTIVITY_FIELDS = ("occupancy", "entries", "uses")
