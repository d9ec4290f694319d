"""The live venue: a real ccxt exchange behind the venue protocol, with retries and typed errors.

Transient failures (network errors, timeouts, HTTP 429, 5xx, maintenance) are retried
with capped exponential backoff; what outlives the retries becomes `VenueUnavailable`.
ccxt's errors become the project's typed errors, with secrets scrubbed from messages.
"""

from __future__ import annotations

import email.utils
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import ccxt

from zvt_pipelines.errors import (
    AuthenticationFailed,
    BadTimeframe,
    ConfigError,
    InsufficientFunds,
    InvalidOrder,
    OrderNotFound,
    UnknownSymbol,
    VenueError,
    VenueUnavailable,
)
from zvt_pipelines.venues.base import FaultHook
from zvt_pipelines.venues.credentials import Credentials
from zvt_pipelines.venues.retry import RetriesExhausted, RetryPolicy, call_with_retries

T = TypeVar("T")

BLOCKED_URL = "http://blocked.invalid"
CLIENT_ORDER_ID_PARAMS = ("clientOrderId", "newClientOrderId")
_SIGNATURE_ERROR_CODES = ('"code":-1022',)  # Binance: "Signature for this request is not valid."
_ORDER_METHODS = frozenset({"create_order", "cancel_order", "fetch_order"})
_SENSITIVE_VALUE = re.compile(
    r"""((?:x-mbx-apikey|apikey|api[-_]key|secret|password|passphrase|signature)['"]?\s*[:=]\s*['"]?)"""
    r"""[^'"&\s,}]+""",
    re.IGNORECASE,
)


def scrub(text: str) -> str:
    """`text` with the values of key, secret, password and signature fields replaced by `***`."""
    return _SENSITIVE_VALUE.sub(r"\1***", text)


