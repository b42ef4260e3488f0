"""Thresholds: which smoothed errors are anomalous."""
