"""A local Binance spot REST emulator on 127.0.0.1 that a real `ccxt.binance` talks HTTP to.

It answers with the shapes documented for the spot REST API (developers.binance.com):
market data, the signed account endpoint and Binance's `{"code", "msg"}` error bodies.
Tests script faults (slow answers, 429, 5xx) for the next requests to a path and read
the request log to count attempts. Endpoints live in a registry (`route`), so another
module can add e.g. the order endpoints without editing this one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pandas as pd

INTERVAL_MS = {
    "1s": 1_000, "1m": 60_000, "3m": 180_000, "5m": 300_000, "15m": 900_000,
    "30m": 1_800_000, "1h": 3_600_000, "2h": 7_200_000, "4h": 14_400_000,
    "6h": 21_600_000, "8h": 28_800_000, "12h": 43_200_000, "1d": 86_400_000,
    "3d": 259_200_000, "1w": 604_800_000,
}  # fmt: skip
INVALID_KEY_MSG = "Invalid API-key, IP, or permissions for action."
_SIGNATURE_PARAM = re.compile(r"(^|&)signature=[^&]*")


class ApiError(Exception):
    """An error answer in Binance's shape: HTTP status plus `{"code": ..., "msg": ...}`."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"{status} {code} {msg}")
        self.status, self.code, self.msg = status, code, msg


def mandatory(name: str) -> ApiError:
    """Binance's answer to a missing parameter."""
    return ApiError(
        400, -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."
    )


