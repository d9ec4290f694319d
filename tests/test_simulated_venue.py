"""The simulated venue: ccxt shapes, the venue clock, resampling, paging and errors."""

from __future__ import annotations

from decimal import Decimal

import ccxt
import numpy as np
import pandas as pd
import pytest

from zvt_pipelines.data.candles import candles_from_ohlcv
from zvt_pipelines.errors import BadRequest, BadTimeframe, ConfigError, NotSupported, UnknownSymbol
from zvt_pipelines.venues.base import download_ohlcv
from zvt_pipelines.venues.simulator.market import MarketSimulator
from zvt_pipelines.venues.simulator.venue import SimulatedVenue

NOW = pd.Timestamp("2024-01-03 12:34:56.789", tz="UTC")


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def ms(stamp: pd.Timestamp) -> int:
    return stamp.value // 1_000_000


@pytest.fixture(scope="module")
def sim() -> MarketSimulator:
    return MarketSimulator(21, ("sim_a", "sim_b"), ("BTC/USDT", "ETH/USDT", "BTC/USDT:USDT"))


@pytest.fixture
def venue(sim: MarketSimulator) -> SimulatedVenue:
    return SimulatedVenue("sim_a", sim, clock=lambda: NOW, balances={"USDT": "10000.5", "BTC": 1})


def test_markets_have_ccxt_structure_and_tick_precision(venue: SimulatedVenue) -> None:
    """Every key of ccxt's market template is present, and a real ccxt Exchange loaded with
    these markets in TICK_SIZE mode rounds to our ticks: 42000.129 -> 42000.13 (tick 0.01),
    0.1234567 BTC -> 0.12345 (step 0.00001, truncated)."""
    markets = venue.load_markets()
    exchange = ccxt.Exchange()
    template = exchange.safe_market_structure()
    for market in markets.values():
        assert set(template) <= set(market)
        assert set(template["limits"]) <= set(market["limits"])
    spot, perp = markets["BTC/USDT"], markets["BTC/USDT:USDT"]
    assert (spot["type"], spot["spot"], spot["settle"]) == ("spot", True, None)
    assert (perp["type"], perp["swap"], perp["settle"], perp["linear"]) == (
        "swap",
        True,
        "USDT",
        True,
    )
    assert spot["precision"] == {**template["precision"], "amount": 1e-05, "price": 0.01}
    assert spot["limits"]["amount"]["min"] == 1e-05 and spot["limits"]["cost"]["min"] == 5.0
    assert spot["maker"] == spot["taker"] == 0.001 and spot["active"] is True
    assert len({m["id"] for m in markets.values()}) == len(markets)
    exchange.precisionMode = ccxt.TICK_SIZE
    exchange.set_markets(list(markets.values()))
    assert exchange.price_to_precision("BTC/USDT", 42000.129) == "42000.13"
    assert exchange.amount_to_precision("BTC/USDT", 0.1234567) == "0.12345"


def test_fetch_ohlcv_returns_only_closed_candles(
    venue: SimulatedVenue, sim: MarketSimulator
) -> None:
    """At 12:34:56.789 the last closed 1m candle opened at 12:33; the default page is 1000."""
    rows = venue.fetch_ohlcv("BTC/USDT")
    assert len(rows) == 1000
    assert rows[-1][0] == ms(utc("2024-01-03 12:33"))
    assert rows[0][0] == ms(utc("2024-01-03 12:33")) - 999 * 60_000
    expected = sim.candles("sim_a", "BTC/USDT", utc("2024-01-02 19:54"), utc("2024-01-03 12:34"))
    pd.testing.assert_frame_equal(candles_from_ohlcv(rows), expected)


def test_fetch_ohlcv_since_and_limit(venue: SimulatedVenue) -> None:
    """`since` in the middle of 10:00 starts at the next candle, 10:01 (ccxt/Binance rule)."""
    rows = venue.fetch_ohlcv("BTC/USDT", "1m", since=ms(utc("2024-01-03 10:00:30")), limit=5)
    assert [r[0] for r in rows] == [ms(utc("2024-01-03 10:01")) + i * 60_000 for i in range(5)]
    assert venue.fetch_ohlcv("BTC/USDT", "1m", since=ms(utc("2024-01-03 12:34"))) == []
    near_now = venue.fetch_ohlcv("BTC/USDT", "1m", since=ms(utc("2024-01-03 12:30")), limit=100)
    assert len(near_now) == 4  # 12:30, 12:31, 12:32, 12:33


