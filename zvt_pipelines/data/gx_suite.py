"""The candle quality rules as a Great Expectations 1.x suite, reported like `check_candles`.

Built-in expectations check the raw columns; rules that need a computation (max(open, close),
open time modulo the timeframe, the window's grid slots, the robust z-score of returns) check
the derived columns of `prepare_candles`, so GX evaluates and reports every rule. Great
Expectations is imported inside the functions: the import costs seconds, and Dagster loads
this module in every run worker.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Any

import pandas as pd

from zvt_pipelines.data.quality import (
    RULES,
    PreparedCandles,
    QualityReport,
    QualitySettings,
    Severity,
    build_report,
    missing_result,
    prepare_candles,
    row_result,
)
from zvt_pipelines.errors import QualityEngineError
from zvt_pipelines.model.candles import CANDLE_COLUMNS, PRICE_COLUMNS

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite
    from great_expectations.core.batch_definition import BatchDefinition

ENGINE = "great_expectations"
_lock = threading.Lock()
_batch_definition: BatchDefinition | None = None


def validate_with_great_expectations(
    frame: pd.DataFrame,
    settings: QualitySettings,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> QualityReport:
    """Run the rules as a GX suite on `frame`; the window is [start, end) or first..last candle.

    Raises QualityEngineError when GX cannot evaluate an expectation (an engine failure,
    as opposed to a failed rule).
    """
    prepared = prepare_candles(frame, settings, start, end)
    suite = build_suite(prepared, settings)
    with _lock:  # one shared context per process; GX contexts are not thread-safe
        batch = _shared_batch_definition().get_batch(batch_parameters={"dataframe": prepared.frame})
        validation = batch.validate(suite, result_format="SUMMARY")
    return _report(validation.results, prepared, settings)


def build_suite(prepared: PreparedCandles, settings: QualitySettings) -> ExpectationSuite:
    """The expectation suite for one window; each expectation's `meta["rule"]` names its rule."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    def tagged(rule: str, expectation: Any) -> Any:
        expectation.meta = {"rule": rule}
        if rule == "large_jumps":
            expectation.severity = Severity.WARNING.value
        return expectation

    def pair(rule: str, column_a: str, column_b: str) -> Any:
        return tagged(
            rule,
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A=column_a,
                column_B=column_b,
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        )

    present_at_least = prepared.expected_candles - prepared.allowed_missing
    expectations = [
        *(tagged("no_nulls", gxe.ExpectColumnValuesToNotBeNull(column=c)) for c in CANDLE_COLUMNS),
        tagged("ts_unique", gxe.ExpectColumnValuesToBeUnique(column="ts")),
        tagged(
            "ts_strictly_increasing",
            gxe.ExpectColumnValuesToBeIncreasing(column="ts", strictly=True),
        ),
        tagged(
            "ts_on_grid",
            gxe.ExpectColumnValuesToBeBetween(column="grid_offset_ms", min_value=0, max_value=0),
        ),
        tagged(
            "ts_in_range",
            gxe.ExpectColumnValuesToBeBetween(
                column="ts_ms",
                min_value=prepared.start_ms,
                max_value=prepared.end_ms,
                strict_max=True,
            ),
        ),
        tagged(
            "missing_candles",
            gxe.ExpectColumnUniqueValueCountToBeBetween(
                column="grid_slot", min_value=present_at_least
            ),
        ),
        pair("high_ge_open_close", "high", "max_open_close"),
        pair("low_le_open_close", "min_open_close", "low"),
        pair("high_ge_low", "high", "low"),
        *(
            tagged(
                "prices_positive",
                gxe.ExpectColumnValuesToBeBetween(column=c, min_value=0, strict_min=True),
            )
            for c in PRICE_COLUMNS
        ),
        tagged(
            "volume_non_negative", gxe.ExpectColumnValuesToBeBetween(column="volume", min_value=0)
        ),
        tagged(
            "large_jumps",
            gxe.ExpectColumnValuesToBeBetween(column="return_abs_z", max_value=settings.jump_sigma),
        ),
    ]
    return gx.ExpectationSuite(name=f"candles_{settings.timeframe}", expectations=expectations)


def _shared_batch_definition() -> BatchDefinition:
    """The process-wide ephemeral context's whole-dataframe batch definition, made on first use."""
    global _batch_definition
    if _batch_definition is None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        asset = context.data_sources.add_pandas("candles").add_dataframe_asset("candle_frame")
        _batch_definition = asset.add_batch_definition_whole_dataframe("whole_frame")
    return _batch_definition


def _report(
    results: list[Any], prepared: PreparedCandles, settings: QualitySettings
) -> QualityReport:
    """Fold the expectation results into one CheckResult per rule, in rule order."""
    by_rule: dict[str, list[Any]] = defaultdict(list)
    for result in results:
        config = result.expectation_config
        if result.exception_info.get("raised_exception"):
            raise QualityEngineError(
                f"great expectations could not evaluate {config.type} for rule "
                f"{config.meta['rule']!r}: {result.exception_info.get('exception_message')}"
            )
        by_rule[config.meta["rule"]].append(result)

    checks = []
    for rule in RULES:
        rule_results = by_rule[rule.name]
        if rule.name == "missing_candles":
            (result,) = rule_results
            checks.append(missing_result(prepared, int(result.result["observed_value"])))
            continue
        failing = sum(int(r.result.get("unexpected_count", 0)) for r in rule_results)
        rows = sorted(
            {
                int(i)
                for r in rule_results
                for i in r.result.get("partial_unexpected_index_list", [])
            }
        )
        checks.append(row_result(prepared, rule.name, failing, rows))
    return build_report(ENGINE, settings, prepared, checks)
