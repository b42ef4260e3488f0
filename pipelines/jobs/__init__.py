"""The jobs users run: backfill, train, forecast, retrain, ingest, evaluate, status."""
