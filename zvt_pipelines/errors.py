"""Typed errors of the trading core: each names the offending field and value."""


class ZvtError(Exception):
    """Base class of every error the core raises on purpose."""


class ConfigError(ZvtError, ValueError):
    """A configuration value is missing or invalid."""


class DataError(ZvtError, ValueError):
    """Market data is malformed (bad file, wrong columns, corrupt values)."""


class BadCandles(DataError):
    """Candles break a quality rule; the message names the source, the row, the field and the value."""


class StorageError(ZvtError):
    """The trading database rejected or could not complete an operation."""


class DatabaseUnavailable(StorageError):
    """The trading database cannot be reached, does not exist or lacks its tables (URL masked)."""


class VenueError(ZvtError):
    """Base class of errors raised while talking to a venue."""


class UnknownSymbol(VenueError, KeyError):
    """The venue does not list the requested market."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class BadTimeframe(VenueError, ValueError):
    """The timeframe is malformed or not offered by the venue."""


class AuthenticationFailed(VenueError):
    """The venue refused the API credentials."""


class VenueUnavailable(VenueError):
    """Network error, timeout, rate limit or server error that outlived the retries."""


class InsufficientFunds(VenueError):
    """The account balance does not cover the order."""


class InvalidOrder(VenueError, ValueError):
    """The venue (or pre-trade validation) rejected the order's parameters."""


class OrderNotFound(VenueError, KeyError):
    """The venue does not know the order id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --- portfolio: currency conversion, risk inputs and risk state --------------------------


class NoConversionPath(ZvtError, LookupError):
    """No chain of market quotes links two currencies."""

    def __init__(self, from_ccy: str, to_ccy: str) -> None:
        super().__init__(f"no conversion path from {from_ccy!r} to {to_ccy!r} in the quotes given")
        self.from_ccy = from_ccy
        self.to_ccy = to_ccy


class RiskInputError(ZvtError, ValueError):
    """Inputs to a risk or attribution computation are inconsistent (shapes, sums, values)."""


class IllegalRiskTransition(ZvtError):
    """The trading state cannot move between the two named states."""


# --- alerts: rules, preferences and delivery channels ------------------------------------


class AlertConfigError(ConfigError):
    """An alert rule, routing table, channel or user preference is misconfigured."""


class ChannelError(ZvtError):
    """A channel could not deliver an alert; `retryable` says whether trying again may help."""

    def __init__(self, channel: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(f"channel {channel!r}: {message}")
        self.channel = channel
        self.retryable = retryable


# --- data quality suite -------------------------------------------------------------------


class QualityEngineError(ZvtError, RuntimeError):
    """The quality engine (Great Expectations) could not evaluate a rule: no verdict on the data."""


# --- positions, routing and execution algorithms -----------------------------------------


class PositionError(ZvtError, ValueError):
    """A fill, mark or margin input does not fit the position (wrong key, duplicate fill, bad leverage)."""


class NoRoute(ZvtError):
    """No eligible venue can take any part of the order; `report` says why each was excluded."""

    def __init__(self, message: str, report: object) -> None:
        super().__init__(message)
        self.report = report


class IllegalAlgoTransition(ZvtError):
    """An execution algorithm cannot move between the two named states."""


# --- simulated venue (venues/simulator.py, venues/simulated.py) ---


class NotSupported(VenueError, ValueError):
    """The venue does not offer this call for the market (e.g. funding rates of a spot pair)."""


class BadRequest(VenueError, ValueError):
    """A venue call's argument is out of range (e.g. a `limit` above the venue's maximum)."""


# --- backtest (backtest/bar_by_bar.py) ---


class StrategyError(ZvtError):
    """User strategy code raised while deciding on a bar; the message names the bar."""


# --- tracking, optimisation and validation (tracking/, backtest/validation.py) ---


class TrackingError(ZvtError):
    """MLflow could not record a run (store unreachable, rejected value); names the store."""


class TestPeriodLocked(ZvtError):
    """The held-out test period was asked for before (or after) its one final evaluation."""

    __test__ = False  # not a pytest test class despite the name


# --- strategies (strategies/registry.py, strategies/base.py) ---


class UnknownStrategy(ConfigError, KeyError):
    """No strategy is registered under the requested type name; the message lists the known ones."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


# --- order state machine (oms/order.py) ---


class IllegalTransition(ZvtError):
    """An order event does not apply to the order's current status; names both."""

    def __init__(self, client_order_id: str, status: str, event: str) -> None:
        super().__init__(f"order {client_order_id}: event {event} is illegal in status {status}")
        self.client_order_id, self.status, self.event = client_order_id, status, event


class DuplicateFill(ZvtError):
    """A fill whose execution id the order has already recorded."""


class Overfill(ZvtError):
    """A fill would take an order's filled amount above its amount."""
