"""Scoring detections against labels: NAB, event overlap, baselines."""
