"""Calibration: fit a scenario's parameters to observed figures."""
