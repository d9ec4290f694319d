"""Dagster assets: thin definitions over core functions, grouped by domain."""
