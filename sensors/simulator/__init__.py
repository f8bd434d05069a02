"""Virtual sensors: profiles, forged data and the plan (pure), the readings they send (simulate) and the
MQTT edge that publishes them (publisher)."""
