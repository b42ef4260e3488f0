"""The detection step shared by backfill and the daemon."""
