"""zvt-pipelines: the trading core (never imports dagster)."""
