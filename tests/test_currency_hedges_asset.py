"""The currency_hedges asset proposes hedges that bring the book's BTC weight within target."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pandas as pd
import sqlalchemy as sa

from assets.portfolio import HedgeConfig, currency_hedges
from resources.database import TradingDatabase
from resources.markets import MarketsResource
from resources.strategies import StrategiesResource
from tests.trading_support import MARKETS, candle_database, fixed_weight, write_strategies
from zvt_pipelines.settings import DEFAULT_MARKETS
from zvt_pipelines.storage.models import CryptoExecution
from zvt_pipelines.strategies import parse_strategies_config
from zvt_pipelines.trading.services import rebalance_now


def test_a_btc_heavy_book_gets_a_sell_that_restores_the_cap(tmp_path):
    """A strategy holding ~95 % of its equity in BTC with a 50 % cap: the proposal sells
    BTC for USDT; selling it at the last close (fee ignored here) leaves BTC at ≤ 50 % + a step."""
    db = candle_database(tmp_path)
    path = write_strategies(tmp_path / "s.yaml", [fixed_weight("heavy", weight=0.95)])
    entry = parse_strategies_config(
        list(__import__("yaml").safe_load(path.read_text())["strategies"])
    ).strategies[0]
    rebalance_now(db, MARKETS, entry)
    resources = {
        "database": TradingDatabase(url=db.url),
        "strategies": StrategiesResource(config_path=str(path)),
        "markets": MarketsResource(config_path=str(DEFAULT_MARKETS)),
    }
    result = dg.materialize(
        [currency_hedges],
        resources=resources,
        run_config={
            "ops": {"currency_hedges": {"config": HedgeConfig(max_weight=0.5).model_dump()}}
        },
    )
    assert result.success
    metadata = result.asset_materializations_for_node("currency_hedges")[0].metadata
    assert metadata["proposals"].value == 1
    table = metadata["hedges"].value
    assert "BTC/USDT" in table and "sell" in table
    amount = Decimal(table.splitlines()[2].split("|")[4].strip())
    with db.transaction() as session:
        fills = session.scalars(sa.select(CryptoExecution)).all()
    btc = sum(f.amount for f in fills)
    usdt = Decimal(10_000) - sum(f.amount * f.price + f.fee for f in fills)
    price = fills[-1].price  # the test data's last close is within a few bps of the fill
    equity = usdt + btc * price
    assert (btc - amount) * price / equity <= Decimal("0.5") + Decimal("0.001")
    assert btc * price / equity > Decimal("0.9")
    assert isinstance(pd.Timestamp(metadata["as_of"].value), pd.Timestamp)
