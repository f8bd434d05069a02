# Sourced once by the influxdb:1.8 image's init script, as its admin, when the data volume is new.
# Two databases (facmon/analytics/evidence.py): the ingester may only write the readings (facmon); analytics and
# the auditors' tools (user facmon) may only read them and keep statuses, alerts, reviews and the rollup in
# facmon_evidence, where the ingester has no grant. Grafana reads both.
set -eu
for secret in "$FACMON_INFLUX_PASSWORD" "$GRAFANA_INFLUX_PASSWORD"; do
  case "$secret" in *\'*|*\\*) echo "influxdb-init: passwords must not contain ' or \\" >&2; exit 1;; esac
done
facmon_influx() {
  influx -host 127.0.0.1 -port "${INFLUXDB_INIT_PORT:-8086}" -username "$INFLUXDB_ADMIN_USER" \
    -password "$INFLUXDB_ADMIN_PASSWORD" -execute "$1"
}
facmon_influx 'CREATE DATABASE "facmon_evidence"'
facmon_influx "CREATE USER \"facmon\" WITH PASSWORD '$FACMON_INFLUX_PASSWORD'"
facmon_influx 'GRANT READ ON "facmon" TO "facmon"'
facmon_influx 'GRANT ALL ON "facmon_evidence" TO "facmon"'
facmon_influx 'GRANT READ ON "facmon_evidence" TO "grafana"'
