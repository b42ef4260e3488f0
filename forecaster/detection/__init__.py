"""From forecast errors to anomaly decisions and events: smoothing, scores, thresholds; pure."""
