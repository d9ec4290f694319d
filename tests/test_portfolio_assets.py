"""The portfolio assets through Dagster on the hand-built book of `test_portfolio_report`
(values worked out in that module's docstring)."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest
import yaml

from assets.portfolio import PORTFOLIO_ASSETS, PORTFOLIO_JOBS, portfolio_analytics
from resources.database import TradingDatabase
from resources.strategies import StrategiesResource
from tests.portfolio_book import STRATEGIES
from tests.test_portfolio_report import book  # noqa: F401 - the shared fixture
from zvt_pipelines.storage.performance import load_performance

AS_OF = "2024-01-31T00:00:00"


def test_assets_report_metadata_and_store_performance_rows(tmp_path, book):  # noqa: F811
    url = str(book.url)
    path = tmp_path / "strategies.yaml"
    path.write_text(yaml.safe_dump({"strategies": STRATEGIES}))
    resources = {
        "database": TradingDatabase(url=url),
        "strategies": StrategiesResource(config_path=str(path)),
    }
    config = {"ops": {a.key.path[-1]: {"config": {"as_of": AS_OF}} for a in PORTFOLIO_ASSETS}}
    assert [portfolio_analytics] == PORTFOLIO_JOBS
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            PORTFOLIO_ASSETS, resources=resources, run_config=config, instance=instance
        )
        assert result.success

        def metadata(name: str) -> dict:
            event = instance.get_latest_materialization_event(dg.AssetKey(name))
            return {k: v.value for k, v in event.asset_materialization.metadata.items()}

        performance = metadata("portfolio_performance")
        risk = metadata("portfolio_risk")
        attribution = metadata("performance_attribution")
    assert performance["rows"] == 7
    assert performance["total_value"] == pytest.approx(30_332.09)
    assert performance["daily_pnl"] == pytest.approx(332.09)
    assert performance["fees"] == pytest.approx(17.91)
    assert "| strategy | alpha |" in performance["performance"]
    assert performance["equity_by_strategy"].startswith("![equity by strategy](data:image/png")

    assert risk["equity"] == pytest.approx(30_332.09)
    assert risk["gross_exposure"] == pytest.approx(6_460.0)
    assert risk["largest_weight"] == 1.0
    assert risk["returns_timeframe"] == "1d" and risk["observations"] == 29
    assert risk["var_1d_historical"] > 0 and risk["var_7d_historical"] > risk["var_1d_historical"]
    assert "| sim_b outage | -10,295.9900 |" in risk["stress"]
    assert risk["var_chart"].startswith("![VaR by method](data:image/png")

    assert attribution["window_start"] == "2024-01-01T00:00:00+00:00"
    assert attribution["rows"] == 4  # both: BTC buy and hold (sim_a) and their equal weight
    assert attribution["total_fees"] == pytest.approx(17.91)

    rows = load_performance(book)
    assert len(rows) == 7 and {r.scope for r in rows} == {"strategy", "venue", "asset", "portfolio"}
    alpha = next(r for r in rows if (r.scope, r.name) == ("strategy", "alpha"))
    assert alpha.total_value == Decimal("20539.89") and alpha.trades == 3


def test_job_selects_the_three_assets():
    defs = dg.Definitions(
        assets=PORTFOLIO_ASSETS,
        jobs=PORTFOLIO_JOBS,
        resources={
            "database": TradingDatabase(url="sqlite:///:memory:"),
            "strategies": StrategiesResource(config_path="config/strategies.yaml"),
        },
    )
    job = defs.resolve_job_def("portfolio_analytics")
    assert {key.path[-1] for key in job.asset_layer.selected_asset_keys} == {
        "portfolio_performance",
        "portfolio_risk",
        "performance_attribution",
    }
