#!/usr/bin/env bash
# Run the tests whose answer depends on "now" (the simulator's "until now", the demo's last 28 days, analyze's
# today, review dates, alert decision times, the ingester's "too old", "in the future" and receive times) with
# facmon's clock pinned at several instants, then under two machine time zones: each must pass at every one
# (docs/reliability.md, "Tests and the clock"). Of the fault tests, the fast ones whose readings are stamped
# against the ingester's clock; the outage and the soak stream the same readings for minutes.
#   scripts/pinned-clocks.sh                 # all instants and zones
#   scripts/pinned-clocks.sh -x -k backfill  # extra arguments go to pytest
set -uo pipefail
cd "$(dirname "$0")/.."
export CI=${CI:-true}

TESTS=(tests/integration/test_simulate.py tests/integration/analytics tests/unit/test_clock.py
       "tests/integration/test_demo.py::test_the_flagged_facilities_are_those_the_profiles_predict"
       "tests/integration/test_demo.py::test_the_counts_and_the_exempt_facility_follow_the_county"
       "tests/integration/test_demo.py::test_the_suspect_table_lists_exactly_the_forged_facilities"
       "tests/integration/test_demo.py::test_the_evidence_report_is_written_and_named"
       tests/integration/test_ingest.py tests/integration/test_ingest_operator.py
       tests/faults/test_hostile_integrator.py tests/faults/test_hostile_input.py tests/faults/test_broker_restart.py
       tests/faults/test_local_files.py)
#             instant (UTC)          what it is in Asia/Shanghai
INSTANTS=("2026-12-01T16:30:00Z"  # Wed 2026-12-02 00:30, just after midnight (the hour CI once failed at)
          "2026-12-02T07:00:00Z"  # Wed 2026-12-02 15:00, mid-afternoon
          "2026-12-06T12:00:00Z"  # Sun 2026-12-06 20:00, a Sunday evening
          "2026-11-30T14:00:00Z"  # Mon 2026-11-30 22:00, the last day of a month
          "2026-12-31T16:05:00Z"  # Fri 2027-01-01 00:05, a new month and year there, still 31 December in UTC
          "2027-02-28T04:00:00Z") # Sun 2027-02-28 12:00, the last day of February

failed=0
run() {  # label, then environment assignments
    local label=$1
    shift
    local summary
    summary=$(env "$@" .venv/bin/pytest -q -p no:cacheprovider "${TESTS[@]}" "${PYTEST_ARGS[@]}" 2>&1 | tail -1)
    printf '%-48s %s\n' "$label" "$summary"
    case $summary in *failed*|*error*|"") failed=1 ;; esac
}

PYTEST_ARGS=("$@")
for instant in "${INSTANTS[@]}"; do
    run "FACMON_TEST_NOW=$instant" "FACMON_TEST_NOW=$instant"
done
for zone in Asia/Shanghai America/Los_Angeles; do
    run "TZ=$zone FACMON_TEST_NOW=${INSTANTS[0]}" "TZ=$zone" "FACMON_TEST_NOW=${INSTANTS[0]}"
done
exit $failed
