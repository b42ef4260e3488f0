"""Orchestration: owns transactions, schedules and progress; calls the forecaster engine."""
