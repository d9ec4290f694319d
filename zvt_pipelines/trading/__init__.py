"""The live trading loop: strategy accounts, rebalancing, lifecycle and emergency stop.

Pure core like the rest of `zvt_pipelines`; the Dagster assets in `assets/trading.py`
call these functions one step at a time.
"""
