"""What operators watch the daemon by: Prometheus metrics, health probes, JSON logs; beside the
engine, so a backfill neither needs nor touches any of it."""
