"""One event-driven backtest per strategy family on the real data, each recorded in MLflow.

Every run is read back through `MlflowClient` (params, metrics, artifacts) and carries a
sanity check computed here from the raw files. Triangular arbitrage needs three markets
of one venue, which the data folder does not have: it is tested on a hand-built venue in
`test_event_backtest.py`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.backtest.engine import run_targets
from zvt_pipelines.backtest.event_driven import run_backtest
from zvt_pipelines.backtest.replay import Replay
from zvt_pipelines.backtest.settings import BacktestSettings
from zvt_pipelines.backtest.synthetic_books import VenueFees
from zvt_pipelines.data.candles import read_candle_file
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.strategies import build_strategy, parse_strategies_config
from zvt_pipelines.tracking.mlflow_tracker import track_backtest

D = Decimal
HOUR = pd.Timedelta(hours=1)
BTC = InstrumentId.parse("binance:BTC/USDT")
ETH = InstrumentId.parse("binance:ETH/USDT")
KRAKEN = InstrumentId.parse("kraken:BTC/USDT")
PERP = InstrumentId.parse("binanceusdm:BTC/USDT:USDT")


def _slice(frame: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    return frame.loc[(frame["ts"] >= start) & (frame["ts"] < end)].reset_index(drop=True)


@pytest.fixture(scope="module")
def raw(shared_data) -> dict[str, pd.DataFrame]:
    names = {
        "btc": "binance_BTC-USDT_1h",
        "eth": "binance_ETH-USDT_1h",
        "kraken": "kraken_BTC-USDT_1h",
        "perp": "binanceusdm_BTC-USDT-PERP_1h",
        "btc_1m": "binance_BTC-USDT_1m",
    }
    frames = {k: read_candle_file(shared_data / f"{v}.csv.gz") for k, v in names.items()}
    frames["funding"] = pd.read_csv(shared_data / "binanceusdm_BTC-USDT-PERP_funding_8h.csv.gz")
    return frames


@pytest.fixture(scope="module")
def tracking(tmp_path_factory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("mlflow")
    return {"tracking_uri": f"sqlite:///{home}/mlflow.db", "env": {"ZVT_HOME": str(home)}}


def _strategy(kind: str, symbols: list[InstrumentId], params: dict, **extra: Any):
    entry = {"name": f"{kind}_real", "type": kind, "symbols": [str(s) for s in symbols]}
    entry.update({"amount_per_trade": 1000, "frequency": "1h", "params": params, **extra})
    return build_strategy(parse_strategies_config({"strategies": [entry]}).strategies[0])


def _track_and_check(tracking, result, strategy, candles, settings: dict) -> None:
    """Record the run and read it back: params, metrics and artifacts."""
    from mlflow import MlflowClient

    run_id = track_backtest(
        result,
        strategy_name=strategy.label,
        params=strategy.params.model_dump(mode="json"),
        engine_settings={"engine": "event", **settings},
        data_fingerprint=Replay(candles).fingerprint(),
        **tracking,
    )
    run = MlflowClient(tracking_uri=tracking["tracking_uri"]).get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["engine.engine"] == "event"
    assert run.data.params["data.symbols"] == ",".join(str(i) for i in sorted(candles))
    for key, value in strategy.params.model_dump(mode="json").items():
        if not isinstance(value, dict | list):
            assert run.data.params[f"strategy.{key}"] == str(value)
    assert run.data.metrics["final_equity"] == pytest.approx(result.final_equity)
    assert run.data.metrics["trades"] == result.n_trades
    client = MlflowClient(tracking_uri=tracking["tracking_uri"])
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"trades.csv", "equity.csv", "config.yaml"} <= names


def _window(frame: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp]:
    return frame["ts"].iloc[0], frame["ts"].iloc[-1] + HOUR


def _parity(kind, frame, params, tracking, instrument) -> None:
    """A bar family against the fast engine (same fee, fill at next open, full history in
    every view): same entries at the same times."""
    strategy = _strategy(kind, [instrument], params)
    candles = {instrument: frame}
    fees = VenueFees(D(10), D(10))
    result = run_backtest(
        strategy, candles, *_window(frame), D(10_000), fees=fees, lookback_bars=len(frame)
    )
    fast = run_targets(frame, strategy.target_series(frame), BacktestSettings(10_000.0, 10.0))
    assert result.n_trades == fast.n_trades > 0
    assert list(result.fills["time"]) == list(fast.fills["time"])
    _track_and_check(tracking, result, strategy, candles, {"fee_bps": 10})


def test_sma_cross_btc(raw, tracking):
    """Entries are the up-crosses of SMA(10) over SMA(30), recomputed here with pandas
    from the raw closes, each filled at the next bar's open."""
    frame = _slice(raw["btc"], "2023-06-01", "2023-08-01")
    strategy = _strategy("sma_cross", [BTC], {"fast": 10, "slow": 30})
    result = run_backtest(strategy, {BTC: frame}, *_window(frame), D(10_000))
    fast, slow = frame["close"].rolling(10).mean(), frame["close"].rolling(30).mean()
    above = fast > slow
    up = above & ~above.shift(1, fill_value=True) & slow.shift(1).notna()
    expected = frame["ts"].shift(-1)[up.to_numpy()].dropna()
    buys = result.fills.loc[result.fills["side"] == "buy", "time"]
    assert list(buys) == list(expected)
    assert (
        result.fills["price"].to_numpy()
        == frame.set_index("ts").loc[result.fills["time"], "open"].to_numpy()
    ).all()
    _track_and_check(tracking, result, strategy, {BTC: frame}, {"fee_bps": 10})


