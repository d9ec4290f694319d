"""A local Binance spot websocket emulator on 127.0.0.1 that a real `ccxt.pro.binance` streams from.

It speaks the documented spot protocols (developers.binance.com, "WebSocket Streams" and
"WebSocket API"), as ccxt 4.5 uses them:

* market streams at `<stream_url>/<n>`: `SUBSCRIBE` / `UNSUBSCRIBE` / `LIST_SUBSCRIPTIONS`
  with ids answered `{"result": ..., "id": N}`; raw events of `<symbol>@bookTicker`,
  `@depth`, `@depth@100ms`, `@trade`, `@aggTrade`, `@ticker`, `@miniTicker` pushed by the test
  (or the recorded feed) through `publish`;
* the user-data stream two ways: over the WebSocket API (`<api_url>`,
  `userDataStream.subscribe.signature`, HMAC-checked; events wrapped as
  `{"subscriptionId": n, "event": {...}}`), which ccxt uses for spot, and the older listenKey
  (`POST/PUT/DELETE /api/v3/userDataStream` on the REST emulator, then `<stream_url>/<listenKey>`
  carrying raw events);
* controls for tests: drop connections, send the next message of a stream twice, swap it
  with the one after it, and a log of every frame the clients sent.

The server runs its own event loop in a background thread, like the REST emulator, so a
client on any loop (or another process) can use it. Why the stream URL path starts with
`/stream`: ccxt decides a connection is spot (not futures) by looking for `/stream` in the
URL, which the real host name `stream.binance.com` contains.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

from tests.fakes.binance_server import INVALID_KEY_MSG, ApiError, BinanceEmulator, Request

STREAM_PREFIX = "/stream/ws"
API_PATH = "/ws-api/v3"
_STREAM_NAME = re.compile(
    r"[a-z0-9]+@(bookTicker|depth|depth@100ms|depth@1000ms|trade|aggTrade|ticker|miniTicker)"
)
USER_STREAM = "<user>"  # the name `publish`-side controls use for the user-data stream


class WsProtocolError(Exception):
    """A request the real server refuses, with Binance's error code and message."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status = code, msg, status


@dataclass
class _Connection:
    """One client connection: its subscriptions and the queue its single writer task drains."""

    ws: web.WebSocketResponse
    path: str
    transport: asyncio.BaseTransport
    streams: set[str] = field(default_factory=set)
    user_subscription: int | None = None  # WebSocket API subscriptionId
    listen_key: str | None = None  # set on a legacy `/ws/<listenKey>` connection
    queue: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)


