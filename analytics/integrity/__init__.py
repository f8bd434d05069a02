"""Data that look forged or broken: the detectors (days, series, network, shape, near_copy, drift), their
thresholds (rules) and the verdict per facility (assess)."""
