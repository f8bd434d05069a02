"""Data that look forged or broken: the detectors (days, series, network), their thresholds (rules) and
the verdict per facility (assess)."""
