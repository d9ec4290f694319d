"""Great Expectations quality checks on every candle partition; errors block downstream assets.

Great Expectations is imported inside the check (it takes seconds to import), so loading
the code location stays fast.
"""

import warnings

import dagster as dg

from assets.partitions import partition_window
from resources.database import TradingDatabase
from zvt_pipelines.data.quality import QualitySettings
from zvt_pipelines.storage.market_data import load_candles


def quality_check(
    asset: dg.AssetsDefinition, partitions_def: dg.MultiPartitionsDefinition
) -> dg.AssetChecksDefinition:
    """A blocking GX check of one candle asset's partition."""
    timeframe = asset.key.path[-1].removeprefix("ohlcv_")

    # Partitioned checks are a Dagster preview feature; without the partitions_def a check
    # would load every partition (see STACK.md), so we opt in knowingly.
    warnings.filterwarnings(
        "ignore", category=dg.PreviewWarning, message=".*partitions_def on an AssetCheckSpec"
    )

    @dg.asset_check(
        asset=asset,
        name="candle_quality",
        blocking=True,
        partitions_def=partitions_def,
        description=(
            "Great Expectations suite: no nulls, unique increasing open times on the "
            f"{timeframe} grid, missing candles within tolerance, high >= max(open, close), "
            "low <= min(open, close), prices > 0, volume >= 0; large jumps are a warning."
        ),
    )
    def _check(
        context: dg.AssetCheckExecutionContext, database: TradingDatabase
    ) -> dg.AssetCheckResult:
        from zvt_pipelines.data.gx_suite import validate_with_great_expectations

        instrument, start, end = partition_window(partitions_def, context)
        frame = load_candles(
            database.get(), instrument.venue, instrument.symbol, timeframe, start, end
        )
        report = validate_with_great_expectations(
            frame, QualitySettings(timeframe=timeframe), start, end
        )
        return dg.AssetCheckResult(
            passed=report.passed and not report.warnings,
            severity=dg.AssetCheckSeverity.ERROR if report.errors else dg.AssetCheckSeverity.WARN,
            metadata=report.as_metadata(),
        )

    return _check
