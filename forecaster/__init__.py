"""forecaster: time-series anomaly detection and forecasting with Keras RNNs and SQL."""

__version__ = "0.1.0"
