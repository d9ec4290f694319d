"""Dagster sensors and schedules, and the jobs they start."""
