"""The strategy interface: signals, the read-only views a strategy sees, and the base class.

A strategy is one object used two ways:

* **live** (and paper): the rebalance loop builds a `MarketData` view truncated at "now"
  and a `PortfolioView`, calls `generate_signals`, and `targets.py` turns the signals
  into target positions with `calculate_position_size` and the strategy's risk limits;
* **bar backtest**: bar-level families also implement `target_series(frame)`, the target
  fraction of equity per bar decided on that bar's close, which the fast engine fills one
  bar later. `BarStrategy.generate_signals` is defined from `target_series`, so the live
  decision and the backtest decision are the same code.

As in freqtrade, hooks take `**kwargs` (new arguments never break old strategies), get
copies rather than live state, and are called through `call_hook`, which turns any
exception of user code into a `StrategyError` naming the strategy and the hook.
"""

from __future__ import annotations

import copy
import enum
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from zvt_pipelines.errors import ConfigError, DataError, StrategyError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.money import decimal_from_float
from zvt_pipelines.model.orders import OrderType, Side
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.portfolio.limits import RiskLimits, exit_signal

ZERO = Decimal(0)
ONE = Decimal(1)
T = TypeVar("T")


class SignalKind(enum.StrEnum):
    """What a signal asks for: a trade of a size (BUY/SELL), a target weight, or a full exit."""

    BUY = "buy"
    SELL = "sell"
    TARGET = "target"
    EXIT = "exit"


@dataclass(frozen=True)
class Signal:
    """One decision of a strategy about one instrument at one time.

    `target_weight` (TARGET only) is the wanted position as a signed fraction of equity in
    [-1, 1]. `amount` (BUY/SELL, optional) is a base-asset quantity the strategy already
    sized (arbitrage legs, grid levels, quotes); without it `calculate_position_size`
    decides. `price` is the reference price (the limit price when `order_type` is LIMIT).
    `strength` in [0, 1] is the conviction, for ranking and sizing.
    """

    instrument: InstrumentId
    ts: pd.Timestamp
    kind: SignalKind
    reason: str
    strength: float = 1.0
    target_weight: Decimal | None = None
    amount: Decimal | None = None
    price: Decimal | None = None
    order_type: OrderType = OrderType.MARKET

    def __post_init__(self) -> None:
        if self.ts.tzinfo is None:
            raise ConfigError(f"signal ts {self.ts!r}: must be timezone-aware UTC")
        if not 0.0 <= self.strength <= 1.0:
            raise ConfigError(f"signal strength {self.strength!r}: must lie in [0, 1]")
        if (self.kind is SignalKind.TARGET) != (self.target_weight is not None):
            raise ConfigError(f"signal {self.kind}: target_weight goes with TARGET signals only")
        if self.target_weight is not None and not -ONE <= self.target_weight <= ONE:
            raise ConfigError(f"signal target_weight {self.target_weight}: must lie in [-1, 1]")
        for name in ("amount", "price"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, Decimal) or value <= 0):
                raise ConfigError(f"signal {name} {value!r}: must be a positive Decimal")
        if self.order_type is OrderType.LIMIT and self.price is None:
            raise ConfigError("a LIMIT signal needs a price")

    @property
    def side(self) -> Side | None:
        """The trade side of a BUY or SELL signal (None for TARGET and EXIT)."""
        return {SignalKind.BUY: Side.BUY, SignalKind.SELL: Side.SELL}.get(self.kind)


@dataclass(frozen=True)
class BookTop:
    """Best bid and ask of one market, with the sizes (base units) resting there."""

    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal

    def __post_init__(self) -> None:
        if not (ZERO < self.bid <= self.ask) or self.bid_size < 0 or self.ask_size < 0:
            raise DataError(
                f"book top bid={self.bid} ask={self.ask} sizes={self.bid_size}/{self.ask_size}: "
                "need 0 < bid <= ask and sizes >= 0"
            )

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def micro_price(self) -> Decimal:
        """Size-weighted mid ``(bid * ask_size + ask * bid_size) / (bid_size + ask_size)``:
        leans towards the side with less size, where the price is more likely to move."""
        total = self.bid_size + self.ask_size
        if total == 0:
            return self.mid
        return (self.bid * self.ask_size + self.ask * self.bid_size) / total


