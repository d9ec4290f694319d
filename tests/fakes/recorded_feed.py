"""Replays the recorded Binance BTC/USDT capture (2024-08-08 23:54 → 00:05 UTC) through the
websocket emulator, as the live exchange sent it.

Streams: `btcusdt@depth@100ms` (the recorded diff events), `btcusdt@depth` (the same diffs
merged per second, as Binance's 1000 ms stream does), `btcusdt@bookTicker`, `btcusdt@trade`,
and `btcusdt@ticker` / `@miniTicker` computed from the replayed trades once per exchange
second (the capture is shorter than 24 h, so the "24 h" statistics cover the trades replayed
so far). The REST `/api/v3/depth` snapshot starts as the recorded one and is rebuilt from the
replayed diffs whenever a client subscribes to a depth stream, so a reconnecting client
resyncs from a fresh snapshot exactly as on Binance.

Ordering: diffs and trades carry exchange times; the bookTicker capture has only a local
receive time (1.27 s off), so each quote is placed just before the diff event whose update-id
range contains its update id (the alignment the data README recommends).
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import Future
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from tests.fakes.binance_server import BinanceEmulator
from tests.fakes.binance_ws import BinanceWsEmulator

CAPTURE = "2024-08-08T2354Z"
WINDOW = "2024-08-08T2354Z_2024-08-09T0005Z"
SNAPSHOT_FILE = f"binance_BTC-USDT_orderbook_snapshot_{CAPTURE}.csv.gz"
DEPTH_FILE = f"binance_BTC-USDT_depth_updates_{WINDOW}.csv.gz"
BOOKTICKER_FILE = f"binance_BTC-USDT_bookticker_{WINDOW}.csv.gz"
TRADES_FILE = f"binance_BTC-USDT_trades_{WINDOW}.csv.gz"
SYMBOL = "BTCUSDT"
_TEXT = dict.fromkeys(
    ["price", "quantity", "amount", "bid_price", "bid_qty", "ask_price", "ask_qty"], str
)
_ORDER = {"bookTicker": 0, "depth": 1, "trade": 2}  # tie-break at equal exchange times


@dataclass(frozen=True)
class ReplayEvent:
    """One message to publish: its exchange time (for pacing), stream and JSON text."""

    time_ms: int
    stream: str
    text: str


@dataclass(frozen=True)
class DepthDiff:
    """One recorded diff event: update-id range and changed levels ([price, qty] strings)."""

    time_ms: int
    first_id: int
    last_id: int
    bids: list[list[str]]
    asks: list[list[str]]


def _dumps(payload: object) -> str:
    return json.dumps(payload, separators=(",", ":"))


def load_depth_diffs(data_dir: Path) -> list[DepthDiff]:
    """The diff events of the depth-updates file, in recorded order."""
    frame = pd.read_csv(data_dir / DEPTH_FILE, dtype=_TEXT)
    last_ids = frame["last_update_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, last_ids[1:] != last_ids[:-1]])
    ends = np.r_[starts[1:], len(frame)]
    times, firsts = frame["event_time"].to_numpy(), frame["first_update_id"].to_numpy()
    sides, prices, qtys = (frame[c].to_numpy() for c in ("side", "price", "quantity"))
    diffs = []
    for lo, hi in zip(starts, ends, strict=True):
        bids = [[prices[i], qtys[i]] for i in range(lo, hi) if sides[i] == "bid"]
        asks = [[prices[i], qtys[i]] for i in range(lo, hi) if sides[i] == "ask"]
        diffs.append(DepthDiff(int(times[lo]), int(firsts[lo]), int(last_ids[lo]), bids, asks))
    return diffs


class RecordedFeed:
    """The recorded capture as a publishable timeline plus the live book behind REST depth."""

    def __init__(self, data_dir: Path) -> None:
        snapshot = pd.read_csv(data_dir / SNAPSHOT_FILE, dtype=_TEXT)
        self.snapshot_id = int(snapshot["last_update_id"].iloc[0])
        self.snapshot = {
            side: [[p, q] for p, q in zip(rows["price"], rows["quantity"], strict=True)]
            for side, rows in snapshot.sort_values("level").groupby("side")
        }
        self.diffs = load_depth_diffs(data_dir)
        self.trades = pd.read_csv(data_dir / TRADES_FILE, dtype=_TEXT)
        self.quotes = pd.read_csv(data_dir / BOOKTICKER_FILE, dtype=_TEXT)
        self.events = self._timeline()
        self.position = 0  # index of the next event to publish
        self._applied = 0  # diffs folded into the live book so far
        self._published_diffs = 0
        self._book: dict[str, dict[Decimal, str]] = {}
        self._book_id = 0
        self.reset()

    def reset(self) -> None:
        """Rewind to the first event with the book at the recorded snapshot."""
        self.position = self._applied = self._published_diffs = 0
        self._book = {
            side: {Decimal(p): q for p, q in self.snapshot[side]} for side in ("bid", "ask")
        }
        self._book_id = self.snapshot_id

    # -- the timeline --------------------------------------------------------------------

    def _timeline(self) -> list[ReplayEvent]:
        keyed: list[tuple[int, int, int, ReplayEvent]] = []
        for seq, diff in enumerate(self.diffs):
            body = {"e": "depthUpdate", "E": diff.time_ms, "s": SYMBOL, "U": diff.first_id,
                    "u": diff.last_id, "b": diff.bids, "a": diff.asks}  # fmt: skip
            keyed.append(
                (
                    diff.time_ms,
                    _ORDER["depth"],
                    seq,
                    ReplayEvent(diff.time_ms, "btcusdt@depth@100ms", _dumps(body)),
                )
            )
        keyed += self._per_second_depth()
        keyed += self._quote_events()
        keyed += self._trade_events()
        keyed.sort(key=lambda item: item[:3])
        return [item[3] for item in keyed]

    def _per_second_depth(self) -> list[tuple[int, int, int, ReplayEvent]]:
        """The 1000 ms diff stream: each second's events merged (last quantity per price wins)."""
        out, pending, first = [], None, None
        for seq, diff in enumerate([*self.diffs, None]):
            if pending is not None and (diff is None or diff.time_ms // 1000 != pending[0] // 1000):
                time_ms, last_id, bids, asks = pending
                body = {"e": "depthUpdate", "E": time_ms, "s": SYMBOL, "U": first, "u": last_id,
                        "b": [[p, q] for p, q in bids.items()], "a": [[p, q] for p, q in asks.items()]}  # fmt: skip
                out.append(
                    (
                        time_ms,
                        _ORDER["depth"],
                        seq,
                        ReplayEvent(time_ms, "btcusdt@depth", _dumps(body)),
                    )
                )
                pending = None
            if diff is None:
                break
            if pending is None:
                pending, first = (diff.time_ms, diff.last_id, {}, {}), diff.first_id
            pending = (diff.time_ms, diff.last_id, pending[2], pending[3])
            pending[2].update(diff.bids)
            pending[3].update(diff.asks)
        return out

    def _quote_events(self) -> list[tuple[int, int, int, ReplayEvent]]:
        last_ids = np.array([d.last_id for d in self.diffs])
        uids = self.quotes["update_id"].to_numpy()
        slots = np.searchsorted(last_ids, uids, side="left")  # the diff whose range holds the id
        out = []
        for seq, (slot, row) in enumerate(
            zip(slots, self.quotes.itertuples(index=False), strict=True)
        ):
            if slot >= len(self.diffs) or uids[seq] < self.diffs[0].first_id:
                continue  # outside the diff capture: no exchange time to place it at
            body = {"u": int(row.update_id), "s": SYMBOL, "b": row.bid_price, "B": row.bid_qty,
                    "a": row.ask_price, "A": row.ask_qty}  # fmt: skip
            time_ms = self.diffs[slot].time_ms
            out.append(
                (
                    time_ms,
                    _ORDER["bookTicker"],
                    seq,
                    ReplayEvent(time_ms, "btcusdt@bookTicker", _dumps(body)),
                )
            )
        return out

    def _trade_events(self) -> list[tuple[int, int, int, ReplayEvent]]:
        """Trades, plus a 24hrTicker and a 24hrMiniTicker at the first trade of each second."""
        out, last_second = [], None
        first_id = open_price = high = low = None
        volume = quote_volume = Decimal(0)
        for seq, row in enumerate(self.trades.itertuples(index=False)):
            t, price, qty = int(row.timestamp), Decimal(row.price), Decimal(row.amount)
            body = {"e": "trade", "E": t, "s": SYMBOL, "t": int(row.trade_id), "p": row.price,
                    "q": row.amount, "T": t, "m": row.side == "sell", "M": True}  # fmt: skip
            out.append((t, _ORDER["trade"], 2 * seq, ReplayEvent(t, "btcusdt@trade", _dumps(body))))
            if first_id is None:
                first_id, open_price, high, low = int(row.trade_id), price, price, price
            high, low = max(high, price), min(low, price)
            volume += qty
            quote_volume += price * qty
            if t // 1000 == last_second:
                continue
            last_second = t // 1000
            mini = {"E": t, "s": SYMBOL, "c": row.price, "o": str(open_price), "h": str(high),
                    "l": str(low), "v": str(volume), "q": str(quote_volume)}  # fmt: skip
            full = {**mini, "e": "24hrTicker", "p": str(price - open_price),
                    "P": f"{(price - open_price) / open_price * 100:.3f}",
                    "w": str(quote_volume / volume), "Q": row.amount, "O": t - 86_400_000, "C": t,
                    "F": first_id, "L": int(row.trade_id), "n": int(row.trade_id) - first_id + 1}  # fmt: skip
            mini["e"] = "24hrMiniTicker"
            for stream, payload in (("btcusdt@ticker", full), ("btcusdt@miniTicker", mini)):
                out.append(
                    (t, _ORDER["trade"], 2 * seq + 1, ReplayEvent(t, stream, _dumps(payload)))
                )
        return out

    # -- serving -------------------------------------------------------------------------

    def attach(self, ws: BinanceWsEmulator) -> None:
        """Serve the snapshot on the REST emulator behind `ws` and refresh it on depth subscribes."""
        if ws.rest is None:
            raise ValueError(
                "the websocket emulator needs its REST emulator to serve depth snapshots"
            )
        self._ws, self._rest = ws, ws.rest
        self._serve_snapshot()
        ws.on_subscribe(
            lambda stream: stream.startswith("btcusdt@depth") and self._serve_snapshot()
        )

    def _serve_snapshot(self) -> None:
        """Fold the published diffs into the live book (Binance's rule: skip u <= book id) and
        serve it on REST depth: bids best first, asks best first."""
        for diff in self.diffs[self._applied : self._published_diffs]:
            if diff.last_id <= self._book_id:
                continue
            for side, levels in (("bid", diff.bids), ("ask", diff.asks)):
                book = self._book[side]
                for price, qty in levels:
                    if Decimal(qty) == 0:
                        book.pop(Decimal(price), None)
                    else:
                        book[Decimal(price)] = qty
            self._book_id = diff.last_id
        self._applied = self._published_diffs
        bids = [[str(p), self._book["bid"][p]] for p in sorted(self._book["bid"], reverse=True)]
        asks = [[str(p), self._book["ask"][p]] for p in sorted(self._book["ask"])]
        self._rest.set_order_book(SYMBOL, bids, asks, self._book_id)

    async def play(self, count: int | None = None, speed: float | None = None) -> int:
        """On the emulator loop: publish the next `count` events (all left, if None) at `speed`
        times the recorded pace, or as fast as possible if None; returns how many were sent."""
        stop = len(self.events) if count is None else min(self.position + count, len(self.events))
        start_index, started = self.position, asyncio.get_running_loop().time()
        t0 = self.events[start_index].time_ms if start_index < stop else 0
        while self.position < stop:
            event = self.events[self.position]
            if speed is not None:
                due = started + (event.time_ms - t0) / 1000 / speed
                delay = due - asyncio.get_running_loop().time()
                if delay > 0:
                    await asyncio.sleep(delay)
            elif self.position % 64 == 0:
                await asyncio.sleep(0)  # let the connection writers run
            self._ws.publish(event.stream, event.text)
            if event.stream == "btcusdt@depth@100ms":
                self._published_diffs += 1
            self.position += 1
        return self.position - start_index

    def start(self, count: int | None = None, speed: float | None = None) -> Future:
        """`play` scheduled from any thread; `await asyncio.wrap_future(...)` for its count."""
        return self._ws.call(self.play(count, speed))


def emulators_with_feed(data_dir: Path) -> tuple[BinanceEmulator, BinanceWsEmulator, RecordedFeed]:
    """Started REST and websocket emulators with the recorded feed attached (stop ws, then rest)."""
    rest = BinanceEmulator().start()
    ws = BinanceWsEmulator(rest).start()
    feed = RecordedFeed(data_dir)
    feed.attach(ws)
    return rest, ws, feed