def test_coarser_timeframes_resample_the_minutes(
    venue: SimulatedVenue, sim: MarketSimulator
) -> None:
    """1h candles are first open, max high, min low, last close and summed volume of their
    60 minutes (computed here with a plain pandas groupby); the 12:00 hour is not closed at
    12:34, so the last hour opens at 11:00. The daily candle of 2024-01-03 is not closed."""
    hours = candles_from_ohlcv(venue.fetch_ohlcv("BTC/USDT", "1h", since=ms(utc("2024-01-02"))))
    assert hours["ts"].iloc[-1] == utc("2024-01-03 11:00") and len(hours) == 36
    minutes = sim.candles("sim_a", "BTC/USDT", utc("2024-01-02"), utc("2024-01-03 12:00"))
    grouped = minutes.groupby(minutes["ts"].dt.floor("h"))
    by_hand = pd.DataFrame(
        {
            "open": grouped["open"].first(),
            "high": grouped["high"].max(),
            "low": grouped["low"].min(),
            "close": grouped["close"].last(),
            "volume": grouped["volume"].sum(),
        }
    )
    np.testing.assert_allclose(
        hours[["open", "high", "low", "close", "volume"]], by_hand, rtol=1e-12
    )
    days = venue.fetch_ohlcv("BTC/USDT", "1d", since=ms(utc("2024-01-01")))
    assert [d[0] for d in days] == [ms(utc("2024-01-01")), ms(utc("2024-01-02"))]
    four_hours = venue.fetch_ohlcv("BTC/USDT", "4h", limit=2)
    assert [r[0] for r in four_hours] == [ms(utc("2024-01-03 04:00")), ms(utc("2024-01-03 08:00"))]


def test_the_clock_reveals_candles_as_time_passes(sim: MarketSimulator) -> None:
    now = [utc("2024-01-03 12:34:59.999")]
    venue = SimulatedVenue("sim_b", sim, clock=lambda: now[0])
    assert venue.fetch_ohlcv("ETH/USDT", limit=1)[0][0] == ms(utc("2024-01-03 12:33"))
    now[0] = utc("2024-01-03 12:35")
    assert venue.fetch_ohlcv("ETH/USDT", limit=1)[0][0] == ms(utc("2024-01-03 12:34"))


def test_download_ohlcv_pages_over_several_days(sim: MarketSimulator) -> None:
    """2.5 days of 1m candles = 3600 rows in 4 pages of at most 1000, equal to the simulator's."""
    venue = SimulatedVenue("sim_b", sim, clock=lambda: utc("2024-01-10"))
    start, end = utc("2024-01-01"), utc("2024-01-03 12:00")
    frame = download_ohlcv(venue, "ETH/USDT", "1m", start, end)
    assert len(frame) == 3600
    pd.testing.assert_frame_equal(frame, sim.candles("sim_b", "ETH/USDT", start, end))
    hourly = download_ohlcv(venue, "ETH/USDT", "1h", start, end, page_limit=7)
    assert len(hourly) == 60 and hourly["ts"].iloc[-1] == utc("2024-01-03 11:00")


def test_fetch_order_book_at_the_clock(venue: SimulatedVenue, sim: MarketSimulator) -> None:
    book = venue.fetch_order_book("BTC/USDT")
    assert len(book["bids"]) == len(book["asks"]) == 100
    assert book["timestamp"] == ms(NOW) and book["datetime"] == "2024-01-03T12:34:56.789Z"
    assert book == sim.order_book("sim_a", "BTC/USDT", NOW, 100)
    assert len(venue.fetch_order_book("BTC/USDT", limit=5)["asks"]) == 5


def test_fetch_trades_never_shows_the_future(venue: SimulatedVenue) -> None:
    latest = venue.fetch_trades("BTC/USDT")
    assert len(latest) == 500
    assert latest[-1]["timestamp"] <= ms(NOW)
    assert [t["timestamp"] for t in latest] == sorted(t["timestamp"] for t in latest)
    since = ms(utc("2024-01-03 12:00:00.250"))
    page = venue.fetch_trades("BTC/USDT", since=since, limit=50)
    assert len(page) == 50 and page[0]["timestamp"] >= since
    tail = venue.fetch_trades("BTC/USDT", since=ms(utc("2024-01-03 12:34")), limit=1000)
    assert tail and all(ms(utc("2024-01-03 12:34")) <= t["timestamp"] <= ms(NOW) for t in tail)
    assert venue.fetch_trades("BTC/USDT", since=ms(NOW) + 1) == []


