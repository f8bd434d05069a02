"""`facmon analyze`: the schedule, figures and rules (pure), the queries, rollup and store (InfluxDB edge),
the engine that runs them, and the output formats."""
