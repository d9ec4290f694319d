"""Execution algorithms: parent orders (TWAP, VWAP, iceberg) that emit children through a sink."""

from zvt_pipelines.oms.algos.base import (
    AlgoState,
    ChildOrderRequest,
    Denial,
    ExecutionAlgo,
    OrderSink,
    RiskCheck,
    split_by_weights,
)
from zvt_pipelines.oms.algos.iceberg import Iceberg
from zvt_pipelines.oms.algos.twap import ScheduledAlgo, Slice, twap
from zvt_pipelines.oms.algos.vwap import intraday_volume_profile, vwap

__all__ = [
    "AlgoState",
    "ChildOrderRequest",
    "Denial",
    "ExecutionAlgo",
    "Iceberg",
    "OrderSink",
    "RiskCheck",
    "ScheduledAlgo",
    "Slice",
    "intraday_volume_profile",
    "split_by_weights",
    "twap",
    "vwap",
]