class _ScrubbingFilter(logging.Filter):
    """Masks API keys and signatures in ccxt's own debug log of requests and responses."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), None
        return True


def _scrub_ccxt_log() -> None:
    ccxt_log = logging.getLogger("ccxt.base.exchange")
    if not any(isinstance(f, _ScrubbingFilter) for f in ccxt_log.filters):
        ccxt_log.addFilter(_ScrubbingFilter())


class CcxtVenue:
    """A venue backed by a real `ccxt.Exchange` (exposed as `.exchange`), rate-limited by ccxt.

    `urls` maps ccxt API sections (e.g. `public`, `private`) to other base URLs, for a
    proxy, a testnet or a local emulator; every section not named is then blocked, so a
    redirected venue never reaches the real exchange by accident.

    `create_order` is retried only when `params` carries a client order id
    (`clientOrderId` / `newClientOrderId`). After a timeout or 5xx the order may have been
    placed, and Binance refuses a reused client order id only while the earlier order is
    open ("a unique id among open orders"; once it has filled the id is accepted again),
    so a blind resend of a market order could place it twice. Every resend after such an
    answer therefore first looks the order up by its client id and adopts it if found; a
    client id whose outcome stayed unknown is looked up before any later send too.
    Without a client id, a transient failure raises `VenueUnavailable` at once, saying that
    the order's outcome is unknown.

    `fault_hook` (None in production) is called with a step name of the order path
    (`venues.base.FAULT_STEPS`): the fault-injection tests end the process there.
    """

    def __init__(
        self,
        exchange_id: str,
        *,
        credentials: Credentials | None = None,
        options: Mapping[str, Any] | None = None,
        retry: RetryPolicy = RetryPolicy(),
        urls: Mapping[str, str] | None = None,
        timeout_ms: int = 10_000,
        rate_limit_ms: int | None = None,
        fault_hook: FaultHook | None = None,
    ) -> None:
        if not isinstance(exchange_id, str) or exchange_id not in ccxt.exchanges:
            raise ConfigError(
                f"venue {exchange_id!r}: not an exchange id that ccxt knows "
                f"(see ccxt.exchanges, e.g. 'binance', 'kraken', 'bybit')"
            )
        if not isinstance(timeout_ms, int) or timeout_ms <= 0:
            raise ConfigError(f"timeout_ms {timeout_ms!r}: must be a positive integer")
        config: dict[str, Any] = {
            "enableRateLimit": True,
            "timeout": timeout_ms,
            "options": dict(options or {}),
        }
        if rate_limit_ms is not None:
            if not isinstance(rate_limit_ms, int) or rate_limit_ms < 0:
                raise ConfigError(f"rate_limit_ms {rate_limit_ms!r}: must be an integer >= 0")
            config["rateLimit"] = rate_limit_ms
        if credentials is not None:
            config.update(credentials.ccxt_config())
        self.id = exchange_id
        self.retry = retry
        self.exchange: ccxt.Exchange = getattr(ccxt, exchange_id)(config)
        self._secrets = tuple(
            s for s in (credentials.api_key, credentials.secret, credentials.password) if s
        ) if credentials else ()  # fmt: skip
        self._last_status: int | None = None
        self._last_retry_after: float | None = None
        self._unknown_outcome: set[str] = set()  # client ids whose create answer was lost
        self.fault_hook = fault_hook
        if urls is not None:
            self._redirect(urls)
        self._observe_responses()
        _scrub_ccxt_log()

    def __repr__(self) -> str:
        return f"CcxtVenue(id={self.id!r}, authenticated={bool(self._secrets)})"

    # -- the venue protocol ------------------------------------------------------------

    def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]:
        """The venue's markets by unified symbol (cached by ccxt unless `reload`)."""
        return self._call("load_markets", lambda: self.exchange.load_markets(reload))

    def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[list[float]]:
        """Candles `[ms, o, h, l, c, v]` from `since` (ms); the timeframe is checked first."""
        offered = self.exchange.timeframes or {}
        if timeframe not in offered:
            raise BadTimeframe(
                f"timeframe {timeframe!r}: venue {self.id!r} offers {list(offered) or 'no candles'}"
            )
        return self._call(
            "fetch_ohlcv",
            lambda: self.exchange.fetch_ohlcv(symbol, timeframe, since, limit),
            symbol=symbol,
        )

    def fetch_order_book(self, symbol: str, limit: int | None = None) -> dict[str, Any]:
        """The order book: `bids` best first, `asks` best first, as `[price, amount]` pairs."""
        return self._call(
            "fetch_order_book", lambda: self.exchange.fetch_order_book(symbol, limit), symbol=symbol
        )

    def fetch_trades(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Public trades, oldest first."""
        return self._call(
            "fetch_trades", lambda: self.exchange.fetch_trades(symbol, since, limit), symbol=symbol
        )

    def fetch_funding_rate_history(
        self, symbol: str, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Funding rates of a perpetual swap, oldest first."""
        return self._call(
            "fetch_funding_rate_history",
            lambda: self.exchange.fetch_funding_rate_history(symbol, since, limit),
            symbol=symbol,
        )

    def fetch_balance(self) -> dict[str, Any]:
        """The account balance in ccxt's shape (`free`, `used`, `total` per currency)."""
        return self._call("fetch_balance", self.exchange.fetch_balance)

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: float,
        price: float | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Place an order; retried only with a client order id (see the class docstring)."""
        params = dict(params or {})
        client_id = next((params[k] for k in CLIENT_ORDER_ID_PARAMS if params.get(k)), None)
        self._fault("before_send")
        if client_id is None:
            answer = self._call(
                "create_order",
                lambda: self.exchange.create_order(symbol, type, side, amount, price, params),
                symbol=symbol,
                retry=False,
            )
        else:
            answer = self._create_once(
                symbol,
                client_id,
                lambda: self.exchange.create_order(symbol, type, side, amount, price, params),
            )
        self._fault("after_send")
        return answer

    def _create_once(
        self, symbol: str, client_id: str, send: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """Send with retries; once an attempt's outcome is unknown (timeout, 5xx, lost
        connection; not a 429, which refuses the request), every later attempt first asks
        the venue for the client id and adopts the order it finds instead of resending."""
        unknown = client_id in self._unknown_outcome

        def attempt() -> dict[str, Any]:
            nonlocal unknown
            if unknown:
                found = self._find_by_client_id(client_id, symbol)
                if found is not None:
                    return found
            try:
                return send()
            except ccxt.BaseError as exc:
                if self._is_transient(exc) and not isinstance(exc, ccxt.DDoSProtection):
                    unknown = True
                raise

        try:
            answer = self._call("create_order", attempt, symbol=symbol)
        except VenueUnavailable:
            if unknown:
                self._unknown_outcome.add(client_id)
            raise
        self._unknown_outcome.discard(client_id)
        return answer

    def _find_by_client_id(self, client_id: str, symbol: str) -> dict[str, Any] | None:
        """The venue's order with this client id, None if it has none (one raw request)."""
        try:
            return self.exchange.fetch_order("", symbol, {"origClientOrderId": client_id})
        except ccxt.OrderNotFound:
            return None

    def _fault(self, step: str) -> None:
        if self.fault_hook is not None:
            self.fault_hook(step)

    def cancel_order(self, id: str, symbol: str | None = None) -> dict[str, Any]:
        """Cancel an order (a resend after a lost answer may report the order as not found)."""
        return self._call(
            "cancel_order",
            lambda: self.exchange.cancel_order(id, symbol),
            symbol=symbol,
            order_id=id,
        )

    def fetch_order(self, id: str, symbol: str | None = None) -> dict[str, Any]:
        """One order by its venue id."""
        answer = self._call(
            "fetch_order", lambda: self.exchange.fetch_order(id, symbol), symbol=symbol, order_id=id
        )
        return self._seen(answer)

    def _seen(self, answer: dict[str, Any]) -> dict[str, Any]:
        """An order answer on its way to the OMS (the `fill_seen` fault step if it has fills)."""
        if answer.get("filled"):
            self._fault("fill_seen")
        return answer

    def fetch_open_orders(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """The account's open orders (of one market, if `symbol` is given)."""
        return self._call(
            "fetch_open_orders", lambda: self.exchange.fetch_open_orders(symbol), symbol=symbol
        )

    def fetch_my_trades(
        self, symbol: str | None = None, since: int | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """The account's own trades (fills), what reconciliation books after a restart."""
        return self._call(
            "fetch_my_trades",
            lambda: self.exchange.fetch_my_trades(symbol, since, limit),
            symbol=symbol,
        )

    def fetch_order_by_client_id(
        self, client_order_id: str, symbol: str | None = None
    ) -> dict[str, Any]:
        """One order by the client order id we gave it (an order whose ack was lost has no venue id)."""
        answer = self._call(
            "fetch_order",
            lambda: self.exchange.fetch_order("", symbol, {"origClientOrderId": client_order_id}),
            symbol=symbol,
            order_id=client_order_id,
        )
        return self._seen(answer)

    # -- plumbing ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        operation: Callable[[], T],
        *,
        symbol: str | None = None,
        order_id: str | None = None,
        retry: bool = True,
    ) -> T:
        """Run one ccxt call with the retry policy and translate what it raises."""

        def attempt() -> T:
            self._last_status = self._last_retry_after = None
            return operation()

        try:
            if not retry:
                return attempt()
            return call_with_retries(
                attempt,
                self.retry,
                is_transient=self._is_transient,
                retry_after=lambda: self._last_retry_after,
                describe=f"venue {self.id!r} {method}",
            )
        except RetriesExhausted as exc:
            last = exc.last_error
            status = f" (HTTP {self._last_status})" if self._last_status else ""
            raise VenueUnavailable(
                f"venue {self.id!r}: {method} failed {exc.attempts} time(s); last error{status}: "
                f"{type(last).__name__}: {self._scrub(str(last))}"
            ) from last
        except ccxt.BaseError as exc:
            if self._is_transient(exc):  # only reached for calls that are not retried
                raise VenueUnavailable(
                    f"venue {self.id!r}: {method} failed ({type(exc).__name__}: "
                    f"{self._scrub(str(exc))}) and was not retried, since a resend could "
                    f"place the order twice: its outcome is unknown; pass a client order id "
                    f"(params clientOrderId) to make retries safe"
                ) from exc
            raise self._translate(exc, method, symbol, order_id) from exc

    def _is_transient(self, exc: BaseException) -> bool:
        """Network errors, timeouts, 429, maintenance and any HTTP 5xx answer.

        ccxt's OperationFailed covers NetworkError (RequestTimeout, DDoSProtection,
        RateLimitExceeded, ExchangeNotAvailable, OnMaintenance) and exchanges' "internal
        error, try again" codes; a 5xx whose body ccxt maps elsewhere is caught by status.
        """
        if isinstance(exc, ccxt.CancelPending):
            return False
        if isinstance(exc, ccxt.OperationFailed):
            return True
        return isinstance(exc, ccxt.BaseError) and (self._last_status or 0) >= 500

    def _translate(
        self, exc: ccxt.BaseError, method: str, symbol: str | None, order_id: str | None
    ) -> VenueError:
        """The project's typed error for a non-transient ccxt error."""
        detail = f"{type(exc).__name__}: {self._scrub(str(exc))}"
        if isinstance(exc, ccxt.BadSymbol):
            return UnknownSymbol(
                f"symbol {symbol!r}: not a market on venue {self.id!r} "
                f"(see load_markets() for the listed ones; {detail})"
            )
        if isinstance(exc, ccxt.AuthenticationError) or _refused_signature(exc):
            return AuthenticationFailed(
                f"venue {self.id!r} refused the API credentials on {method} "
                f"(check the key, the secret and the key's permissions; {detail})"
            )
        if isinstance(exc, ccxt.InsufficientFunds):
            return InsufficientFunds(f"venue {self.id!r}: {method} on {symbol!r}: {detail}")
        if isinstance(exc, ccxt.OrderNotFound):
            return OrderNotFound(f"venue {self.id!r}: order {order_id!r} not found ({detail})")
        if isinstance(exc, ccxt.InvalidOrder) or (
            isinstance(exc, ccxt.BadRequest) and method in _ORDER_METHODS
        ):
            return InvalidOrder(f"venue {self.id!r} rejected {method} on {symbol!r}: {detail}")
        return VenueError(f"venue {self.id!r}: {method} failed: {detail}")

    def _scrub(self, message: str) -> str:
        """The message with signatures, keys and secrets replaced by `***`."""
        message = scrub(message)
        for secret in self._secrets:
            message = message.replace(secret, "***")
        return message

    def _redirect(self, urls: Mapping[str, str]) -> None:
        """Point the named API sections at other base URLs and block the rest."""
        api = self.exchange.urls.get("api")
        if not isinstance(api, dict):
            raise ConfigError(f"urls: venue {self.id!r} has no per-section API URLs to override")
        unknown = sorted(set(urls) - set(api))
        if unknown:
            raise ConfigError(
                f"urls: unknown API section(s) {unknown} for venue {self.id!r}; known: {sorted(api)}"
            )
        for section, url in urls.items():
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise ConfigError(f"urls[{section!r}] {url!r}: expected an http(s) base URL")
        self.exchange.urls["api"] = {section: urls.get(section, BLOCKED_URL) for section in api}

    def _observe_responses(self) -> None:
        """Remember each response's HTTP status and Retry-After, for the retry decision."""
        respond = self.exchange.on_rest_response

        def on_rest_response(
            code: Any, reason: Any, url: Any, method: Any, headers: Any, *rest: Any
        ) -> Any:
            self._last_status = int(code) if code is not None else None
            self._last_retry_after = retry_after_seconds((headers or {}).get("Retry-After"))
            return respond(code, reason, url, method, headers, *rest)

        self.exchange.on_rest_response = on_rest_response


def _refused_signature(exc: ccxt.BaseError) -> bool:
    """A refused request signature (a wrong secret): Binance answers HTTP 400 with code
    -1022, which ccxt raises as BadRequest; it is a credentials problem, not a bad order."""
    return isinstance(exc, ccxt.BadRequest) and any(
        code in str(exc) for code in _SIGNATURE_ERROR_CODES
    )


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A Retry-After header (seconds, or an HTTP date) as seconds from now; None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