class MarketData:
    """What a strategy may know at decision time `now`, and nothing later.

    Candles (labelled by open time) are kept only when closed: ``ts + timeframe <= now``.
    Funding rows (`ts`, `funding_rate`) are kept when settled: ``ts <= now``. Order books
    are the snapshots the caller took at `now`. Every accessor returns a copy.
    """

    def __init__(
        self,
        now: pd.Timestamp,
        timeframe: str,
        candles: Mapping[InstrumentId, pd.DataFrame],
        order_books: Mapping[InstrumentId, BookTop] | None = None,
        funding: Mapping[InstrumentId, pd.DataFrame] | None = None,
    ) -> None:
        self.now = pd.Timestamp(now)
        if self.now.tzinfo is None:
            raise DataError(f"market data now={now!r}: must be timezone-aware UTC")
        self.timeframe = timeframe
        last_open = self.now - pd.Timedelta(milliseconds=timeframe_ms(timeframe))
        self._candles = {
            inst: frame.loc[frame["ts"] <= last_open].reset_index(drop=True).copy()
            for inst, frame in candles.items()
        }
        self._books = MappingProxyType(dict(order_books or {}))
        self._funding = {
            inst: frame.loc[frame["ts"] <= self.now].reset_index(drop=True).copy()
            for inst, frame in (funding or {}).items()
        }

    @classmethod
    def at_bar_close(
        cls,
        candles: Mapping[InstrumentId, pd.DataFrame],
        bar_open: pd.Timestamp,
        timeframe: str,
        **extra: Any,
    ) -> MarketData:
        """The view at the close of the bar that opened at `bar_open` (a backtest step)."""
        now = pd.Timestamp(bar_open) + pd.Timedelta(milliseconds=timeframe_ms(timeframe))
        return cls(now, timeframe, candles, **extra)

    @property
    def instruments(self) -> tuple[InstrumentId, ...]:
        return tuple(self._candles)

    def candles(self, instrument: InstrumentId) -> pd.DataFrame:
        """A copy of the closed candles of `instrument`."""
        if instrument not in self._candles:
            raise DataError(f"market data has no candles for {instrument}")
        return self._candles[instrument].copy()

    def last_price(self, instrument: InstrumentId) -> Decimal:
        """The last closed candle's close, as a Decimal."""
        frame = self._candles.get(instrument)
        if frame is None or frame.empty:
            raise DataError(f"market data has no closed candle for {instrument} at {self.now}")
        return decimal_from_float(frame["close"].iloc[-1])

    def order_book(self, instrument: InstrumentId) -> BookTop | None:
        return self._books.get(instrument)

    def funding(self, instrument: InstrumentId) -> pd.DataFrame:
        """A copy of the settled funding rates of a perpetual (columns ts, funding_rate)."""
        if instrument not in self._funding:
            raise DataError(f"market data has no funding rates for {instrument}")
        return self._funding[instrument].copy()


@dataclass(frozen=True)
class PositionView:
    """A strategy's position in one instrument; `peak_price` is the best close since entry."""

    instrument: InstrumentId
    quantity: Decimal
    entry_price: Decimal
    opened_at: pd.Timestamp | None = None
    peak_price: Decimal | None = None


@dataclass(frozen=True)
class PortfolioView:
    """A read-only snapshot of the account as a strategy may see it.

    `equity` is in the account currency; `balances` maps venue -> currency -> free amount
    (arbitrage needs them per venue since no transfers are assumed).
    """

    equity: Decimal
    positions: Mapping[InstrumentId, PositionView] = field(default_factory=dict)
    balances: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", MappingProxyType(dict(self.positions)))
        frozen = {venue: MappingProxyType(dict(b)) for venue, b in self.balances.items()}
        object.__setattr__(self, "balances", MappingProxyType(frozen))

    def quantity(self, instrument: InstrumentId) -> Decimal:
        position = self.positions.get(instrument)
        return position.quantity if position is not None else ZERO

    def balance(self, venue: str, currency: str) -> Decimal:
        return self.balances.get(venue, {}).get(currency, ZERO)


