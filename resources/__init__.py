"""Dagster resources: thin ConfigurableResources that build core services from config."""
