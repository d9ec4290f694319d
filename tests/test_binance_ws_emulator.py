"""The real `ccxt.pro.binance` client streaming from the local Binance websocket emulator.

The market data is the recorded BTC/USDT capture (`tests/fakes/recorded_feed.py`); expected
values come from the recorded files read here with pandas, and the order book from a plain
dict book builder in this file that follows Binance's documented procedure ("How to manage a
local order book correctly": drop events with u <= lastUpdateId, then apply each diff, a
quantity of 0 removing the level). ccxt is never mocked; every client is closed.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.pro
import pandas as pd
import pytest

from tests.fakes.binance_ws import USER_STREAM, BinanceWsEmulator
from tests.fakes.recorded_feed import (
    BOOKTICKER_FILE,
    DEPTH_FILE,
    SNAPSHOT_FILE,
    TRADES_FILE,
    RecordedFeed,
)

BLOCKED = "http://blocked.invalid"
# ccxt caps its book at the watch limit (1000 by default) and forgets levels trimmed off the
# end, which can later come back into range; 5000 (Binance's largest snapshot) keeps them all.
DEPTH = 5000
TIMEOUT = 60  # seconds; a hang fails the test instead of blocking the run


@pytest.fixture(scope="module")
def feed(shared_data: Path) -> RecordedFeed:
    return RecordedFeed(shared_data)


@pytest.fixture
def ws(feed: RecordedFeed):
    from tests.fakes.binance_server import BinanceEmulator

    with BinanceEmulator() as rest, BinanceWsEmulator(rest) as server:
        feed.reset()
        feed.attach(server)
        yield server


def make_exchange(ws: BinanceWsEmulator) -> ccxt.pro.binance:
    """A real ccxt.pro binance with REST and websocket URLs on the emulators, the rest poisoned."""
    ex = ccxt.pro.binance(
        {
            "apiKey": ws.api_key,
            "secret": ws.secret,
            "enableRateLimit": False,
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
            },
        }
    )
    api = ex.urls["api"]
    urls: dict[str, Any] = {key: BLOCKED for key in api if key != "ws"}
    urls["ws"] = {key: "ws://blocked.invalid" for key in api["ws"] if key != "ws-api"}
    urls["ws"]["ws-api"] = {key: "ws://blocked.invalid" for key in api["ws"]["ws-api"]}
    urls["ws"]["spot"] = ws.stream_url
    urls["ws"]["ws-api"]["spot"] = ws.api_url
    urls.update(public=f"{ws.rest.base_url}/api/v3", private=f"{ws.rest.base_url}/api/v3")
    ex.urls["api"] = urls
    return ex


def run(session: Callable[[ccxt.pro.binance], Coroutine[Any, Any, Any]], ws: BinanceWsEmulator):
    """Run `session(exchange)` on a fresh loop with a timeout; the exchange is always closed."""

    async def main() -> Any:
        ex = make_exchange(ws)
        try:
            await ex.load_markets()
            return await asyncio.wait_for(session(ex), TIMEOUT)
        finally:
            await ex.close()

    return asyncio.run(main())


# -- the independent reference ---------------------------------------------------------------


class ReferenceBook:
    """A plain dict order book: the recorded snapshot, then the recorded diffs in order."""

    def __init__(self, shared_data: Path) -> None:
        snapshot = pd.read_csv(shared_data / SNAPSHOT_FILE, float_precision="round_trip")
        self.nonce = int(snapshot["last_update_id"].iloc[0])
        self.sides: dict[str, dict[float, float]] = {"bid": {}, "ask": {}}
        for side, price, qty in snapshot[["side", "price", "quantity"]].itertuples(index=False):
            self.sides[side][price] = qty
        diffs = pd.read_csv(shared_data / DEPTH_FILE, float_precision="round_trip")
        diffs = diffs[diffs["last_update_id"] > self.nonce]  # Binance: drop u <= lastUpdateId
        assert diffs["first_update_id"].iloc[0] <= self.nonce + 1, (
            "the capture must reach the snapshot"
        )
        self._rows = diffs[["last_update_id", "side", "price", "quantity"]].to_numpy().tolist()
        self._next = 0

    def advance_to(self, nonce: int) -> None:
        """Apply every diff event whose final update id is <= `nonce`."""
        while self._next < len(self._rows) and self._rows[self._next][0] <= nonce:
            last_id, side, price, qty = self._rows[self._next]
            if qty == 0:
                self.sides[side].pop(price, None)
            else:
                self.sides[side][price] = qty
            self.nonce = int(last_id)
            self._next += 1

    def top(self, depth: int) -> tuple[list[list[float]], list[list[float]]]:
        bids = sorted(self.sides["bid"].items(), reverse=True)[:depth]
        asks = sorted(self.sides["ask"].items())[:depth]
        return [list(level) for level in bids], [list(level) for level in asks]


def book_top(orderbook: dict[str, Any], depth: int) -> tuple[list[list[float]], list[list[float]]]:
    return (
        [list(level[:2]) for level in orderbook["bids"][:depth]],
        [list(level[:2]) for level in orderbook["asks"][:depth]],
    )


def last_field(feed: RecordedFeed, stream: str, key: str) -> int:
    """Field `key` of the last event the feed publishes on `stream` (to know when to stop)."""
    return json.loads(next(e.text for e in reversed(feed.events) if e.stream == stream))[key]


def diffs_in(feed: RecordedFeed, count: int) -> int:
    """The final update id of the last 100 ms diff among the first `count` replayed events."""
    texts = [e.text for e in feed.events[:count] if e.stream == "btcusdt@depth@100ms"]
    return json.loads(texts[-1])["u"]


async def watch_again(ex: ccxt.pro.binance, error: type[Exception]) -> dict[str, Any]:
    """Watch the book until a call does not raise `error`, pausing between tries as a node's
    backoff does: ccxt 4.5 hands the same rejected future to every call until the resync
    resolves it, so a retry loop that never yields would starve the connection."""
    while True:
        try:
            return await ex.watch_order_book("BTC/USDT")
        except error:
            await asyncio.sleep(0.01)


# -- tests -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_full_replay_book_trades_quotes_and_ticker_match_the_recorded_files(ws, feed, shared_data):
    """Every stream of the capture at once, as fast as the emulator can send it.

    The book after each update equals the snapshot + diffs rebuilt independently here (top 20
    at every update, every level at the end, at the same update id); the trades are the recorded
    ones in id order, none missing or doubled; each quote is the recorded bookTicker row with
    its update id; the ticker's statistics equal those of the recorded trades up to its last
    trade id. Prints the client's parse rate for the README.
    """
    trades = pd.read_csv(shared_data / TRADES_FILE, float_precision="round_trip")
    quotes = pd.read_csv(shared_data / BOOKTICKER_FILE, float_precision="round_trip").set_index(
        "update_id"
    )
    final_nonce = int(pd.read_csv(shared_data / DEPTH_FILE)["last_update_id"].iloc[-1])
    streams = ["btcusdt@depth@100ms", "btcusdt@trade", "btcusdt@bookTicker", "btcusdt@ticker"]

    async def session(ex):
        # ccxt keeps the last `tradesLimit` (1000) trades; a consumer that falls further behind
        # loses the rest silently. A streaming node must size it (and check the trade ids).
        ex.options["tradesLimit"] = 2 * len(trades)
        seen_books, seen_trades, seen_quotes, seen_tickers = [], [], [], []

        async def books():
            while True:
                book = await ex.watch_order_book("BTC/USDT", DEPTH)
                seen_books.append((book["nonce"], *book_top(book, 20)))

        async def trade_stream():
            while True:
                seen_trades.extend(await ex.watch_trades("BTC/USDT"))

        async def quote_stream():
            while True:
                seen_quotes.append(dict((await ex.watch_bids_asks(["BTC/USDT"]))["BTC/USDT"]))

        async def ticker_stream():
            while True:
                seen_tickers.append(dict(await ex.watch_ticker("BTC/USDT", {"name": "ticker"})))

        watchers = [
            asyncio.ensure_future(w()) for w in (books, trade_stream, quote_stream, ticker_stream)
        ]
        await ws.wait_subscribed_from(streams)
        sent_before, started = ws.sent, time.perf_counter()
        await asyncio.wrap_future(feed.start())
        await until(
            lambda: (
                (ex.orderbooks["BTC/USDT"]["nonce"] == final_nonce)
                and ex.trades["BTC/USDT"][-1]["id"] == str(last_trade_id)
                and ex.bidsasks["BTC/USDT"]["info"]["u"] == last_quote_id
                and ex.tickers["BTC/USDT"]["info"]["L"] == last_ticker_trade
            )
        )
        elapsed = time.perf_counter() - started
        for watcher in watchers:
            watcher.cancel()
        # the last updates may have landed between two watch calls: take them from the caches
        seen_trades.extend(
            t for t in ex.trades["BTC/USDT"] if int(t["id"]) > int(seen_trades[-1]["id"])
        )
        seen_quotes.append(dict(ex.bidsasks["BTC/USDT"]))
        seen_tickers.append(dict(ex.tickers["BTC/USDT"]))
        seen_books.append((final_nonce, *book_top(ex.orderbooks["BTC/USDT"], 20)))
        final_book = book_top(ex.orderbooks["BTC/USDT"], DEPTH)
        rate = (ws.sent - sent_before, elapsed)
        return final_book, seen_books, seen_trades, seen_quotes, seen_tickers, rate

    last_quote_id = last_field(feed, "btcusdt@bookTicker", "u")
    last_trade_id = int(trades["trade_id"].iloc[-1])
    last_ticker_trade = last_field(feed, "btcusdt@ticker", "L")
    final_book, books, got_trades, got_quotes, tickers, (messages, elapsed) = run(session, ws)
    print(
        f"\nccxt.pro parsed {messages} messages in {elapsed:.2f} s: {messages / elapsed:,.0f} messages/s"
    )

    reference = ReferenceBook(shared_data)
    for nonce, bids, asks in books:
        reference.advance_to(nonce)
        assert reference.nonce == nonce
        assert (bids, asks) == reference.top(20), f"book differs at update id {nonce}"
    assert books[-1][0] == final_nonce
    assert final_book == reference.top(DEPTH)
    assert len(final_book[0]) == len(reference.sides["bid"])  # every level, none trimmed

    assert [t["id"] for t in got_trades] == [str(i) for i in trades["trade_id"]]
    assert [t["price"] for t in got_trades] == trades["price"].tolist()
    assert [t["amount"] for t in got_trades] == trades["amount"].tolist()
    assert [t["side"] for t in got_trades] == trades["side"].tolist()

    ids = [q["info"]["u"] for q in got_quotes]
    assert ids == sorted(ids) and ids[-1] == last_quote_id
    for quote in got_quotes:
        row = quotes.loc[quote["info"]["u"]]
        assert (quote["bid"], quote["bidVolume"], quote["ask"], quote["askVolume"]) == (
            row["bid_price"], row["bid_qty"], row["ask_price"], row["ask_qty"],
        )  # fmt: skip

    for ticker in tickers[:: max(1, len(tickers) // 50)] + tickers[-1:]:
        upto = trades[trades["trade_id"] <= ticker["info"]["L"]]
        assert ticker["last"] == upto["price"].iloc[-1]
        assert ticker["open"] == upto["price"].iloc[0]
        assert (ticker["high"], ticker["low"]) == (upto["price"].max(), upto["price"].min())
        assert ticker["baseVolume"] == pytest.approx(upto["amount"].sum(), rel=1e-12)
        notional = (upto["price"] * upto["amount"]).sum()
        assert ticker["quoteVolume"] == pytest.approx(notional, rel=1e-12)
        assert ticker["vwap"] == pytest.approx(notional / upto["amount"].sum(), rel=1e-12)


def test_dropped_connection_reconnects_and_resyncs_from_a_fresh_snapshot(ws, feed, shared_data):
    """The server drops the socket mid-stream and the feed moves on while nobody listens;
    watching again opens a new connection, subscribes again and rebuilds the book from a new
    REST snapshot, which must include the diffs sent while disconnected.

    ccxt reports the drop as a NetworkError only to a watch pending at that moment; otherwise
    the next watch silently dials again. Either way the next successful watch is resynced.
    """
    first, missed, after = 3000, 3000, 3000

    async def session(ex):
        watcher = asyncio.ensure_future(ex.watch_order_book("BTC/USDT"))
        await ws.wait_subscribed_from(["btcusdt@depth@100ms"])
        await asyncio.wrap_future(feed.start(first))
        await watcher
        await book_reaches(ex, diffs_in(feed, first))
        assert await asyncio.wrap_future(ws.drop_connections()) == 1
        await ws.wait_subscribed_from(["btcusdt@depth@100ms"], subscribed=False)
        await asyncio.wrap_future(feed.start(missed))  # published to nobody
        watcher = asyncio.ensure_future(watch_again(ex, ccxt.NetworkError))
        await ws.wait_subscribed_from(["btcusdt@depth@100ms"])
        await asyncio.wrap_future(feed.start(after))
        book = await book_reaches(ex, diffs_in(feed, first + missed + after))
        watcher.cancel()  # it may still hold a stale rejection: the book itself is the proof
        return book["nonce"], book_top(book, 100)

    nonce, top = run(session, ws)
    reference = ReferenceBook(shared_data)
    reference.advance_to(nonce)
    assert top == reference.top(100)
    assert len(ws.rest.requests("/api/v3/depth")) == 2
    assert ws.connections_opened == 2
    subscribes = [f for f in ws.frames() if f.get("method") == "SUBSCRIBE"]
    assert [f["params"] for f in subscribes] == [["btcusdt@depth@100ms"]] * 2


def test_out_of_order_diff_makes_ccxt_resync_and_the_book_still_converges(ws, feed, shared_data):
    """A swapped pair of depth diffs breaks Binance's U == previous u + 1 rule: ccxt rejects the
    watch (ChecksumError, a subclass of InvalidNonce); watching again resubscribes on the same
    connection and the book from the fresh snapshot equals the reference.

    ccxt 4.5 keeps a rejection that arrived while no watch was pending and hands it to the
    next watch calls, so "watching again" is a loop until a call does not raise it.
    """

    async def session(ex):
        watcher = asyncio.ensure_future(ex.watch_order_book("BTC/USDT"))
        await ws.wait_subscribed_from(["btcusdt@depth@100ms"])
        await asyncio.wrap_future(feed.start(2000))
        await watcher
        await book_reaches(ex, diffs_in(feed, 2000))
        ws.swap_next("btcusdt@depth@100ms")
        await asyncio.wrap_future(feed.start(2000))
        with pytest.raises(ccxt.InvalidNonce):
            while True:
                await ex.watch_order_book("BTC/USDT")
        watcher = asyncio.ensure_future(watch_again(ex, ccxt.InvalidNonce))
        while sum(f.get("method") == "SUBSCRIBE" for f in ws.frames()) < 2:
            await asyncio.sleep(0.01)
        await asyncio.wrap_future(feed.start(2000))
        book = await book_reaches(ex, diffs_in(feed, 6000))
        watcher.cancel()  # it may still hold a stale rejection: the book itself is the proof
        return book["nonce"], book_top(book, 100)

    nonce, top = run(session, ws)
    reference = ReferenceBook(shared_data)
    reference.advance_to(nonce)
    assert top == reference.top(100)
    assert {f["path"] for f in ws.frames()} == {"/stream/ws/0"}  # no reconnect was needed


def test_duplicate_and_swapped_trades_reach_the_client_as_sent(ws):
    """The controls act on the wire: ccxt passes a duplicated trade twice and swapped trades in
    the swapped order (dropping and counting them is the node's job)."""

    def trade(trade_id: int) -> dict[str, Any]:
        return {"e": "trade", "E": 1, "s": "BTCUSDT", "t": trade_id, "p": "60000.5",
                "q": "0.1", "T": 1_723_161_255_000 + trade_id, "m": trade_id % 2 == 0, "M": True}  # fmt: skip

    async def session(ex):
        watcher = asyncio.ensure_future(ex.watch_trades("BTC/USDT"))
        await ws.wait_subscribed_from(["btcusdt@trade"])
        ws.publish("btcusdt@trade", trade(1))
        ws.duplicate_next("btcusdt@trade")
        ws.publish("btcusdt@trade", trade(2))
        ws.swap_next("btcusdt@trade")
        for trade_id in (3, 4, 5):
            ws.publish("btcusdt@trade", trade(trade_id))
        await watcher
        await until(lambda: len(ex.trades["BTC/USDT"]) == 6)
        return list(ex.trades["BTC/USDT"])

    seen = run(session, ws)
    assert [t["id"] for t in seen] == ["1", "2", "2", "4", "3", "5"]
    # m (buyer is maker) is false for trade 1: the taker bought; true for trade 2: the taker sold
    assert [t["side"] for t in seen[:2]] == ["buy", "sell"]


def execution_report(
    execution: str, status: str, filled: str, last_qty: str, trade_id: int
) -> dict:
    """A spot `executionReport` with the documented fields (Binance "User Data Streams")."""
    return {
        "e": "executionReport", "E": 1723161300000, "s": "BTCUSDT", "c": "zvt-mm-1",
        "S": "BUY", "o": "LIMIT", "f": "GTC", "q": "0.50000000", "p": "61800.00000000",
        "P": "0.00000000", "F": "0.00000000", "g": -1, "C": "", "x": execution, "X": status,
        "r": "NONE", "i": 4293153, "l": last_qty, "z": filled, "L": "61800.00000000",
        "n": "0.00020000" if last_qty != "0.00000000" else "0", "N": "BTC" if trade_id > 0 else None,
        "T": 1723161300000 + trade_id, "t": trade_id, "I": 8641984, "w": True, "m": True,
        "M": False, "O": 1723161300000, "Z": "0", "Y": "0", "Q": "0.00000000",
    }  # fmt: skip


async def until(condition: Callable[[], bool]) -> None:
    """Poll ccxt's caches until `condition()` holds: the last updates of a burst may land
    between two watch calls, and then they wake nobody."""
    while True:
        try:
            if condition():
                return
        except (KeyError, IndexError, TypeError):
            pass  # the cache is not filled yet
        await asyncio.sleep(0.005)


async def book_reaches(ex: ccxt.pro.binance, nonce: int) -> dict[str, Any]:
    """ccxt's BTC/USDT book once it has applied update id `nonce`."""
    await until(lambda: ex.orderbooks["BTC/USDT"]["nonce"] >= nonce)
    return ex.orderbooks["BTC/USDT"]


async def pending(ex: ccxt.pro.binance, url: str, message_hashes: list[str]) -> None:
    """Wait until ccxt has a watch pending on each hash: an event that arrives earlier only
    updates ccxt's cache and wakes nobody."""
    while not all(h in ex.clients[url].futures for h in message_hashes):
        await asyncio.sleep(0.005)


def test_watch_orders_and_my_trades_receive_execution_reports(ws):
    """ccxt subscribes through the WebSocket API with a signed request (checked by the
    emulator) and turns executionReports into orders and fills: 0.2 of 0.5 filled at 61800,
    fee 0.0002 BTC (10 bps of the 0.2 BTC received)."""

    async def session(ex):
        orders = asyncio.ensure_future(ex.watch_orders("BTC/USDT"))
        await ws.wait_subscribed_from([USER_STREAM])
        ws.publish_user_event(execution_report("NEW", "NEW", "0.00000000", "0.00000000", -1))
        first = dict((await orders)[-1])  # ccxt updates its cached order in place
        orders = asyncio.ensure_future(ex.watch_orders("BTC/USDT"))
        fills = asyncio.ensure_future(ex.watch_my_trades("BTC/USDT"))
        await pending(ex, ws.api_url, ["orders:BTC/USDT", "myTrades:BTC/USDT"])
        ws.publish_user_event(
            execution_report("TRADE", "PARTIALLY_FILLED", "0.20000000", "0.20000000", 77)
        )
        return first, (await fills)[-1], (await orders)[-1]

    new, fill, partial = run(session, ws)
    assert (new["id"], new["clientOrderId"], new["status"], new["filled"]) == (
        "4293153",
        "zvt-mm-1",
        "open",
        0.0,
    )
    assert (new["side"], new["type"], new["price"], new["amount"]) == ("buy", "limit", 61800.0, 0.5)
    assert (fill["id"], fill["order"], fill["price"], fill["amount"]) == (
        "77",
        "4293153",
        61800.0,
        0.2,
    )
    assert fill["fee"] == {"cost": 0.0002, "currency": "BTC"}
    assert (partial["status"], partial["filled"], partial["remaining"]) == ("open", 0.2, 0.3)
    api_frames = [f for f in ws.frames() if f["path"] == "/ws-api/v3"]
    assert [f["method"] for f in api_frames] == ["userDataStream.subscribe.signature"]
    assert api_frames[0]["params"]["apiKey"] == ws.api_key


def test_a_wrong_secret_is_refused_by_the_signature_check(ws):
    """The emulator verifies the HMAC: a client with the wrong secret gets Binance's -1022.

    ccxt 4.5.90 then fails in its own cleanup (KeyError 'spot', raised while handling the
    AuthenticationError), so the refusal is looked for in the exception chain.
    """

    async def session(ex):
        ex.secret = "not-the-secret"
        await ex.watch_orders("BTC/USDT")

    with pytest.raises(Exception) as raised:  # noqa: B017 - the chain is checked below
        run(session, ws)
    chain, error = [], raised.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    refusals = [e for e in chain if isinstance(e, ccxt.AuthenticationError)]
    assert refusals and "-1022" in str(refusals[0]), chain
    assert "Signature for this request is not valid." in str(refusals[0])


def test_raw_protocol_answers_and_the_listen_key_stream(ws):
    """The documented wire format, spoken by a plain websocket client: SUBSCRIBE and
    LIST_SUBSCRIPTIONS answers with the request id, the error for an unknown stream, and the
    listenKey user-data stream (key from REST `POST /api/v3/userDataStream`, raw events)."""

    async def session(ex):
        created = await ex.public_post_userdatastream()
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(f"{ws.stream_url}/1") as market:
                await market.send_json(
                    {"method": "SUBSCRIBE", "params": ["ethusdt@trade"], "id": 7}
                )
                subscribed = await market.receive_json()
                await market.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 8})
                listed = await market.receive_json()
                await market.send_json(
                    {"method": "SUBSCRIBE", "params": ["ethusdt@candles"], "id": 9}
                )
                refused = await market.receive_json()
            async with http.ws_connect(f"{ws.stream_url}/{created['listenKey']}") as user:
                await ws.wait_subscribed_from([USER_STREAM])
                ws.publish_user_event({"e": "outboundAccountPosition", "E": 5, "u": 5, "B": []})
                raw_event = await user.receive_json()
            with pytest.raises(aiohttp.WSServerHandshakeError) as bad:
                await http.ws_connect(f"{ws.stream_url}/not-a-key")
            bad_status = bad.value.status
        return subscribed, listed, refused, raw_event, bad_status

    subscribed, listed, refused, raw_event, bad_status = run(session, ws)
    assert subscribed == {"result": None, "id": 7}
    assert listed == {"result": ["ethusdt@trade"], "id": 8}
    assert refused["id"] == 9 and refused["error"]["code"] == 2
    assert raw_event == {"e": "outboundAccountPosition", "E": 5, "u": 5, "B": []}
    assert bad_status == 400


def test_paced_replay_sends_the_recorded_trades_in_order(ws, feed, shared_data):
    """At a speed factor the feed still sends every event in recorded order (the first 300
    timeline events, replayed 200 times faster than recorded)."""
    trades = pd.read_csv(shared_data / TRADES_FILE)
    count = 300
    expected = [json.loads(e.text)["t"] for e in feed.events[:count] if e.stream == "btcusdt@trade"]

    async def session(ex):
        watcher = asyncio.ensure_future(ex.watch_trades("BTC/USDT"))
        await ws.wait_subscribed_from(["btcusdt@trade"])
        assert await asyncio.wrap_future(feed.start(count, speed=200.0)) == count
        await watcher
        await until(lambda: ex.trades["BTC/USDT"][-1]["id"] == str(expected[-1]))
        return [int(t["id"]) for t in ex.trades["BTC/USDT"]]

    got = run(session, ws)
    assert got == trades["trade_id"].iloc[: len(got)].tolist()
    assert len(got) == len(expected) > 10