class StrategyParams(BaseModel):
    """Base of every strategy's params model: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _private_copy(value: Any) -> Any:
    """A copy the hook may mutate; the read-only views are passed as they are."""
    if isinstance(value, MarketData | PortfolioView | PositionView | Signal | BookTop):
        return value  # frozen, or returning copies from every accessor
    if isinstance(value, pd.DataFrame | pd.Series | np.ndarray):
        return value.copy()
    return copy.deepcopy(value)


def call_hook(
    strategy: BaseCryptoStrategy, hook: str, func: Callable[..., T], *args: Any, **kwargs: Any
) -> T:
    """Call a strategy hook on private copies of its arguments; user exceptions become
    `StrategyError` naming the strategy and the hook (the original chained as the cause)."""
    args = tuple(_private_copy(a) for a in args)
    kwargs = {k: _private_copy(v) for k, v in kwargs.items()}
    try:
        return func(*args, **kwargs)
    except StrategyError:
        raise
    except Exception as exc:  # noqa: BLE001 - user code: any failure is reported as such
        raise StrategyError(
            f"strategy {strategy.label!r} ({strategy.strategy_type}) hook {hook}: raised {exc!r}"
        ) from exc


class BaseCryptoStrategy(ABC):
    """Subclass, set `params_model`, implement the three hooks and register the class.

    `label` is the instance's name from the YAML file; `strategy_type` the registry key;
    `amount_per_trade` is in the quote currency; `frequency` (a timeframe such as `1h`)
    is how often the live loop runs it (DCA also buys once per `frequency`). The live
    loop passes the current `PortfolioView` to `generate_signals` as ``portfolio=``.
    """

    strategy_type: ClassVar[str] = ""
    params_model: ClassVar[type[StrategyParams]] = StrategyParams
    # True for families whose limit signals are quotes that rest (GTC) until the next
    # decision replaces them; other limit signals (arbitrage legs) are immediate-or-cancel.
    rests_limit_orders: ClassVar[bool] = False

    def __init__(
        self,
        params: StrategyParams | Mapping[str, Any] | None = None,
        *,
        label: str | None = None,
        instruments: Sequence[InstrumentId] = (),
        amount_per_trade: Decimal = Decimal(100),
        frequency: str = "1h",
        risk_limits: RiskLimits | None = None,
    ) -> None:
        if isinstance(params, self.params_model):
            self.params = params
        else:
            try:
                self.params = self.params_model.model_validate(dict(params or {}))
            except ValidationError as exc:
                first = exc.errors()[0]
                key = ".".join(str(p) for p in first["loc"])
                raise ConfigError(
                    f"{type(self).__name__} params: key {key!r} = {first.get('input')!r}: "
                    f"{first['msg']}"
                ) from None
        self.label = label or self.strategy_type or type(self).__name__
        self.instruments = tuple(instruments)
        self.amount_per_trade = Decimal(amount_per_trade)
        timeframe_ms(frequency)
        self.frequency = frequency
        self.risk_limits = risk_limits

    @abstractmethod
    def generate_signals(self, market_data: MarketData, **kwargs: Any) -> list[Signal]:
        """The signals at `market_data.now` (may be empty)."""

    @abstractmethod
    def calculate_position_size(
        self, signal: Signal, portfolio: PortfolioView, **kwargs: Any
    ) -> Decimal:
        """Base-asset quantity to trade for a BUY/SELL signal that carries no amount."""

    @abstractmethod
    def should_exit(self, position: PositionView, market_data: MarketData, **kwargs: Any) -> bool:
        """True when the open `position` should be closed now."""

    def signal(
        self, instrument: InstrumentId, ts: pd.Timestamp, kind: SignalKind, reason: str, **kw
    ) -> Signal:
        """A `Signal` whose reason is prefixed with this strategy's label."""
        return Signal(instrument, ts, kind, f"{self.label}: {reason}", **kw)

    def quote_amount_size(self, signal: Signal) -> Decimal:
        """`amount_per_trade` (quote currency) converted to base units at the signal price."""
        if signal.price is None:
            raise DataError(f"signal {signal.reason!r}: needs a price to size in base units")
        return self.amount_per_trade / signal.price

    def risk_exit(self, position: PositionView, price: Decimal) -> bool:
        """Stop-loss / take-profit of the strategy's `RiskLimits` (False without limits)."""
        if self.risk_limits is None or position.quantity == 0:
            return False
        reason = exit_signal(self.risk_limits, position.quantity, position.entry_price, price)
        return reason is not None


class BarStrategy(BaseCryptoStrategy):
    """A family whose decision is a target fraction per bar of one instrument's candles.

    Subclasses implement `target_series`; the live `generate_signals` evaluates it on the
    closed candles and emits the last bar's target (NaN means "no instruction").
    """

    @abstractmethod
    def target_series(self, frame: pd.DataFrame) -> np.ndarray:
        """Target fraction of equity in [-1, 1] per bar (NaN = hold), using bars <= t only."""

    def generate_signals(self, market_data: MarketData, **kwargs: Any) -> list[Signal]:
        signals = []
        for instrument in self.instruments or market_data.instruments:
            frame = market_data.candles(instrument)
            if len(frame) < 2:
                continue
            targets = checked_targets(self, frame)
            last = targets[-1]
            if np.isnan(last):
                continue
            signals.append(
                self.signal(
                    instrument,
                    market_data.now,
                    SignalKind.TARGET,
                    f"target {last:.4f} on bar {frame['ts'].iloc[-1].isoformat()}",
                    target_weight=decimal_from_float(last),
                    price=market_data.last_price(instrument),
                )
            )
        return signals

    def calculate_position_size(
        self, signal: Signal, portfolio: PortfolioView, **kwargs: Any
    ) -> Decimal:
        return self.quote_amount_size(signal)

    def should_exit(self, position: PositionView, market_data: MarketData, **kwargs: Any) -> bool:
        return self.risk_exit(position, market_data.last_price(position.instrument))


def checked_targets(strategy: Any, frame: pd.DataFrame) -> np.ndarray:
    """`strategy.target_series` on a copy of `frame`, wrapped and checked: one float per
    bar, each NaN or in [-1, 1]; anything else is a StrategyError naming the strategy."""
    targets = call_hook(strategy, "target_series", strategy.target_series, frame)
    array = np.asarray(targets, dtype="float64")
    name = f"strategy {strategy.label!r} ({strategy.strategy_type}) hook target_series"
    if array.shape != (len(frame),):
        raise StrategyError(f"{name}: returned shape {array.shape}, expected ({len(frame)},)")
    present = array[~np.isnan(array)]
    if present.size and (present.min() < -1 or present.max() > 1):
        raise StrategyError(f"{name}: targets outside [-1, 1]")
    return array
