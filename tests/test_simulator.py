"""The market simulator: determinism, chunk independence, candle shape, stylised facts,
cross-venue basis, order books, trades and funding."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from zvt_pipelines.errors import ConfigError, NotSupported, UnknownSymbol
from zvt_pipelines.venues.simulator.market import MarketSimulator, default_simulator
from zvt_pipelines.venues.simulator.specs import ModelParams, SymbolSpec


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture(scope="module")
def sim() -> MarketSimulator:
    return MarketSimulator(11, ("sim_a", "sim_b"), ("BTC/USDT", "ETH/USDT", "BTC/USDT:USDT"))


@pytest.fixture(scope="module")
def long_btc(sim: MarketSimulator) -> pd.DataFrame:
    """120 days of BTC/USDT 1m candles on sim_a (172,800 rows)."""
    return sim.candles("sim_a", "BTC/USDT", utc("2024-01-01"), utc("2024-04-30"))


def test_same_seed_same_data_other_seed_other_data() -> None:
    start, end = utc("2024-03-01"), utc("2024-03-01 06:00")
    first = MarketSimulator(3, ("x",)).candles("x", "ETH/USDT", start, end)
    again = MarketSimulator(3, ("x",)).candles("x", "ETH/USDT", start, end)
    other = MarketSimulator(4, ("x",)).candles("x", "ETH/USDT", start, end)
    pd.testing.assert_frame_equal(first, again)
    assert len(first) == 360
    assert not np.allclose(first["close"], other["close"])


@pytest.mark.parametrize(
    "split",
    ["2024-02-02 00:00", "2024-02-02 13:37", "2024-02-01 00:01", "2024-02-03 23:59"],
)
def test_candles_are_chunk_independent(split: str) -> None:
    """[a, c) equals [a, b) + [b, c), whichever is generated first, on fresh simulators."""
    a, b, c = utc("2024-02-01 00:00"), utc(split), utc("2024-02-04 00:00")
    whole = MarketSimulator(5, ("v",)).candles("v", "BTC/USDT", a, c)
    backwards = MarketSimulator(5, ("v",))
    tail = backwards.candles("v", "BTC/USDT", b, c)  # later days generated first
    head = backwards.candles("v", "BTC/USDT", a, b)
    joined = pd.concat([head, tail], ignore_index=True)
    assert len(whole) == 3 * 1440
    pd.testing.assert_frame_equal(whole, joined)


def test_day_blocks_do_not_depend_on_cache_or_order() -> None:
    """A 2-day cache forces regeneration; a single day far from the origin needs no history."""
    small = MarketSimulator(5, ("v",), cache_days=2)
    day = (utc("2025-06-10"), utc("2025-06-11"))
    direct = small.candles("v", "BTC/USDT", *day)
    small.candles("v", "BTC/USDT", utc("2024-01-01"), utc("2024-01-05"))  # evicts 2025-06-10
    pd.testing.assert_frame_equal(direct, small.candles("v", "BTC/USDT", *day))


def test_candle_shape(long_btc: pd.DataFrame) -> None:
    """OHLC bounds, continuity (close = next open, also across midnight), tick and lot grids."""
    frame = long_btc
    assert str(frame["ts"].dtype) == "datetime64[ms, UTC]"
    assert (frame["ts"].diff().dropna() == pd.Timedelta(minutes=1)).all()
    body_high = frame[["open", "close"]].max(axis=1)
    body_low = frame[["open", "close"]].min(axis=1)
    assert (frame["high"] >= body_high).all() and (body_low >= frame["low"]).all()
    assert (frame["low"] > 0).all() and (frame["volume"] > 0).all()
    assert (frame["high"] > frame["low"]).mean() > 0.99
    np.testing.assert_array_equal(frame["open"].to_numpy()[1:], frame["close"].to_numpy()[:-1])
    cents = frame[["open", "high", "low", "close"]].to_numpy() * 100
    np.testing.assert_allclose(cents, np.round(cents), atol=1e-6)
    lots = frame["volume"].to_numpy() * 1e5
    np.testing.assert_allclose(lots, np.round(lots), atol=1e-6)


def test_prices_start_at_the_spec_and_keep_the_volatility(long_btc: pd.DataFrame) -> None:
    """The first open is the 42,000 start price moved by the basis only (sd 2.5 bp, so
    within 15 bp = 6 sd). Realised annualised volatility over 120 days is near the spec's
    0.55: the daily GARCH wanders (0.44..0.95 across seeds 0..7 over 4 months), so the
    test accepts 0.3..1.2."""
    assert abs(long_btc["open"].iloc[0] / 42_000 - 1) < 15e-4
    returns = np.diff(np.log(long_btc["close"].to_numpy()))
    annual = returns.std() * np.sqrt(525_600)
    assert 0.3 < annual < 1.2


def test_stylised_facts(long_btc: pd.DataFrame) -> None:
    """Fat tails and volatility clustering on 172,799 one-minute log returns.

    For iid Gaussian returns the sample excess kurtosis has sd sqrt(24/n) = 0.012 and the
    sample autocorrelation sd 1/sqrt(n) = 0.0024; the real Binance BTC 1m data in the
    shared folder shows excess kurtosis 10.4 and |r| autocorrelation 0.30 at lag 1.
    Requiring kurtosis > 3 and autocorrelation > 0.05 at lags 1..10 of |r| (after
    dividing out the mean |r| of each minute of the day, so the intraday profile alone
    cannot pass the test) is far outside the iid noise.
    """
    returns = np.diff(np.log(long_btc["close"].to_numpy()))
    assert scipy.stats.kurtosis(returns) > 3.0
    minute_of_day = np.arange(len(returns)) % 1440
    seasonal = pd.Series(np.abs(returns)).groupby(minute_of_day).transform("mean").to_numpy()
    scaled = np.abs(returns) / seasonal
    scaled -= scaled.mean()
    for lag in (1, 2, 5, 10):
        acf = (scaled[:-lag] * scaled[lag:]).mean() / scaled.var()
        assert acf > 0.05, f"lag {lag}: {acf}"
    signed = returns - returns.mean()
    assert abs((signed[:-1] * signed[1:]).mean() / signed.var()) < 0.05  # no free lunch


def test_volume_profile_matches_real_binance_shape(long_btc: pd.DataFrame, shared_data) -> None:
    """Mean volume per UTC hour follows the real Binance BTC/USDT 1m profile (peak at the
    US open 13-15 UTC, trough in the Asian night). With 120 x 60 minutes per hour and
    lognormal noise of sd 0.35-0.5, each hourly mean is known to about 1 %."""
    simulated = long_btc.groupby(long_btc["ts"].dt.hour)["volume"].mean()
    real = pd.read_csv(shared_data / "binance_BTC-USDT_1m.csv.gz")
    hours = pd.to_datetime(real["timestamp"], unit="ms", utc=True).dt.hour
    real_profile = real["volume"].groupby(hours).mean()
    assert np.corrcoef(simulated.to_numpy(), real_profile.to_numpy())[0, 1] > 0.7
    assert simulated.idxmax() in (13, 14, 15)
    assert simulated.max() / simulated.min() > 2.0


def test_cross_venue_spread_is_small_and_mean_reverting(sim: MarketSimulator) -> None:
    """log(a / b) is the difference of two independent OU bases (sd 2.5 bp, half-life 15 min):
    an OU with sd 2.5 * sqrt(2) = 3.54 bp, mean 0 and lag-1 autocorrelation
    phi = 2 ** (-1 / 15) = 0.9548; after 120 minutes phi ** 120 = 0.004."""
    start, end = utc("2024-02-01"), utc("2024-03-01")
    a = sim.candles("sim_a", "BTC/USDT", start, end)["close"].to_numpy()
    b = sim.candles("sim_b", "BTC/USDT", start, end)["close"].to_numpy()
    spread = np.log(a / b) * 1e4
    assert abs(spread.mean()) < 0.3
    assert 3.0 < spread.std() < 4.1
    centred = spread - spread.mean()

    def acf(lag: int) -> float:
        return float((centred[:-lag] * centred[lag:]).mean() / centred.var())

    assert abs(acf(1) - 2 ** (-1 / 15)) < 0.01
    assert abs(acf(120)) < 0.05
    hourly_a, hourly_b = np.diff(np.log(a[::60])), np.diff(np.log(b[::60]))
    assert np.corrcoef(hourly_a, hourly_b)[0, 1] > 0.99


def test_order_book_shape(sim: MarketSimulator) -> None:
    """Sorted, uncrossed, on the tick grid, near the candle price, deeper away from the touch.

    Expected level sizes grow as 1 + 0.25 j, so levels 10..19 hold about 46.25 / 21.25 =
    2.2 times levels 0..9; with lognormal noise (sd 0.5) on each level that ratio stays
    above 1 in every one of 40 snapshots."""
    candles = sim.candles("sim_a", "ETH/USDT", utc("2024-01-10"), utc("2024-01-11"))
    for minute in range(0, 1440, 36):
        at = utc("2024-01-10") + pd.Timedelta(minutes=minute, seconds=17)
        book = sim.order_book("sim_a", "ETH/USDT", at, depth=20)
        bids, asks = np.array(book["bids"]), np.array(book["asks"])
        assert bids.shape == asks.shape == (20, 2)
        assert (np.diff(bids[:, 0]) < 0).all() and (np.diff(asks[:, 0]) > 0).all()
        assert bids[0, 0] < asks[0, 0]
        mid = (bids[0, 0] + asks[0, 0]) / 2
        assert abs(mid / candles["open"].iloc[minute] - 1) < 2e-4
        assert bids[10:, 1].sum() > bids[:10, 1].sum() and asks[10:, 1].sum() > asks[:10, 1].sum()
        assert (bids[:, 1] > 0).all() and (asks[:, 1] > 0).all()
        assert book["timestamp"] == at.value // 1_000_000 and book["nonce"] is None
    assert sim.order_book("sim_a", "ETH/USDT", at, depth=20) == book


def test_trades_rebuild_the_candles(sim: MarketSimulator) -> None:
    """Across midnight: per minute the first, max, min and last trade prices are the candle's
    open, high, low and close, and the amounts add up exactly (as decimals) to the volume."""
    start, end = utc("2024-01-05 23:30"), utc("2024-01-06 00:30")
    trades = sim.trades("sim_b", "BTC/USDT", start, end)
    candles = sim.candles("sim_b", "BTC/USDT", start, end).set_index("ts")
    frame = pd.DataFrame(trades)
    assert frame["timestamp"].is_monotonic_increasing and frame["id"].is_unique
    assert set(frame["side"]) == {"buy", "sell"} and set(frame["takerOrMaker"]) == {"taker"}
    np.testing.assert_allclose(frame["cost"], frame["price"] * frame["amount"])
    minute = pd.to_datetime(frame["timestamp"], unit="ms", utc=True).dt.floor("min")
    assert (minute >= start).all() and (minute < end).all()
    rebuilt = frame.groupby(minute.astype(candles.index.dtype)).agg(
        open=("price", "first"),
        high=("price", "max"),
        low=("price", "min"),
        close=("price", "last"),
        count=("price", "size"),
    )
    assert len(rebuilt) == 60 and (rebuilt["count"] >= 4).all()
    pd.testing.assert_frame_equal(
        rebuilt[["open", "high", "low", "close"]],
        candles[["open", "high", "low", "close"]],
        check_names=False,
    )
    amounts = frame.groupby(minute)["amount"].apply(lambda a: sum(Decimal(repr(x)) for x in a))
    volumes = [Decimal(repr(v)) for v in candles["volume"]]
    assert list(amounts) == volumes
    assert (
        trades[0]["datetime"]
        == pd.Timestamp(trades[0]["timestamp"], unit="ms", tz="UTC").strftime(
            "%Y-%m-%dT%H:%M:%S.%f"
        )[:-3]
        + "Z"
    )


def test_trades_are_chunk_independent(sim: MarketSimulator) -> None:
    a, b, c = utc("2024-01-07 10:00"), utc("2024-01-07 10:17:23.5"), utc("2024-01-07 10:40")
    fresh = MarketSimulator(11, ("sim_a", "sim_b"), ("BTC/USDT", "ETH/USDT", "BTC/USDT:USDT"))
    joined = fresh.trades("sim_a", "ETH/USDT", b, c)
    joined = fresh.trades("sim_a", "ETH/USDT", a, b) + joined
    assert sim.trades("sim_a", "ETH/USDT", a, c) == joined


def test_funding_rates_follow_the_perpetual_premium(sim: MarketSimulator) -> None:
    """Rates every 8 h, capped at 0.3 %, and equal to Binance's rule applied to the premium
    measured from the candles: the mean of perp / spot - 1 over the 480 minutes before
    settlement. The spot venue's own basis (sd 2.5 bp, half-life 15 min) averages to
    about 0.75 bp over 8 h, and the rule is 1-Lipschitz, so rates agree within 4 bp."""
    start, end = utc("2024-01-02"), utc("2024-01-22")
    rates = sim.funding_rates("sim_a", "BTC/USDT:USDT", start, end)
    assert len(rates) == 60
    stamps = pd.to_datetime([r["timestamp"] for r in rates], unit="ms", utc=True)
    assert set(stamps.hour) == {0, 8, 16} and (stamps.minute == 0).all()
    perp = sim.candles("sim_a", "BTC/USDT:USDT", start - pd.Timedelta(hours=8), end)
    spot = sim.candles("sim_a", "BTC/USDT", start - pd.Timedelta(hours=8), end)
    premium = (perp["open"] / spot["open"] - 1).to_numpy()
    values = np.array([r["fundingRate"] for r in rates])
    assert (np.abs(values) <= 0.003).all()
    for i, rate in enumerate(values):
        measured = premium[i * 480 : (i + 1) * 480].mean()
        expected = measured + np.clip(0.0001 - measured, -0.0005, 0.0005)
        assert abs(rate - expected) < 4e-4
    assert (values == 0.0001).mean() > 0.3 and (values != 0.0001).sum() >= 3


@pytest.mark.parametrize(
    ("premium_bps", "expected"),
    [
        (400.0, 0.003),  # P = 4 %: P + clamp(0.01 % - 4 %) = 3.95 %, capped at 0.3 %
        (-400.0, -0.003),  # P = -4 %: -3.95 %, capped at -0.3 %
        (2.0, 0.0001),  # |I - P| < 0.05 %, so P + (I - P) = I = 0.01 %
    ],
)
def test_funding_rate_rule(premium_bps: float, expected: float) -> None:
    """Hand-worked cases of the rule with a steady premium (sd 0.01 bp) and basis (0.01 bp)."""
    spec = SymbolSpec("BTC/USDT:USDT", 42_000.0, 0.55, 1e5, premium_bps=premium_bps)
    params = ModelParams(premium_sd_bps=0.01, basis_bps=0.01)
    quiet = MarketSimulator(1, ("v",), (spec,), params=params)
    rates = quiet.funding_rates("v", "BTC/USDT:USDT", utc("2024-01-01"), utc("2024-01-03"))
    assert [r["fundingRate"] for r in rates] == [expected] * 6


def test_bad_input_names_the_value(sim: MarketSimulator) -> None:
    with pytest.raises(UnknownSymbol, match=r"'XRP/USDT'.*'sim_a'"):
        sim.candles("sim_a", "XRP/USDT", utc("2024-01-01"), utc("2024-01-02"))
    with pytest.raises(ConfigError, match="'nowhere'"):
        sim.candles("nowhere", "BTC/USDT", utc("2024-01-01"), utc("2024-01-02"))
    with pytest.raises(ConfigError, match="start.*timezone-aware"):
        sim.candles("sim_a", "BTC/USDT", pd.Timestamp("2024-01-01"), utc("2024-01-02"))
    with pytest.raises(NotSupported, match="'BTC/USDT'.*spot"):
        sim.funding_rates("sim_a", "BTC/USDT", utc("2024-01-01"), utc("2024-01-02"))
    with pytest.raises(ConfigError, match="outside the simulated span"):
        sim.candles("sim_a", "BTC/USDT", utc("2080-01-01"), utc("2080-01-02"))
    with pytest.raises(ConfigError, match="seed -1"):
        MarketSimulator(-1, ("v",))
    with pytest.raises(ConfigError, match="no default spec"):
        MarketSimulator(1, ("v",), ("DOGE/USDT",))
    with pytest.raises(ConfigError, match="share the pair BTC/USDT"):
        MarketSimulator(1, ("v",), ("BTC/USDT", SymbolSpec("BTC/USDT:USDT", 50_000.0, 0.55, 1e5)))
    with pytest.raises(ConfigError, match="annual_vol -0.2"):
        SymbolSpec("BTC/USDT", 42_000.0, -0.2, 1e5)


def test_default_simulator() -> None:
    demo = default_simulator()
    assert demo.venues == ("sim_a", "sim_b") and demo.symbols == ("BTC/USDT", "ETH/USDT")
    assert demo.seed == 7


def test_a_year_of_candles_has_every_minute_of_2024() -> None:
    """2024 is a leap year: 366 days x 1,440 minutes = 527,040 one-minute candles, one per
    minute, in order. How fast this runs is a figure of `benchmarks/simulator_speed.py`,
    not a unit-test assertion (a wall-time bound fails on a loaded machine)."""
    frame = MarketSimulator(2, ("v",)).candles(
        "v", "BTC/USDT", utc("2024-01-01"), utc("2025-01-01")
    )
    assert len(frame) == 527_040
    assert frame["ts"].iloc[0] == utc("2024-01-01")
    assert (frame["ts"].diff().dropna() == pd.Timedelta(minutes=1)).all()
