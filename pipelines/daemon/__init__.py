"""`forecaster daemon`: scheduled cycles, leases, retries, its memory and lock."""