class BinanceWsEmulator:
    """The websocket server, its subscriptions and test controls.

    Use as a context manager: `with BinanceWsEmulator(rest) as ws: ws.stream_url`. Pass the
    REST emulator to serve listenKeys on it and share its API key and secret.
    """

    def __init__(self, rest: BinanceEmulator | None = None) -> None:
        self.rest = rest
        self.api_key = rest.api_key if rest else "emulator-key"
        self.secret = rest.secret if rest else "emulator-secret"
        self.listen_keys: set[str] = set()
        self.sent = 0  # messages queued to clients, over the server's life
        self.connections_opened = 0
        self._connections: list[_Connection] = []
        self._faults: dict[str, list[str]] = defaultdict(list)
        self._held: dict[str, str] = {}
        self._frames: list[dict[str, Any]] = []
        self._subscribe_hooks: list[Callable[[str], None]] = []
        self._subscription_ids = itertools.count()
        self._changed: asyncio.Condition | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        if rest is not None:
            self._install_listen_key_routes(rest)

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def stream_url(self) -> str:
        """Base of the market-stream URLs (ccxt appends `/<n>`; a listenKey goes in its place)."""
        return f"ws://127.0.0.1:{self._port}{STREAM_PREFIX}"

    @property
    def api_url(self) -> str:
        """The WebSocket API URL (ccxt's `urls['api']['ws']['ws-api']['spot']`)."""
        return f"ws://127.0.0.1:{self._port}{API_PATH}"

    def start(self) -> BinanceWsEmulator:
        """Listen on an ephemeral port, serving from a background thread's event loop."""
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name="binance-ws-emulator", daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the websocket emulator did not start within 10 s")
        return self

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start_site())
        ready.set()
        self._loop.run_forever()

    async def _start_site(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application()
        app.router.add_get(API_PATH, self._handle_api)
        app.router.add_get(STREAM_PREFIX + "/{name}", self._handle_stream)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self._port = self._runner.addresses[0][1]

    def stop(self) -> None:
        """Close every connection, stop listening and end the thread."""
        if self._loop is None:
            return
        self.call(self._shutdown()).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    async def _shutdown(self) -> None:
        for conn in list(self._connections):
            await conn.ws.close()
        await self._runner.cleanup()

    def __enter__(self) -> BinanceWsEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def call(self, coro: Coroutine[Any, Any, Any]) -> Future:
        """Run `coro` on the server's loop; await the result with `asyncio.wrap_future`."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _on_loop(self, function: Callable[..., Any], *args: Any) -> None:
        """Call `function(*args)` on the server loop: directly there, thread-safely elsewhere."""
        if threading.current_thread() is self._thread:
            function(*args)
        else:
            self._loop.call_soon_threadsafe(function, *args)

    # -- controls for tests --------------------------------------------------------------

    def publish(self, stream: str, event: dict[str, Any] | str) -> None:
        """Send `event` (a dict, or JSON text sent verbatim) to every connection subscribed
        to `stream` (e.g. `btcusdt@trade`)."""
        self._on_loop(self._publish, stream, _as_text(event))

    def publish_user_event(self, event: dict[str, Any] | str) -> None:
        """Send a user-data event (e.g. an `executionReport`) to every user-data subscriber."""
        self._on_loop(self._publish, USER_STREAM, _as_text(event))

    def duplicate_next(self, stream: str) -> None:
        """Send the next message of `stream` twice (use `"<user>"` for the user-data stream)."""
        self._on_loop(self._faults[stream].append, "duplicate")

    def swap_next(self, stream: str) -> None:
        """Send the next message of `stream` after the one that follows it (out of order)."""
        self._on_loop(self._faults[stream].append, "swap")

    def drop_connections(self, stream: str | None = None) -> Future:
        """Close the connections (only those subscribed to `stream`, if given) without a
        close handshake, as a network failure does; the future gives how many were dropped."""
        return self.call(self._drop(stream))

    def on_subscribe(self, hook: Callable[[str], None]) -> None:
        """Call `hook(stream)` on the server loop when a client subscribes, before the answer
        (the recorded feed refreshes the REST depth snapshot there)."""
        self._subscribe_hooks.append(hook)

    def frames(self) -> list[dict[str, Any]]:
        """Every JSON frame the clients sent, oldest first (`path` added to each)."""
        return list(self._frames)

    def subscribers(self, stream: str) -> int:
        """How many open connections are subscribed to `stream`."""
        return sum(1 for conn in self._connections if self._wants(conn, stream))

    async def wait_subscribed(
        self, streams: Iterable[str], timeout: float = 10.0, *, subscribed: bool = True
    ) -> None:
        """On the server loop: wait until every one of `streams` has a subscriber (or, with
        `subscribed=False`, none has)."""
        wanted = list(streams)

        def done() -> bool:
            return all(bool(self.subscribers(s)) == subscribed for s in wanted)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(done), timeout)

    def wait_subscribed_from(
        self, streams: Iterable[str], timeout: float = 10.0, *, subscribed: bool = True
    ) -> Awaitable:
        """The same, awaitable from a client loop in another thread."""
        waiting = self.wait_subscribed(list(streams), timeout, subscribed=subscribed)
        return asyncio.wrap_future(self.call(waiting))

    # -- fan-out -------------------------------------------------------------------------

    @staticmethod
    def _wants(conn: _Connection, stream: str) -> bool:
        if stream == USER_STREAM:
            return conn.user_subscription is not None or conn.listen_key is not None
        return stream in conn.streams

    def _publish(self, stream: str, text: str) -> None:
        faults = self._faults.get(stream)
        fault = faults.pop(0) if faults else None
        if fault == "swap":
            self._held[stream] = text
            return
        messages = [text, text] if fault == "duplicate" else [text]
        if stream in self._held:
            messages.append(self._held.pop(stream))
        for conn in self._connections:
            if not self._wants(conn, stream):
                continue
            for message in messages:
                if stream == USER_STREAM and conn.user_subscription is not None:
                    message = f'{{"subscriptionId":{conn.user_subscription},"event":{message}}}'
                conn.queue.put_nowait(message)
                self.sent += 1

    async def _drop(self, stream: str | None) -> int:
        doomed = [c for c in self._connections if stream is None or self._wants(c, stream)]
        for conn in doomed:
            conn.transport.abort()  # an abrupt TCP reset, no close frame
            conn.queue.put_nowait(None)
        return len(doomed)

    async def _writer(self, conn: _Connection) -> None:
        while (message := await conn.queue.get()) is not None:
            try:
                await conn.ws.send_str(message)
            except (ConnectionError, RuntimeError):
                return

    async def _run_connection(
        self, request: web.Request, conn: _Connection, on_frame: Callable[[_Connection, Any], Any]
    ) -> web.WebSocketResponse:
        await conn.ws.prepare(request)
        self._connections.append(conn)
        self.connections_opened += 1
        writer = asyncio.create_task(self._writer(conn))
        await self._notify()
        try:
            async for msg in conn.ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                except json.JSONDecodeError as exc:
                    conn.queue.put_nowait(_error_json(3, f"Invalid JSON: {exc}", None))
                    continue
                self._frames.append(
                    {**frame, "path": conn.path} if isinstance(frame, dict) else frame
                )
                await on_frame(conn, frame)
        finally:
            self._connections.remove(conn)
            conn.queue.put_nowait(None)
            await writer
            await self._notify()
        return conn.ws

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- market streams (and legacy listenKey streams) ------------------------------------

    async def _handle_stream(self, request: web.Request) -> web.WebSocketResponse:
        name = request.match_info["name"]
        conn = _Connection(web.WebSocketResponse(), request.path, request.transport)
        if not name.isdigit():
            if name not in self.listen_keys:
                raise web.HTTPBadRequest(text="invalid listenKey")
            conn.listen_key = name
        return await self._run_connection(request, conn, self._on_stream_frame)

    async def _on_stream_frame(self, conn: _Connection, frame: Any) -> None:
        request_id = frame.get("id") if isinstance(frame, dict) else None
        try:
            result = self._stream_request(conn, frame)
        except WsProtocolError as exc:
            conn.queue.put_nowait(_error_json(exc.code, exc.msg, request_id))
            return
        conn.queue.put_nowait(json.dumps({"result": result, "id": request_id}))
        await self._notify()

    def _stream_request(self, conn: _Connection, frame: Any) -> Any:
        """Binance's live subscribing: the answer's `result`, or the documented error."""
        if not isinstance(frame, dict) or "method" not in frame:
            raise WsProtocolError(2, "Invalid request: missing field `method`")
        method, params = frame["method"], frame.get("params", [])
        if method == "LIST_SUBSCRIPTIONS":
            return sorted(conn.streams)
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE"):
            raise WsProtocolError(2, f"Invalid request: unknown variant `{method}`")
        if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
            raise WsProtocolError(1, "Invalid value type: expected a list of strings as `params`")
        bad = [p for p in params if not _STREAM_NAME.fullmatch(p)]
        if bad:
            raise WsProtocolError(2, f"Invalid request: invalid stream `{bad[0]}`")
        if method == "UNSUBSCRIBE":
            conn.streams.difference_update(params)
            return None
        for stream in params:
            for hook in self._subscribe_hooks:
                hook(stream)
        conn.streams.update(params)
        return None

    # -- WebSocket API: the user-data subscription ----------------------------------------

    async def _handle_api(self, request: web.Request) -> web.WebSocketResponse:
        conn = _Connection(web.WebSocketResponse(), request.path, request.transport)
        return await self._run_connection(request, conn, self._on_api_frame)

    async def _on_api_frame(self, conn: _Connection, frame: Any) -> None:
        request_id = frame.get("id") if isinstance(frame, dict) else None
        try:
            result = self._api_request(conn, frame)
        except WsProtocolError as exc:
            body = {
                "id": request_id,
                "status": exc.status,
                "error": {"code": exc.code, "msg": exc.msg},
            }
            conn.queue.put_nowait(json.dumps(body))
            return
        conn.queue.put_nowait(json.dumps({"id": request_id, "status": 200, "result": result}))
        await self._notify()

    def _api_request(self, conn: _Connection, frame: Any) -> Any:
        if not isinstance(frame, dict) or "method" not in frame:
            raise WsProtocolError(-1102, "Mandatory parameter 'method' was not sent.")
        method, params = frame["method"], frame.get("params") or {}
        if method == "ping":
            return {}
        if method == "session.subscriptions":
            sub = conn.user_subscription
            return [] if sub is None else [{"subscriptionId": sub}]
        if method == "userDataStream.unsubscribe":
            conn.user_subscription = None
            return {}
        if method != "userDataStream.subscribe.signature":
            raise WsProtocolError(-1100, f"Unknown method '{method}'.")
        self._verify(params)
        if conn.user_subscription is not None:
            raise WsProtocolError(-2035, "User Data Stream subscription already active.")
        conn.user_subscription = next(self._subscription_ids)
        return {"subscriptionId": conn.user_subscription}

    def _verify(self, params: dict[str, Any]) -> None:
        """The SIGNED check of the WebSocket API: key, HMAC over the sorted params, recvWindow."""
        if params.get("apiKey") != self.api_key:
            raise WsProtocolError(-2015, INVALID_KEY_MSG, status=401)
        signature = params.get("signature")
        if signature is None or "timestamp" not in params:
            missing = "signature" if signature is None else "timestamp"
            raise WsProtocolError(-1102, f"Mandatory parameter '{missing}' was not sent.")
        payload = urlencode(sorted((k, v) for k, v in params.items() if k != "signature"))
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(signature).lower()):
            raise WsProtocolError(-1022, "Signature for this request is not valid.")
        now, timestamp = int(time.time() * 1000), int(params["timestamp"])
        if timestamp > now + 1000 or now - timestamp > int(params.get("recvWindow", 5000)):
            raise WsProtocolError(-1021, "Timestamp for this request is outside of the recvWindow.")

    # -- legacy listenKey endpoints on the REST emulator ----------------------------------

    def _install_listen_key_routes(self, rest: BinanceEmulator) -> None:
        """`/api/v3/userDataStream` (USER_STREAM security: API key header, no signature)."""

        def check_key(request: Request) -> None:
            if request.headers.get("x-mbx-apikey") != self.api_key:
                raise ApiError(401, -2015, INVALID_KEY_MSG)

        def known_key(request: Request) -> str:
            check_key(request)
            key = request.require("listenKey")
            if key not in self.listen_keys:
                raise ApiError(400, -1125, "This listenKey does not exist.")
            return key

        def create(request: Request) -> dict[str, str]:
            check_key(request)
            key = secrets.token_urlsafe(45)[:60]
            self.listen_keys.add(key)
            return {"listenKey": key}

        def close(request: Request) -> dict[str, Any]:
            self.listen_keys.discard(known_key(request))
            return {}

        rest.route("POST", "/api/v3/userDataStream", create)
        rest.route("PUT", "/api/v3/userDataStream", lambda request: known_key(request) and {})
        rest.route("DELETE", "/api/v3/userDataStream", close)


def _as_text(event: dict[str, Any] | str) -> str:
    return event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))


def _error_json(code: int, msg: str, request_id: Any) -> str:
    """Binance's market-stream error answer."""
    return json.dumps({"error": {"code": code, "msg": msg}, "id": request_id})
