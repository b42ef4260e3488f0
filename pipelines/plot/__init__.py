"""`forecaster plot`: series, forecasts, anomalies and events drawn from SQL."""