def test_momentum_btc(raw, tracking):
    _parity("momentum", _slice(raw["btc"], "2023-01-01", "2023-03-01"), {}, tracking, BTC)


def test_mean_reversion_eth(raw, tracking):
    frame = _slice(raw["eth"], "2023-06-01", "2023-08-01")
    _parity("mean_reversion", frame, {"allow_short": False}, tracking, ETH)


def test_dca_eth(raw, tracking):
    """One buy of about 100 USDT at 01:00 of every day (the decision on the 00:00 bar's
    close), counted here from the raw file's 00:00 bars."""
    frame = _slice(raw["eth"], "2023-03-01", "2023-04-01")
    strategy = _strategy(
        "dca", [ETH], {"max_allocation": 0.5}, amount_per_trade=100, frequency="1d"
    )
    result = run_backtest(
        strategy, {ETH: frame}, *_window(frame), D(10_000), decision_timeframe="1h"
    )
    bars = set(frame["ts"])
    midnights = [t for t in frame.loc[frame["ts"].dt.hour == 0, "ts"] if t + HOUR in bars]
    buys = result.fills.loc[result.fills["side"] == "buy"]
    assert list(buys["time"]) == [t + HOUR for t in midnights]
    # the only sell: the default 10 % stop of the strategy's risk limits
    assert (result.fills["side"] == "sell").sum() <= 1
    opens, closes = frame.set_index("ts")["open"], frame.set_index("ts")["close"]
    when = buys["time"]
    expected = 100 * opens[when].to_numpy() / closes[when - HOUR].to_numpy()
    np.testing.assert_allclose(buys["units"] * buys["price"], expected, rtol=1e-6)
    _track_and_check(tracking, result, strategy, {ETH: frame}, {"fee_bps": 10})


def test_grid_eth(raw, tracking):
    """Every grid fill happens on the bar after a close crossed a level (from the raw file)."""
    frame = _slice(raw["eth"], "2023-06-01", "2023-07-01")
    lower, upper = float(frame["close"].min()), float(frame["close"].max())
    params = {"lower": round(lower, 2), "upper": round(upper, 2), "levels": 8}
    strategy = _strategy("grid", [ETH], params, amount_per_trade=500)
    result = run_backtest(strategy, {ETH: frame}, *_window(frame), D(10_000))
    levels = np.linspace(params["lower"], params["upper"], 8)
    close = frame["close"].to_numpy()
    crossed = [
        frame["ts"].iloc[t + 1]
        for t in range(1, len(frame) - 1)
        if ((levels >= min(close[t - 1], close[t])) & (levels <= max(close[t - 1], close[t]))).any()
    ]
    assert len(result.fills) > 0
    assert set(result.fills["time"]) <= set(crossed)
    _track_and_check(tracking, result, strategy, {ETH: frame}, {"fee_bps": 10})


def _cross_arb(raw, fee_bps: int):
    binance = _slice(raw["btc"], "2023-11-01", "2023-11-15")
    kraken = _slice(raw["kraken"], "2023-11-01", "2023-11-15")
    candles = {BTC: binance, KRAKEN: kraken}
    fee = fee_bps / 10_000
    params = {"taker_fees": {"binance": fee, "kraken": fee}, "max_amount": "0.01"}
    strategy = _strategy("arb_cross", [BTC, KRAKEN], params)
    holdings = {"binance": {"BTC": D("0.1")}, "kraken": {"BTC": D("0.1")}}
    result = run_backtest(
        strategy, candles, *_window(binance), D(10_000),
        fees=VenueFees(D(fee_bps), D(fee_bps)), initial_holdings=holdings,
    )  # fmt: skip
    return strategy, candles, result


