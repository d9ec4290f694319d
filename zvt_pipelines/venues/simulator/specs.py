"""Parameters and units of the market simulator: symbol specs, model constants, profile, time.

A symbol is a ccxt unified symbol: `BTC/USDT` for a spot pair, `BTC/USDT:USDT` for a linear
perpetual. Every symbol rides on the underlying price of its pair (`BTC/USDT`), so a spot
market and its perpetual, on any number of venues, share one random walk.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd

from zvt_pipelines.errors import ConfigError

MINUTES_PER_DAY = 1440
MS_PER_MINUTE = 60_000
MS_PER_DAY = 86_400_000
FUNDING_INTERVAL_MS = 8 * 3_600_000


@dataclass(frozen=True)
class SymbolSpec:
    """How one simulated market behaves and what the venue publishes about it.

    `start_price` is the underlying price at the simulator's origin and `annual_vol` the
    annualised volatility of its log returns (both belong to the pair, so a perpetual must
    agree with its spot pair). `daily_volume` is the typical base-asset volume per venue
    and day; `price_tick` and `amount_step` are the exchange's tick sizes; `premium_bps`
    is a perpetual's mean premium over the underlying (ignored for spot pairs).
    """

    symbol: str
    start_price: float
    annual_vol: float
    daily_volume: float
    price_tick: Decimal = Decimal("0.01")
    amount_step: Decimal = Decimal("0.00001")
    max_amount: Decimal = Decimal("9000")
    min_cost: Decimal = Decimal("5")
    premium_bps: float = 1.0

    def __post_init__(self) -> None:
        base, sep, rest = self.symbol.partition("/")
        quote, _, settle = rest.partition(":")
        if not sep or not base or not quote or (":" in rest and not settle):
            raise ConfigError(
                f"symbol {self.symbol!r}: expected 'BASE/QUOTE' or 'BASE/QUOTE:SETTLE'"
            )
        for name in ("start_price", "annual_vol", "daily_volume"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"{self.symbol} {name} {value!r}: must be a positive number")
        if self.annual_vol > 5:
            raise ConfigError(
                f"{self.symbol} annual_vol {self.annual_vol!r}: expected a fraction such as 0.6"
            )
        for name in ("price_tick", "amount_step", "max_amount", "min_cost"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
                raise ConfigError(f"{self.symbol} {name} {value!r}: must be a positive Decimal")

    @property
    def pair(self) -> str:
        """The underlying pair `BASE/QUOTE` whose price this market follows."""
        return self.symbol.split(":", 1)[0]

    @property
    def base(self) -> str:
        return self.pair.split("/", 1)[0]

    @property
    def quote(self) -> str:
        return self.pair.split("/", 1)[1]

    @property
    def settle(self) -> str | None:
        """The settlement asset of a perpetual, None for a spot pair."""
        return self.symbol.split(":", 1)[1] if ":" in self.symbol else None

    @property
    def is_perpetual(self) -> bool:
        return self.settle is not None


DEFAULT_SPECS: dict[str, SymbolSpec] = {
    spec.symbol: spec
    for spec in (
        SymbolSpec("BTC/USDT", 42_000.0, 0.55, 25_000.0),
        SymbolSpec("ETH/USDT", 2_300.0, 0.65, 350_000.0, amount_step=Decimal("0.0001")),
        SymbolSpec("SOL/USDT", 100.0, 0.90, 3_000_000.0, amount_step=Decimal("0.001")),
        SymbolSpec(
            "BTC/USDT:USDT",
            42_000.0,
            0.55,
            200_000.0,
            Decimal("0.1"),
            Decimal("0.001"),
            Decimal("1000"),
            Decimal("100"),
        ),
        SymbolSpec(
            "ETH/USDT:USDT",
            2_300.0,
            0.65,
            3_000_000.0,
            Decimal("0.01"),
            Decimal("0.001"),
            Decimal("10000"),
            Decimal("20"),
        ),
        SymbolSpec(
            "SOL/USDT:USDT",
            100.0,
            0.90,
            20_000_000.0,
            Decimal("0.01"),
            Decimal("1"),
            Decimal("100000"),
            Decimal("5"),
        ),
    )
}


def resolve_specs(symbols: Iterable[str | SymbolSpec]) -> dict[str, SymbolSpec]:
    """Specs keyed by symbol; names fall back to `DEFAULT_SPECS` (a perpetual to its pair's).

    Two specs on the same pair must agree on start price and volatility, because they
    follow one underlying price.
    """
    specs: dict[str, SymbolSpec] = {}
    for item in symbols:
        spec = item if isinstance(item, SymbolSpec) else _default_spec(item)
        if spec.symbol in specs:
            raise ConfigError(f"symbol {spec.symbol!r} is listed twice")
        specs[spec.symbol] = spec
    if not specs:
        raise ConfigError("symbols: list at least one symbol, e.g. 'BTC/USDT'")
    pairs: dict[str, SymbolSpec] = {}
    for spec in specs.values():
        first = pairs.setdefault(spec.pair, spec)
        if (first.start_price, first.annual_vol) != (spec.start_price, spec.annual_vol):
            raise ConfigError(
                f"{spec.symbol} (start_price {spec.start_price}, annual_vol {spec.annual_vol}) and "
                f"{first.symbol} ({first.start_price}, {first.annual_vol}) share the pair "
                f"{spec.pair}: give them the same start_price and annual_vol"
            )
    return specs


def _default_spec(symbol: str) -> SymbolSpec:
    if not isinstance(symbol, str):
        raise ConfigError(
            f"symbol {symbol!r}: expected a string such as 'BTC/USDT' or a SymbolSpec"
        )
    if symbol in DEFAULT_SPECS:
        return DEFAULT_SPECS[symbol]
    raise ConfigError(
        f"symbol {symbol!r}: no default spec (defaults: {', '.join(DEFAULT_SPECS)}); "
        "pass a SymbolSpec with start_price, annual_vol and daily_volume"
    )


@dataclass(frozen=True)
class ModelParams:
    """Constants of the price, basis and book models (per-minute units unless named).

    GARCH(1,1) runs at two scales: daily (`daily_alpha`, `daily_beta`) for regimes that
    persist across days, and per minute (`minute_alpha`, `minute_beta`) for clustering
    inside the day. Innovations are Student-t with `tail_dof` degrees of freedom.
    """

    tail_dof: float = 5.0
    daily_alpha: float = 0.10
    daily_beta: float = 0.85
    minute_alpha: float = 0.06
    minute_beta: float = 0.93
    volume_noise: float = 0.35
    venue_volume_noise: float = 0.25
    basis_bps: float = 2.5
    basis_half_life_minutes: float = 15.0
    premium_sd_bps: float = 6.0
    premium_half_life_minutes: float = 240.0
    interest_rate: float = 0.0001
    premium_clamp: float = 0.0005
    funding_cap: float = 0.003
    trades_per_minute: float = 30.0
    book_spread_bps: float = 1.0
    book_level_bps: float = 0.5

    def __post_init__(self) -> None:
        if self.tail_dof <= 2:
            raise ConfigError(
                f"tail_dof {self.tail_dof!r}: must exceed 2 so the variance is finite"
            )
        for alpha, beta in (
            (self.daily_alpha, self.daily_beta),
            (self.minute_alpha, self.minute_beta),
        ):
            if alpha < 0 or beta < 0 or alpha + beta >= 1:
                raise ConfigError(
                    f"GARCH alpha {alpha!r}, beta {beta!r}: need alpha, beta >= 0, alpha + beta < 1"
                )
        for name in ("basis_half_life_minutes", "premium_half_life_minutes", "trades_per_minute"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} {getattr(self, name)!r}: must be positive")
        for name in ("basis_bps", "premium_sd_bps", "volume_noise", "venue_volume_noise"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} {getattr(self, name)!r}: must not be negative")


def intraday_profile() -> np.ndarray:
    """Relative activity of each UTC minute of the day (mean 1), shaped like crypto trading.

    A quiet Asian night, a European bump around 09:00, the main peak around the US open
    (14:20), a US afternoon plateau and a spike at 00:00 when daily candles and funding
    roll; the real Binance BTC/USDT 1m volume in the shared data has this shape (peak
    14:00, trough 04:00).
    """
    hours = np.arange(MINUTES_PER_DAY) / 60.0
    from_midnight = np.minimum(hours, 24.0 - hours)
    shape = (
        0.60
        + 1.30 * np.exp(-0.5 * ((hours - 14.3) / 1.2) ** 2)
        + 0.30 * np.exp(-0.5 * ((hours - 9.0) / 2.0) ** 2)
        + 0.35 * np.exp(-0.5 * ((hours - 19.5) / 2.5) ** 2)
        + 0.60 * np.exp(-0.5 * (from_midnight / 0.7) ** 2)
    )
    return shape / shape.mean()


def to_ms(value: pd.Timestamp | str, name: str) -> int:
    """Milliseconds since the epoch of a timezone-aware time; naive times are refused."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} {value!r}: not a timestamp ({exc})") from None
    if stamp.tzinfo is None:
        raise ConfigError(f"{name} {value!r}: must be timezone-aware UTC")
    return int(stamp.value // 1_000_000)


def iso8601(ms: int) -> str:
    """ccxt's datetime string, e.g. `2024-01-01T00:00:00.000Z`."""
    stamp = pd.Timestamp(ms, unit="ms", tz="UTC")
    return f"{stamp:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def round_to_tick(values: np.ndarray, tick: Decimal) -> np.ndarray:
    """Snap prices or amounts to multiples of `tick`, as the floats nearest those decimals."""
    decimals = max(0, -tick.as_tuple().exponent)
    return np.round(np.rint(values / float(tick)) * float(tick), decimals)
