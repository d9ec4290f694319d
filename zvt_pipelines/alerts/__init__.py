"""Alerts: typed alert values, rules that raise them, throttling, routing and delivery channels.

The core never imports Dagster; channels import their client libraries lazily.
"""
