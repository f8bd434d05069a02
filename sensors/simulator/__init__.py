"""Virtual sensors: profiles, forged data (forge, and forge_shape for the noisier forgeries and the honest patterns
they must not be confused with) and the plan (pure), the readings they send (simulate) and the MQTT edge that
publishes them (publisher)."""
