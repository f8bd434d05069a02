"""Who may do what on the broker: the integrators file (rules), `facmon broker-config` (brokerconfig) and
`facmon check-config` (checkconfig)."""
