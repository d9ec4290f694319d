"""Market data assets: base candles per UTC day × instrument, their 1h and 1d views, the job."""

from dataclasses import dataclass
from typing import Any

import dagster as dg
import pandas as pd

from assets.partitions import day_by_instrument, partition_window
from assets.quality_checks import quality_check
from resources.database import TradingDatabase
from resources.markets import MarketsResource
from zvt_pipelines.data.candles import resample_candles
from zvt_pipelines.data.charts import png_markdown, price_chart_png
from zvt_pipelines.ingest.candles import IngestSummary, ingest_range
from zvt_pipelines.markets import MarketsConfig
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.storage.market_data import load_candles, replace_candles

GROUP = "market_data"
VIEW_TIMEFRAMES = ("1h", "1d")


@dataclass(frozen=True)
class MarketData:
    """Everything the market-data domain adds to the Definitions."""

    partitions_def: dg.MultiPartitionsDefinition
    assets: list[dg.AssetsDefinition]
    checks: list[dg.AssetChecksDefinition]
    job: Any  # what define_asset_job returns; Definitions resolves it
    schedule: dg.ScheduleDefinition


def candle_metadata(summary: IngestSummary, frame: pd.DataFrame) -> dict[str, dg.MetadataValue]:
    """Row count, first/last candle, missing candles and a small price chart."""
    metadata: dict[str, dg.MetadataValue] = {
        "dagster/row_count": dg.MetadataValue.int(summary.rows),
        "expected_rows": dg.MetadataValue.int(summary.expected),
        "missing_candles": dg.MetadataValue.int(summary.missing),
        "first_candle": dg.MetadataValue.text(
            str(summary.first) if summary.first is not None else "-"
        ),
        "last_candle": dg.MetadataValue.text(
            str(summary.last) if summary.last is not None else "-"
        ),
    }
    if summary.rows:
        metadata["last_close"] = dg.MetadataValue.float(float(frame["close"].iloc[-1]))
        png = price_chart_png(frame, f"{summary.instrument} {summary.timeframe}")
        metadata["chart"] = dg.MetadataValue.md(png_markdown(png, summary.instrument))
    return metadata


def build_market_data(markets: MarketsConfig) -> MarketData:
    """Candle assets at the configured timeframe plus coarser views, each with a blocking GX check."""
    partitions_def = day_by_instrument(markets)
    base_timeframe = markets.timeframe

    @dg.asset(
        name=f"ohlcv_{base_timeframe}",
        group_name=GROUP,
        partitions_def=partitions_def,
        kinds={"python", "sql"},
    )
    def ohlcv_base(
        context: dg.AssetExecutionContext, database: TradingDatabase, markets: MarketsResource
    ) -> dg.MaterializeResult:
        """Candles of one instrument for one UTC day, downloaded from its venue and stored.

        The write replaces the day in one transaction: re-running never duplicates rows
        and an interrupted run leaves the previous contents.
        """
        instrument, start, end = partition_window(partitions_def, context)
        source = markets.source(instrument.venue)
        summary, frame = ingest_range(
            database.get(), source, instrument, base_timeframe, start, end
        )
        context.log.info(
            f"stored {summary.rows} {base_timeframe} candles of {instrument} for {start.date()}"
        )
        return dg.MaterializeResult(metadata=candle_metadata(summary, frame))

    def resampled(timeframe: str) -> dg.AssetsDefinition:
        @dg.asset(
            name=f"ohlcv_{timeframe}",
            group_name=GROUP,
            partitions_def=partitions_def,
            deps=[ohlcv_base],
            kinds={"python", "sql"},
            description=f"{timeframe} candles resampled from the {base_timeframe} candles (open-time labels).",
        )
        def _view(
            context: dg.AssetExecutionContext, database: TradingDatabase
        ) -> dg.MaterializeResult:
            instrument, start, end = partition_window(partitions_def, context)
            db = database.get()
            base = load_candles(db, instrument.venue, instrument.symbol, base_timeframe, start, end)
            frame = resample_candles(base, timeframe)
            rows = replace_candles(
                db, instrument.venue, instrument.symbol, timeframe, frame, start, end
            )
            first, last = (frame["ts"].iloc[0], frame["ts"].iloc[-1]) if rows else (None, None)
            summary = IngestSummary(str(instrument), timeframe, start, end, rows, first, last)
            return dg.MaterializeResult(metadata=candle_metadata(summary, frame))

        return _view

    views = [tf for tf in VIEW_TIMEFRAMES if timeframe_ms(tf) > timeframe_ms(base_timeframe)]
    assets = [ohlcv_base, *(resampled(tf) for tf in views)]
    checks = [quality_check(asset, partitions_def) for asset in assets]
    job = dg.define_asset_job(
        "market_data",
        selection=dg.AssetSelection.groups(GROUP),
        partitions_def=partitions_def,
        description="Download, check and store one day of candles for one instrument, then its coarser views.",
        # one small partition per run: parallelism comes from concurrent runs (backfills),
        # and a process per step would cost seconds each on a small machine
        executor_def=dg.in_process_executor,
    )
    schedule = dg.build_schedule_from_partitioned_job(
        job,
        hour_of_day=0,
        minute_of_hour=10,
        name="market_data_daily",
        description="Every day at 00:10 UTC: the day that just closed, for every instrument.",
    )
    return MarketData(partitions_def, assets, checks, job, schedule)
