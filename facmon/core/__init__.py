"""Foundation: what every part of facmon shares (settings, config files and their errors, the root exception,
the clock, logging, InfluxDB and MQTT clients, measurement names). Imports nothing of facmon above it."""
