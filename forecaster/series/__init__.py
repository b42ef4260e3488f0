"""The regular grid: frequency, grid steps, gaps and segments; pure."""