@dataclass(frozen=True)
class Request:
    """One request as the emulator saw it (kept in the request log)."""

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, str]
    headers: dict[str, str]
    raw_query: str = ""
    raw_body: str = ""

    def param(self, name: str) -> str | None:
        """A parameter from the query string or the form body (Binance accepts both)."""
        value = self.query.get(name, self.body.get(name))
        return value if value not in (None, "") else None

    def require(self, name: str) -> str:
        """A mandatory parameter, or Binance's -1102 error."""
        value = self.param(name)
        if value is None:
            raise mandatory(name)
        return value

    def int_param(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter, or Binance's -1100 error for illegal characters."""
        value = self.param(name)
        if value is None:
            return default
        if not re.fullmatch(r"-?[0-9]{1,20}", value):
            raise ApiError(
                400,
                -1100,
                f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'.",
            )
        return int(value)


@dataclass(frozen=True)
class Reply:
    """A response to send: status, a JSON-able body (or raw text) and extra headers."""

    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=UTF-8"


Handler = Callable[[Request], Reply | Any]

_FAULT_BODIES = {
    429: {
        "code": -1003,
        "msg": "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute.",
    },
    500: {
        "code": -1001,
        "msg": "Internal error; unable to process your request. Please try again.",
    },
    502: "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>",
    503: {
        "code": -1008,
        "msg": "Server is currently overloaded with other requests. Please try again in a few minutes.",
    },
    504: "<html><head><title>504 Gateway Time-out</title></head><body><h1>504 Gateway Time-out</h1></body></html>",
}


@dataclass(frozen=True)
class Fault:
    """What goes wrong with one request: a delay before answering and/or an HTTP error."""

    delay: float = 0.0
    status: int | None = None
    retry_after: int | None = None
    processed: bool = False

    @classmethod
    def slow(cls, seconds: float) -> Fault:
        """Process the request, then answer only after `seconds` (beyond the client timeout)."""
        return cls(delay=seconds)

    @classmethod
    def http(cls, status: int, retry_after: int | None = None) -> Fault:
        """Answer with an HTTP error (429 with optional Retry-After, or 500/502/503/504)."""
        if status not in _FAULT_BODIES:
            raise ValueError(f"status {status}: the emulator scripts only {sorted(_FAULT_BODIES)}")
        return cls(status=status, retry_after=retry_after)

    @classmethod
    def lost(cls, status: int = 504) -> Fault:
        """Process the request (e.g. place the order), then answer with an HTTP error: the
        gateway case Binance documents as "execution status UNKNOWN"."""
        return cls(status=status, processed=True)

    def reply(self) -> Reply:
        """The error response this fault sends."""
        body = _FAULT_BODIES[self.status]
        headers = {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}
        if isinstance(body, str):
            return Reply(body, self.status, headers, content_type="text/html")
        return Reply(body, self.status, headers)


@dataclass(frozen=True)
class SymbolSpec:
    """A spot market as `exchangeInfo` lists it, with its trading filters (strings, as Binance sends)."""

    symbol: str
    base: str
    quote: str
    tick_size: str = "0.01000000"
    step_size: str = "0.00001000"
    min_qty: str = "0.00001000"
    max_qty: str = "9000.00000000"
    min_notional: str = "5.00000000"
    status: str = "TRADING"

    def to_json(self) -> dict[str, Any]:
        """The `symbols[]` entry of `GET /api/v3/exchangeInfo`."""
        return {
            "symbol": self.symbol, "status": self.status,
            "baseAsset": self.base, "baseAssetPrecision": 8,
            "quoteAsset": self.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
            "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True, "ocoAllowed": True, "otoAllowed": True,
            "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
            "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {"filterType": "PRICE_FILTER", "minPrice": self.tick_size,
                 "maxPrice": "1000000.00000000", "tickSize": self.tick_size},
                {"filterType": "LOT_SIZE", "minQty": self.min_qty,
                 "maxQty": self.max_qty, "stepSize": self.step_size},
                {"filterType": "NOTIONAL", "minNotional": self.min_notional,
                 "applyMinToMarket": True, "maxNotional": "9000000.00000000",
                 "applyMaxToMarket": False, "avgPriceMins": 5},
            ],
            "permissions": [], "permissionSets": [["SPOT"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
        }  # fmt: skip


@dataclass(frozen=True)
class TradeRow:
    """One public trade; `buyer_maker` true means the taker sold."""

    id: int
    price: str
    qty: str
    time: int
    buyer_maker: bool


def _number(value: float) -> str:
    """A float as Binance writes numbers (a decimal string, no exponent), exact on round trip."""
    return np.format_float_positional(value, trim="-")


class BinanceEmulator:
    """The emulator: state, a route registry, scripted faults and a request log.

    Use as a context manager (`with BinanceEmulator() as ex: ex.base_url`). Handlers run
    one at a time under `lock`; scripted delays happen outside it.
    """

    def __init__(self, api_key: str = "emulator-key", secret: str = "emulator-secret") -> None:
        self.api_key, self.secret = api_key, secret
        self.lock = threading.RLock()
        self.symbols: dict[str, SymbolSpec] = {}
        self.balances: dict[str, tuple[str, str]] = {}
        self._candles: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self._books: dict[str, tuple[int, list[list[str]], list[list[str]]]] = {}
        self._trades: dict[str, list[TradeRow]] = {}
        self._routes: dict[tuple[str, str], tuple[Handler, bool]] = {}
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self._log: list[Request] = []
        self._server: ThreadingHTTPServer | None = None
        for spec in (
            SymbolSpec("BTCUSDT", "BTC", "USDT"),
            SymbolSpec("ETHUSDT", "ETH", "USDT", step_size="0.00010000", min_qty="0.00010000"),
        ):
            self.add_symbol(spec)
        self._install_market_routes()

    # -- registry and state ------------------------------------------------------------

    def route(self, method: str, path: str, handler: Handler, *, signed: bool = False) -> None:
        """Serve `method path` with `handler`; signed routes check the API key and HMAC first."""
        self._routes[(method.upper(), path)] = (handler, signed)

    def add_symbol(self, spec: SymbolSpec) -> None:
        """List a market in exchangeInfo (and accept it on market-data endpoints)."""
        self.symbols[spec.symbol] = spec

    def remove_symbol(self, symbol: str) -> None:
        """Delist a market: later requests naming it get -1121 Invalid symbol."""
        self.symbols.pop(symbol, None)

    def set_candles(self, symbol: str, interval: str, frame: pd.DataFrame) -> None:
        """Serve `frame` (a candle frame: ts, open, high, low, close, volume) as klines."""
        open_ms = frame["ts"].astype("datetime64[ms, UTC]").astype("int64").to_numpy()
        values = frame[["open", "high", "low", "close", "volume"]].to_numpy(dtype="float64")
        self._candles[(symbol, interval)] = (open_ms, values)

    def set_order_book(
        self, symbol: str, bids: list[list[str]], asks: list[list[str]], last_update_id: int
    ) -> None:
        """Serve this book on /depth: bids best (highest) first, asks best (lowest) first."""
        self._books[symbol] = (last_update_id, bids, asks)

    def set_trades(self, symbol: str, trades: Iterable[TradeRow]) -> None:
        """Serve these trades (sorted by id) on /trades and /aggTrades."""
        self._trades[symbol] = sorted(trades, key=lambda t: t.id)

    def inject(self, path: str, *faults: Fault) -> None:
        """Make the next `len(faults)` requests to `path` go wrong, one fault each, in order."""
        with self.lock:
            self._faults[path].extend(faults)

    def requests(self, path: str | None = None) -> list[Request]:
        """The logged requests (to `path` only, if given), oldest first."""
        with self.lock:
            return [r for r in self._log if path is None or r.path == path]

    # -- server lifecycle ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` of the running server."""
        if self._server is None:
            raise RuntimeError("emulator not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> BinanceEmulator:
        """Listen on an ephemeral port in a background thread."""
        handler_class = type("BoundHandler", (_HttpHandler,), {"emulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # stop() waits up to one poll interval
            name="binance-emulator",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        """Stop listening and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> BinanceEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- dispatch ------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Log the request, run its route and apply the fault queued for its path, if any."""
        with self.lock:
            self._log.append(request)
            queue = self._faults.get(request.path)
            fault = queue.popleft() if queue else None
        if fault is not None and fault.status is not None:
            if fault.processed:
                self._route(request)
            time.sleep(fault.delay)
            return fault.reply()
        reply = self._route(request)
        if fault is not None:
            time.sleep(fault.delay)  # processed, but the answer is late: the outcome is unknown
        return reply

    def _route(self, request: Request) -> Reply:
        entry = self._routes.get((request.method, request.path))
        if entry is None:
            return Reply("<html><body>404 Not Found</body></html>", 404, content_type="text/html")
        handler, signed = entry
        try:
            with self.lock:
                if signed:
                    self._verify_signature(request)
                result = handler(request)
        except ApiError as exc:
            return Reply({"code": exc.code, "msg": exc.msg}, exc.status)
        return result if isinstance(result, Reply) else Reply(result)

    def _verify_signature(self, request: Request) -> None:
        """Binance's SIGNED check: API key header, HMAC-SHA256 over query+body, recvWindow."""
        if request.headers.get("x-mbx-apikey") != self.api_key:
            raise ApiError(401, -2015, INVALID_KEY_MSG)
        signature = request.param("signature")
        if signature is None:
            raise mandatory("signature")
        timestamp = request.int_param("timestamp")
        if timestamp is None:
            raise mandatory("timestamp")
        payload = _SIGNATURE_PARAM.sub("", request.raw_query).lstrip("&")
        payload += _SIGNATURE_PARAM.sub("", request.raw_body).lstrip("&")
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature.lower()):
            raise ApiError(400, -1022, "Signature for this request is not valid.")
        now = int(time.time() * 1000)
        recv_window = request.int_param("recvWindow", 5000)
        if timestamp > now + 1000 or now - timestamp > recv_window:
            raise ApiError(400, -1021, "Timestamp for this request is outside of the recvWindow.")

    def _known_symbol(self, request: Request) -> str:
        symbol = request.require("symbol")
        if symbol not in self.symbols:
            raise ApiError(400, -1121, "Invalid symbol.")
        return symbol

    # -- market data and account endpoints ------------------------------------------------

    def _install_market_routes(self) -> None:
        self.route("GET", "/api/v3/ping", lambda request: {})
        self.route("GET", "/api/v3/time", lambda request: {"serverTime": int(time.time() * 1000)})
        self.route("GET", "/api/v3/exchangeInfo", self._exchange_info)
        self.route("GET", "/api/v3/klines", self._klines)
        self.route("GET", "/api/v3/depth", self._depth)
        self.route("GET", "/api/v3/trades", self._recent_trades)
        self.route("GET", "/api/v3/aggTrades", self._agg_trades)
        self.route("GET", "/api/v3/account", self._account, signed=True)

    def _exchange_info(self, request: Request) -> dict[str, Any]:
        wanted = [self._known_symbol(request)] if request.param("symbol") else list(self.symbols)
        return {
            "timezone": "UTC",
            "serverTime": int(time.time() * 1000),
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                },
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
                {
                    "rateLimitType": "RAW_REQUESTS",
                    "interval": "MINUTE",
                    "intervalNum": 5,
                    "limit": 61000,
                },
            ],
            "exchangeFilters": [],
            "symbols": [self.symbols[s].to_json() for s in wanted],
        }

    def _limit(self, request: Request, default: int, maximum: int) -> int:
        limit = request.int_param("limit", default)
        if not 1 <= limit <= maximum:
            raise ApiError(400, -1130, "Data sent for parameter 'limit' is not valid.")
        return limit

    def _klines(self, request: Request) -> list[list[Any]]:
        """Candles with open time in [startTime, endTime], the first `limit` of them.

        Without startTime the newest `limit` candles up to endTime are returned, as Binance does.
        """
        symbol = self._known_symbol(request)
        interval = request.require("interval")
        if interval not in INTERVAL_MS:
            raise ApiError(400, -1120, "Invalid interval.")
        limit = self._limit(request, 500, 1000)
        start, end = request.int_param("startTime"), request.int_param("endTime")
        open_ms, values = self._candles.get(
            (symbol, interval), (np.empty(0, "int64"), np.empty((0, 5)))
        )
        hi = len(open_ms) if end is None else int(np.searchsorted(open_ms, end, side="right"))
        if start is None:
            lo = max(hi - limit, 0)
        else:
            lo = int(np.searchsorted(open_ms, start, side="left"))
            hi = min(hi, lo + limit)
        step = INTERVAL_MS[interval]
        rows = []
        for t, (o, h, low, c, v) in zip(open_ms[lo:hi], values[lo:hi], strict=True):
            quote_volume = _number(round(v * (o + h + low + c) / 4, 8))
            rows.append([int(t), _number(o), _number(h), _number(low), _number(c), _number(v),
                         int(t) + step - 1, quote_volume, 0, "0", "0", "0"])  # fmt: skip
        return rows

    def _depth(self, request: Request) -> dict[str, Any]:
        symbol = self._known_symbol(request)
        limit = self._limit(request, 100, 5000)
        last_update_id, bids, asks = self._books.get(symbol, (0, [], []))
        return {"lastUpdateId": last_update_id, "bids": bids[:limit], "asks": asks[:limit]}

    def _recent_trades(self, request: Request) -> list[dict[str, Any]]:
        symbol = self._known_symbol(request)
        limit = self._limit(request, 500, 1000)
        return [
            {"id": t.id, "price": t.price, "qty": t.qty,
             "quoteQty": _number(round(float(t.price) * float(t.qty), 8)),
             "time": t.time, "isBuyerMaker": t.buyer_maker, "isBestMatch": True}
            for t in self._trades.get(symbol, [])[-limit:]
        ]  # fmt: skip

    def _agg_trades(self, request: Request) -> list[dict[str, Any]]:
        """Aggregate trades; here every trade is its own aggregate (id a = f = l = trade id)."""
        symbol = self._known_symbol(request)
        limit = self._limit(request, 500, 1000)
        from_id = request.int_param("fromId")
        start, end = request.int_param("startTime"), request.int_param("endTime")
        if start is not None and end is not None and end - start > 3_600_000:
            raise ApiError(400, -1127, "More than 1 hours between startTime and endTime.")
        trades = self._trades.get(symbol, [])
        if from_id is not None:
            selected = [t for t in trades if t.id >= from_id][:limit]
        elif start is not None or end is not None:
            lo, hi = start or 0, end if end is not None else 2**63
            selected = [t for t in trades if lo <= t.time <= hi][:limit]
        else:
            selected = trades[-limit:]
        return [
            {"a": t.id, "p": t.price, "q": t.qty, "f": t.id, "l": t.id,
             "T": t.time, "m": t.buyer_maker, "M": True}
            for t in selected
        ]  # fmt: skip

    def _account(self, request: Request) -> dict[str, Any]:
        return {
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0, "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000",
                                "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
            "requireSelfTradePrevention": False, "preventSor": False,
            "updateTime": int(time.time() * 1000), "accountType": "SPOT",
            "balances": [{"asset": a, "free": f, "locked": lk} for a, (f, lk) in self.balances.items()],
            "permissions": ["SPOT"], "uid": 354937868,
        }  # fmt: skip


class _HttpHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into `Request`s for the bound emulator and writes its `Reply`."""

    protocol_version = "HTTP/1.1"
    emulator: BinanceEmulator

    def _serve(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw_body = self.rfile.read(length).decode() if length else ""
        request = Request(
            method=self.command,
            path=url.path,
            query=dict(parse_qsl(url.query, keep_blank_values=True)),
            body=dict(parse_qsl(raw_body, keep_blank_values=True)),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw_query=url.query,
            raw_body=raw_body,
        )
        reply = self.emulator.handle(request)
        text = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        payload = text.encode()
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout fired first)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base-class signature
        """Keep test output quiet; the emulator has its own request log."""