def test_cross_exchange_arbitrage_binance_kraken(raw, tracking):
    """Orders go out only on the bar after a close at which selling on one venue and
    buying on the other beat both taker fees, computed here from the two raw files; with
    fees above the widest spread of the window it never trades."""
    strategy, candles, result = _cross_arb(raw, 2)
    closes = pd.concat(
        {"binance": candles[BTC].set_index("ts")["close"], "kraken": candles[KRAKEN].set_index("ts")["close"]},
        axis=1,
    ).dropna()  # fmt: skip
    fee = 2 / 10_000
    edge_kb = closes["binance"] * (1 - fee) - closes["kraken"] * (1 + fee)
    edge_bk = closes["kraken"] * (1 - fee) - closes["binance"] * (1 + fee)
    profitable = set(closes.index[(edge_kb > 0) | (edge_bk > 0)] + HOUR)
    assert len(result.orders) > 0
    assert set(result.orders["time"]) <= profitable
    assert set(result.orders["instrument"]) == {str(BTC), str(KRAKEN)}
    _track_and_check(tracking, result, strategy, candles, {"fee_bps": 2})

    widest = float((closes["kraken"] / closes["binance"] - 1).abs().max() * 10_000)
    _, _, quiet = _cross_arb(raw, int(widest) + 1)
    assert quiet.orders.empty and quiet.fills.empty


def test_funding_carry_books_the_funding_it_held(raw, tracking):
    """Funding income equals the sum over settlements s of -position(s) x mark(s) x rate(s):
    position from the perpetual's fills before s, mark the perpetual's close of the hour
    ending at s and the rate from the funding file, all read here."""
    spot = _slice(raw["btc"], "2024-02-01", "2024-03-15")
    perp = _slice(raw["perp"], "2024-02-01", "2024-03-15")
    funding = raw["funding"]
    candles = {BTC: spot, PERP: perp}
    strategy = _strategy("arb_funding", [BTC, PERP], {"holding_hours": 240}, amount_per_trade=5000)
    fees = {"binance": VenueFees(D(10), D(10)), "binanceusdm": VenueFees(D(5), D(2))}
    result = run_backtest(
        strategy, candles, *_window(spot), D(10_000), funding={PERP: funding}, fees=fees
    )
    perp_fills = result.fills.loc[result.fills["instrument"] == str(PERP)]
    assert (perp_fills["units"].iloc[0] < 0) and len(result.funding) > 10
    settle = pd.to_datetime(funding["timestamp"], unit="ms", utc=True)
    marks = perp.set_index("ts")["close"]
    expected = 0.0
    for ts, rate in zip(settle, funding["funding_rate"], strict=True):
        if not spot["ts"].iloc[0] < ts <= spot["ts"].iloc[-1] + HOUR:
            continue
        position = perp_fills.loc[perp_fills["time"] < ts, "units"].sum()
        expected += -position * marks[ts - HOUR] * rate
    assert result.funding_income == pytest.approx(expected, rel=1e-9)
    assert result.funding_income > 0
    _track_and_check(tracking, result, strategy, candles, {"funding": "8h"})


def test_market_making_btc_1m_keeps_inventory_within_its_limit(raw, tracking):
    """Quotes rest for one 1m bar on synthetic books; inventory never leaves
    [-max_inventory, max_inventory], and every maker fill lies inside its bar's range."""
    frame = raw["btc_1m"].iloc[:600].reset_index(drop=True)
    params = {"max_inventory": "0.05", "quote_size": "0.01", "base_spread_bps": 4, "vol_window": 30}
    strategy = _strategy("market_making", [BTC], params, frequency="1m")
    result = run_backtest(
        strategy, {BTC: frame}, frame["ts"].iloc[0], frame["ts"].iloc[-1] + pd.Timedelta(minutes=1),
        D(10_000), fees=VenueFees(D(5), D(0)), half_spread_bps=D(1), resting_limits=True,
    )  # fmt: skip
    assert len(result.fills) > 5 and set(result.fills["liquidity"]) == {"maker"}
    assert result.positions[str(BTC)].abs().max() <= 0.05
    bars = frame.set_index("ts")
    low, high = bars.loc[result.fills["time"], "low"], bars.loc[result.fills["time"], "high"]
    assert (
        (result.fills["price"].to_numpy() >= low.to_numpy())
        & (result.fills["price"].to_numpy() <= high.to_numpy())
    ).all()
    assert result.fees_paid == 0.0  # maker fee 0 bps
    _track_and_check(tracking, result, strategy, {BTC: frame}, {"resting_limits": True})
