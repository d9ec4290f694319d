"""CcxtVenue: a real `ccxt.binance` talking HTTP to the local Binance emulator.

ccxt is never mocked. Expected values come from the real data files the emulator
serves (or from hand-worked page arithmetic), not from the code under test.
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from tests.fakes.binance_server import ApiError, BinanceEmulator, Fault, Request, TradeRow
from zvt_pipelines.data.candles import read_candle_file, slice_candles
from zvt_pipelines.errors import (
    AuthenticationFailed,
    BadTimeframe,
    ConfigError,
    UnknownSymbol,
    VenueUnavailable,
)
from zvt_pipelines.venues.base import Venue, download_ohlcv
from zvt_pipelines.venues.ccxt_venue import BLOCKED_URL, CcxtVenue, retry_after_seconds
from zvt_pipelines.venues.credentials import Credentials
from zvt_pipelines.venues.retry import RetryPolicy

KLINES = "/api/v3/klines"
SPOT_ONLY = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False}
# Margins that hold on a loaded 2-core machine: an ordinary request has CLIENT_TIMEOUT_MS
# to answer (it needs a few ms idle), and a scripted late answer comes LATE_S after the
# request, a full 1.5 s after the client has given up.
CLIENT_TIMEOUT_MS = 1_500
LATE_S = 3.0
FAST_RETRY = RetryPolicy(max_attempts=5, base_delay=0.001, max_delay=0.01)
SERVED_FROM = pd.Timestamp("2025-06-02", tz="UTC")
SERVED_TO = pd.Timestamp("2025-06-07", tz="UTC")
START = pd.Timestamp("2025-06-03", tz="UTC")
END = pd.Timestamp("2025-06-06", tz="UTC")  # 3 days of 1m candles = 4320 = 5 pages of <= 1000
MINUTE_MS = 60_000


@pytest.fixture(scope="module")
def btc_1m(shared_data: Path) -> pd.DataFrame:
    """Five days of real Binance BTC/USDT 1m candles (no gaps in this stretch)."""
    frame = read_candle_file(shared_data / "binance_BTC-USDT_1m.csv.gz")
    return slice_candles(frame, SERVED_FROM, SERVED_TO)


@pytest.fixture
def emulator(btc_1m: pd.DataFrame):
    with BinanceEmulator(api_key="key-0123456789", secret="right-secret-xyz") as em:
        em.set_candles("BTCUSDT", "1m", btc_1m)
        em.balances.update({"BTC": ("0.50000000", "0.10000000"), "USDT": ("1234.56000000", "0")})
        yield em


def make_venue(em: BinanceEmulator, **kwargs) -> CcxtVenue:
    """A venue on the emulator with test-sized timeouts, rate limit and backoff."""
    kwargs.setdefault("retry", FAST_RETRY)
    kwargs.setdefault("timeout_ms", CLIENT_TIMEOUT_MS)
    api = f"{em.base_url}/api/v3"
    return CcxtVenue(
        "binance",
        options=SPOT_ONLY,
        urls={"public": api, "private": api},
        rate_limit_ms=1,
        **kwargs,
    )


def ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)


# -- paging ------------------------------------------------------------------------------


def test_download_pages_a_multi_day_range_to_exactly_the_source(emulator, btc_1m):
    venue = make_venue(emulator)
    assert isinstance(venue, Venue)

    frame = download_ohlcv(venue, "BTC/USDT", "1m", START, END)

    expected = slice_candles(btc_1m, START, END)
    assert len(frame) == 3 * 24 * 60
    pd.testing.assert_frame_equal(frame, expected, check_exact=True)
    pages = emulator.requests(KLINES)
    # 4320 candles in pages of 1000: starts at +0, +1000, +2000, +3000, +4000 minutes
    assert [int(r.query["startTime"]) for r in pages] == [
        ms(START) + k * 1000 * MINUTE_MS for k in range(5)
    ]
    assert {r.query["limit"] for r in pages} == {"1000"}
    assert {r.query["symbol"] for r in pages} == {"BTCUSDT"}


def test_download_leaves_gaps_missing_and_does_not_loop(emulator, btc_1m):
    minutes = (btc_1m["ts"] - START) // pd.Timedelta(minutes=1)
    # an outage longer than a page, and one lone missing candle
    gapped = btc_1m[~minutes.between(1500, 2699) & (minutes != 3999)].reset_index(drop=True)
    emulator.set_candles("BTCUSDT", "1m", gapped)

    frame = download_ohlcv(make_venue(emulator), "BTC/USDT", "1m", START, END)

    assert len(frame) == 4320 - 1200 - 1
    pd.testing.assert_frame_equal(frame, slice_candles(gapped, START, END), check_exact=True)
    starts = [int(r.query["startTime"]) for r in emulator.requests(KLINES)]
    assert starts == sorted(set(starts)), "a page was requested twice"
    assert len(starts) <= 5


def test_download_stops_where_the_venue_history_ends(emulator, btc_1m):
    end_of_data = pd.Timestamp("2025-06-05 12:00", tz="UTC")
    emulator.set_candles("BTCUSDT", "1m", slice_candles(btc_1m, SERVED_FROM, end_of_data))

    frame = download_ohlcv(make_venue(emulator), "BTC/USDT", "1m", START, END)

    pd.testing.assert_frame_equal(
        frame, slice_candles(btc_1m, START, end_of_data), check_exact=True
    )
    assert (
        len(emulator.requests(KLINES)) == 5
    )  # 3600 candles fill 4 pages, the 5th comes back empty


def get_json(em: BinanceEmulator, path_and_query: str) -> tuple[int, object]:
    """A raw GET against the emulator: (HTTP status, decoded JSON body)."""
    try:
        with urllib.request.urlopen(em.base_url + path_and_query, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_emulator_klines_follow_binance_semantics(emulator, btc_1m):
    start, end = ms(START), ms(START) + 9 * MINUTE_MS
    q = "/api/v3/klines?symbol=BTCUSDT&interval=1m"
    status, both = get_json(emulator, f"{q}&startTime={start}&endTime={end}&limit=1000")
    assert status == 200 and [k[0] for k in both] == [start + i * MINUTE_MS for i in range(10)]
    # without startTime: the newest `limit` candles whose open time is <= endTime
    _, newest = get_json(emulator, f"{q}&endTime={end}&limit=3")
    assert [k[0] for k in newest] == [end - 2 * MINUTE_MS, end - MINUTE_MS, end]
    first = btc_1m[btc_1m["ts"] == START].iloc[0]
    assert [float(v) for v in both[0][1:6]] == [
        first.open,
        first.high,
        first.low,
        first.close,
        first.volume,
    ]
    assert both[0][6] == start + MINUTE_MS - 1  # close time
    assert get_json(emulator, f"{q}&limit=1001") == (
        400,
        {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."},
    )
    assert get_json(emulator, "/api/v3/klines?symbol=DOGEUSDT&interval=1m") == (
        400,
        {"code": -1121, "msg": "Invalid symbol."},
    )
    assert get_json(emulator, "/api/v3/klines?interval=1m")[1]["code"] == -1102
    assert get_json(emulator, "/api/v3/klines?symbol=BTCUSDT&interval=7m")[1]["code"] == -1120
    status, _ = get_json(emulator, "/api/v3/account?timestamp=1&signature=00")
    assert status == 401


# -- retries -----------------------------------------------------------------------------


def first_candles(btc_1m: pd.DataFrame, count: int) -> list[list[float]]:
    rows = slice_candles(btc_1m, START, END).head(count)
    return [
        [ms(r.ts), r.open, r.high, r.low, r.close, r.volume] for r in rows.itertuples(index=False)
    ]


def test_timeouts_are_retried_and_the_data_arrives(emulator, btc_1m):
    venue = make_venue(emulator)
    venue.load_markets()
    emulator.inject(KLINES, Fault.slow(LATE_S), Fault.slow(LATE_S))

    rows = venue.fetch_ohlcv("BTC/USDT", "1m", since=ms(START), limit=10)

    assert rows == first_candles(btc_1m, 10)
    assert len(emulator.requests(KLINES)) == 3


def test_rate_limit_429_is_retried_after_the_servers_retry_after(emulator, btc_1m, caplog):
    venue = make_venue(
        emulator, retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.05)
    )
    venue.load_markets()
    emulator.inject(KLINES, Fault.http(429, retry_after=1))

    with caplog.at_level(logging.WARNING, logger="zvt_pipelines.venues.retry"):
        rows = venue.fetch_ohlcv("BTC/USDT", "1m", since=ms(START), limit=5)

    assert rows == first_candles(btc_1m, 5)
    assert len(emulator.requests(KLINES)) == 2
    # backoff alone would wait <= 1 ms; Retry-After: 1 raises it to the 0.05 s cap
    assert "retrying in 0.050 s" in caplog.text


def test_server_errors_500_502_503_504_are_retried(emulator, btc_1m):
    venue = make_venue(emulator)
    venue.load_markets()
    emulator.inject(KLINES, *(Fault.http(status) for status in (500, 502, 503, 504)))

    rows = venue.fetch_ohlcv("BTC/USDT", "1m", since=ms(START), limit=3)

    assert rows == first_candles(btc_1m, 3)
    assert len(emulator.requests(KLINES)) == 5


def test_a_fault_outlasting_the_retries_is_venue_unavailable(emulator):
    venue = make_venue(
        emulator, retry=RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01)
    )
    venue.load_markets()
    emulator.inject(KLINES, *[Fault.http(503)] * 10)

    with pytest.raises(VenueUnavailable) as caught:
        venue.fetch_ohlcv("BTC/USDT", "1m", since=ms(START), limit=3)

    message = str(caught.value)
    assert "'binance'" in message and "fetch_ohlcv" in message and "3 time(s)" in message
    assert "HTTP 503" in message
    assert len(emulator.requests(KLINES)) == 3


# -- typed errors --------------------------------------------------------------------------


def test_unknown_symbol_is_named_without_a_kline_request(emulator):
    venue = make_venue(emulator)

    with pytest.raises(UnknownSymbol, match=r"'DOGE/USDT'.*'binance'"):
        venue.fetch_ohlcv("DOGE/USDT", "1m", since=ms(START), limit=3)
    assert emulator.requests(KLINES) == []


def test_symbol_delisted_after_loading_markets_is_unknown_symbol(emulator):
    venue = make_venue(emulator)
    venue.load_markets()
    emulator.remove_symbol("ETHUSDT")  # the venue's cached market list is now stale

    with pytest.raises(UnknownSymbol, match=r"'ETH/USDT'.*'binance'.*Invalid symbol"):
        venue.fetch_ohlcv("ETH/USDT", "1m", since=ms(START), limit=3)
    assert len(emulator.requests(KLINES)) == 1  # a bad symbol is not retried


def test_bad_timeframe_fails_before_any_request(emulator):
    venue = make_venue(emulator)

    with pytest.raises(BadTimeframe, match=r"'7m'.*'binance'"):
        venue.fetch_ohlcv("BTC/USDT", "7m")
    assert emulator.requests() == []


def test_right_secret_returns_the_served_balances(emulator):
    venue = make_venue(emulator, credentials=Credentials(emulator.api_key, emulator.secret))

    balance = venue.fetch_balance()

    assert balance["BTC"] == {"free": 0.5, "used": 0.1, "total": 0.6}
    assert balance["USDT"]["free"] == 1234.56
    (request,) = emulator.requests("/api/v3/account")
    assert request.headers["x-mbx-apikey"] == emulator.api_key
    assert "signature" in request.query and "timestamp" in request.query


@pytest.mark.parametrize(
    ("api_key", "secret"),
    [("key-0123456789", "wrong-secret-abc"), ("not-the-key-987", "right-secret-xyz")],
    ids=["wrong-secret", "wrong-key"],
)
def test_wrong_credentials_are_authentication_failed(emulator, api_key, secret):
    venue = make_venue(emulator, credentials=Credentials(api_key, secret))

    with pytest.raises(
        AuthenticationFailed, match=r"'binance' refused the API credentials"
    ) as caught:
        venue.fetch_balance()

    message = str(caught.value) + repr(venue)
    assert secret not in message and api_key not in message
    (request,) = emulator.requests("/api/v3/account")  # refused credentials are not retried
    assert request.query["signature"] not in message


def test_ccxt_debug_log_and_errors_never_show_key_secret_or_signature(emulator, caplog):
    venue = make_venue(emulator, credentials=Credentials(emulator.api_key, emulator.secret))
    with caplog.at_level(logging.DEBUG, logger="ccxt"):
        venue.fetch_balance()
    (request,) = emulator.requests("/api/v3/account")
    assert "/api/v3/account" in caplog.text  # ccxt did log the request
    for secret in (emulator.api_key, emulator.secret, request.query["signature"]):
        assert secret not in caplog.text


def test_unknown_exchange_id_is_a_config_error():
    with pytest.raises(ConfigError, match=r"'binancee'.*ccxt\.exchanges"):
        CcxtVenue("binancee")


def test_url_overrides_block_every_other_section_and_reject_unknown_ones(emulator):
    venue = make_venue(emulator)
    api = venue.exchange.urls["api"]
    assert api["public"] == f"{emulator.base_url}/api/v3"
    assert api["sapi"] == api["fapiPublic"] == BLOCKED_URL

    with pytest.raises(ConfigError, match=r"'publik'"):
        CcxtVenue("binance", urls={"publik": emulator.base_url})
    with pytest.raises(ConfigError, match=r"'ftp://x'"):
        CcxtVenue("binance", urls={"public": "ftp://x"})


# -- order book and trades from the real capture -------------------------------------------


def test_order_book_is_the_real_snapshot(emulator, shared_data):
    snapshot = pd.read_csv(
        shared_data / "binance_BTC-USDT_orderbook_snapshot_2024-08-08T2354Z.csv.gz", dtype=str
    )
    levels = {
        side: snapshot[snapshot["side"] == side].sort_values("level", key=lambda s: s.astype(int))
        for side in ("bid", "ask")
    }
    emulator.set_order_book(
        "BTCUSDT",
        bids=levels["bid"][["price", "quantity"]].values.tolist(),
        asks=levels["ask"][["price", "quantity"]].values.tolist(),
        last_update_id=int(snapshot["last_update_id"].iloc[0]),
    )

    book = make_venue(emulator).fetch_order_book("BTC/USDT", limit=5)

    assert book["bids"][0][0] == 61837.63 and book["asks"][0][0] == 61837.64  # per data README
    for side, key in (("bid", "bids"), ("ask", "asks")):
        top = levels[side].head(5)
        assert book[key] == [
            [float(p), float(q)] for p, q in zip(top["price"], top["quantity"], strict=True)
        ]
    assert book["nonce"] == 50093239218


def test_trades_are_the_real_capture_with_taker_sides(emulator, shared_data):
    trades = pd.read_csv(
        shared_data / "binance_BTC-USDT_trades_2024-08-08T2354Z_2024-08-09T0005Z.csv.gz",
        dtype={"price": str, "amount": str},
    ).head(300)
    emulator.set_trades(
        "BTCUSDT",
        (
            TradeRow(int(t.trade_id), t.price, t.amount, int(t.timestamp), t.side == "sell")
            for t in trades.itertuples(index=False)
        ),
    )

    fetched = make_venue(emulator).fetch_trades("BTC/USDT", limit=50)

    tail = trades.tail(50)
    assert [int(t["id"]) for t in fetched] == tail["trade_id"].tolist()
    assert [t["side"] for t in fetched] == tail["side"].tolist()
    assert [t["price"] for t in fetched] == [float(p) for p in tail["price"]]
    assert [t["timestamp"] for t in fetched] == tail["timestamp"].tolist()


# -- create_order: retried only with a client order id ------------------------------------


def install_order_route(em: BinanceEmulator) -> dict[str, dict]:
    """A minimal signed POST /api/v3/order that rejects a duplicate client order id, and the
    GET that finds an order by client id (-2013 when there is none)."""
    orders: dict[str, dict] = {}

    def query(request: Request) -> dict:
        client_id = request.require("origClientOrderId")
        if client_id not in orders:
            raise ApiError(400, -2013, "Order does not exist.")
        return orders[client_id]

    def new_order(request: Request) -> dict:
        client_id = request.require("newClientOrderId")
        if client_id in orders:
            raise ApiError(400, -2010, "Duplicate order sent.")
        orders[client_id] = {
            "symbol": request.require("symbol"), "orderId": len(orders) + 1, "orderListId": -1,
            "clientOrderId": client_id, "transactTime": int(time.time() * 1000),
            "price": request.require("price"), "origQty": request.require("quantity"),
            "executedQty": "0", "cummulativeQuoteQty": "0", "status": "NEW",
            "timeInForce": request.require("timeInForce"), "type": request.require("type"),
            "side": request.require("side"), "fills": [],
        }  # fmt: skip
        return orders[client_id]

    em.route("POST", "/api/v3/order", new_order, signed=True)
    em.route("GET", "/api/v3/order", query, signed=True)
    return orders


def test_create_order_with_client_id_is_retried_and_never_doubled(emulator):
    orders = install_order_route(emulator)
    venue = make_venue(emulator, credentials=Credentials(emulator.api_key, emulator.secret))
    venue.load_markets()
    emulator.inject("/api/v3/order", Fault.http(503))

    order = venue.create_order("BTC/USDT", "limit", "buy", 0.001, 60000, {"clientOrderId": "c-1"})

    assert order["clientOrderId"] == "c-1" and order["amount"] == 0.001
    methods = [r.method for r in emulator.requests("/api/v3/order")]
    assert methods == ["POST", "GET", "POST"] and list(orders) == ["c-1"]

    # placed, but the answer comes too late: the order is looked up by its client id and
    # adopted, never sent again
    emulator.inject("/api/v3/order", Fault.slow(LATE_S))
    late = venue.create_order("BTC/USDT", "limit", "buy", 0.001, 60000, {"clientOrderId": "c-2"})
    assert late["clientOrderId"] == "c-2" and list(orders) == ["c-1", "c-2"]
    assert [r.method for r in emulator.requests("/api/v3/order")][3:] == ["POST", "GET"]


def test_create_order_without_client_id_is_not_retried(emulator):
    orders = install_order_route(emulator)
    venue = make_venue(emulator, credentials=Credentials(emulator.api_key, emulator.secret))
    venue.load_markets()
    emulator.inject("/api/v3/order", Fault.slow(LATE_S))

    with pytest.raises(VenueUnavailable, match=r"create_order .*not retried.*outcome is unknown"):
        venue.create_order("BTC/USDT", "limit", "buy", 0.001, 60000)

    assert len(emulator.requests("/api/v3/order")) == 1
    assert len(orders) == 1  # it was placed (the answer was lost), exactly once


# -- retry policy and Retry-After arithmetic ------------------------------------------------


def test_retry_policy_delays_double_up_to_the_cap_with_bounded_jitter():
    policy = RetryPolicy(max_attempts=6, base_delay=0.5, max_delay=3.0, jitter=0.5)
    rng = random.Random(7)
    for attempt, full in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 3.0), (5, 3.0)]:
        delays = [policy.delay(attempt, rng=rng) for _ in range(200)]
        assert all(full * 0.5 <= d <= full for d in delays)
        assert max(delays) - min(delays) > full * 0.3  # jitter actually spreads them
    assert RetryPolicy(jitter=0).delay(3) == 2.0
    assert RetryPolicy(jitter=0, max_delay=10).delay(1, retry_after=7) == 7
    assert RetryPolicy(jitter=0, max_delay=10).delay(1, retry_after=60) == 10


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [("max_attempts", {"max_attempts": 0}), ("max_delay", {"base_delay": 2.0, "max_delay": 1.0}),
     ("jitter", {"jitter": 1.5}), ("base_delay", {"base_delay": -1})],
)  # fmt: skip
def test_retry_policy_rejects_bad_values_naming_the_field(field, kwargs):
    with pytest.raises(ConfigError, match=field):
        RetryPolicy(**kwargs)


def test_retry_after_header_in_seconds_or_http_date():
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None
    # Sun, 06 Nov 1994 08:49:37 GMT is 784111777 s after the epoch (RFC 9110's example)
    assert retry_after_seconds("Sun, 06 Nov 1994 08:49:37 GMT", now=784111770.0) == 7.0
