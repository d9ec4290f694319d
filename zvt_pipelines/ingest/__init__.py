"""Ingest: download or read market data from a source, check it, and store it."""
