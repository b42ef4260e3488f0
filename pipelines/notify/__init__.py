"""Alert notifications: an outbox written with the events, sent after commit until acknowledged."""
