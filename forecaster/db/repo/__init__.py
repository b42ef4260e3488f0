"""Repository functions per table group: keyword-only, take a session, never commit."""
