"""Partitions, defined once: UTC day × instrument, from the markets configuration."""

import dagster as dg
import pandas as pd

from zvt_pipelines.markets import MarketsConfig
from zvt_pipelines.model.instrument import InstrumentId


def day_by_instrument(markets: MarketsConfig) -> dg.MultiPartitionsDefinition:
    """Daily UTC partitions from the configured start date, crossed with the instruments."""
    daily = dg.DailyPartitionsDefinition(start_date=markets.start_date.isoformat(), timezone="UTC")
    instruments = dg.StaticPartitionsDefinition(markets.instruments)
    return dg.MultiPartitionsDefinition({"date": daily, "instrument": instruments})


def partition_key(day: str, instrument: str) -> dg.MultiPartitionKey:
    """The partition key of one UTC day (YYYY-MM-DD) of one instrument (`venue:BASE/QUOTE`)."""
    return dg.MultiPartitionKey({"date": day, "instrument": instrument})


def partition_window(
    partitions_def: dg.MultiPartitionsDefinition,
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> tuple[InstrumentId, pd.Timestamp, pd.Timestamp]:
    """The instrument and the UTC day [start, end) a run of a partitioned asset or check covers."""
    keys = partitions_def.get_partition_key_from_str(str(context.partition_key)).keys_by_dimension
    start = pd.Timestamp(keys["date"], tz="UTC")
    return InstrumentId.parse(keys["instrument"]), start, start + pd.Timedelta(days=1)