def test_fetch_funding_rate_history(sim: MarketSimulator) -> None:
    """At 2024-01-05 10:00 the last settled funding is 08:00; five before it go back 40 h."""
    venue = SimulatedVenue("sim_a", sim, clock=lambda: utc("2024-01-05 10:00"))
    latest = venue.fetch_funding_rate_history("BTC/USDT:USDT", limit=5)
    expected = [ms(utc("2024-01-05 08:00")) - i * 8 * 3_600_000 for i in range(4, -1, -1)]
    assert [r["timestamp"] for r in latest] == expected
    assert all(r["symbol"] == "BTC/USDT:USDT" and abs(r["fundingRate"]) <= 0.003 for r in latest)
    since = venue.fetch_funding_rate_history("BTC/USDT:USDT", since=ms(utc("2024-01-01 00:00")))
    assert len(since) == 14 and since[0]["datetime"] == "2024-01-01T00:00:00.000Z"
    with pytest.raises(NotSupported, match="spot"):
        venue.fetch_funding_rate_history("BTC/USDT")


def test_fetch_balance_in_ccxt_shape_with_decimals(venue: SimulatedVenue) -> None:
    balance = venue.fetch_balance()
    assert balance["USDT"] == {
        "free": Decimal("10000.5"),
        "used": Decimal(0),
        "total": Decimal("10000.5"),
    }
    assert balance["total"] == {"BTC": Decimal(1), "USDT": Decimal("10000.5")}
    assert balance["free"]["BTC"] == Decimal(1) and balance["used"]["BTC"] == Decimal(0)
    venue.balances.used["USDT"] = Decimal("500.25")
    assert venue.fetch_balance()["free"]["USDT"] == Decimal("9500.25")


def test_errors_name_the_symbol_venue_and_value(
    venue: SimulatedVenue, sim: MarketSimulator
) -> None:
    with pytest.raises(UnknownSymbol, match=r"'DOGE/USDT'.*'sim_a'"):
        venue.fetch_ohlcv("DOGE/USDT")
    with pytest.raises(UnknownSymbol, match=r"'DOGE/USDT'.*'sim_a'"):
        venue.fetch_order_book("DOGE/USDT")
    with pytest.raises(BadTimeframe, match=r"'7m'.*'sim_a'"):
        venue.fetch_ohlcv("BTC/USDT", "7m")
    with pytest.raises(BadTimeframe, match="'hour'"):
        venue.fetch_ohlcv("BTC/USDT", "hour")
    with pytest.raises(BadRequest, match="limit 0"):
        venue.fetch_ohlcv("BTC/USDT", limit=0)
    with pytest.raises(BadRequest, match="limit 2000"):
        venue.fetch_trades("BTC/USDT", limit=2000)
    with pytest.raises(ConfigError, match="'sim_c'"):
        SimulatedVenue("sim_c", sim)
    with pytest.raises(ConfigError, match=r"balance of 'BTC'.*-1"):
        SimulatedVenue("sim_a", sim, balances={"BTC": "-1"})
    with pytest.raises(ConfigError, match="taker_fee 0.001"):
        SimulatedVenue("sim_a", sim, taker_fee=0.001)
    naive = SimulatedVenue("sim_a", sim, clock=lambda: pd.Timestamp("2024-01-03"))
    with pytest.raises(ConfigError, match="clock time.*timezone-aware"):
        naive.fetch_ohlcv("BTC/USDT")


def test_wall_clock_default(sim: MarketSimulator) -> None:
    """Without a clock the venue lives at the current UTC time (inside the simulated span)."""
    venue = SimulatedVenue("sim_a", sim)
    before = pd.Timestamp.now(tz="UTC")
    last = venue.fetch_ohlcv("BTC/USDT", "1m", limit=2)[-1][0]
    assert ms(before.floor("min")) - 60_000 <= last <= ms(before.floor("min"))
