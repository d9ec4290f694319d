"""Stress tests: historical crash days from the candle files and hypothetical shocks.

A scenario is a set of asset returns (``-0.3`` = the price falls 30 %) and of venue haircuts
(``1.0`` = everything held on the venue is lost). Applied to holdings — signed values in the
reporting currency, per venue and asset — it gives a P&L:

* a holding on a venue with a haircut loses ``haircut × value`` if its value is positive
  (assets are lost; liabilities such as borrowed coins are still owed, so they are untouched);
* any other holding gains ``value × shock[asset]``; assets the scenario does not name stay put
  (`fill_by_beta` moves them with BTC instead).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from zvt_pipelines.data.candles import read_candle_file
from zvt_pipelines.errors import DataError, RiskInputError


class DayMove(enum.Enum):
    """How the worst move of one UTC day is measured from candles."""

    # min over candles j of low_j / peak_j − 1, with peak_j = max(open_j, highs of candles
    # before j): only highs known to precede the low count, so no intrabar order is assumed.
    PEAK_TO_TROUGH = "peak_to_trough"
    OPEN_TO_LOW = "open_to_low"  # the day's lowest low / the day's first open − 1


@dataclass(frozen=True)
class Holding:
    """A signed position value (reporting currency) of one asset on one venue."""

    venue: str
    asset: str
    value: float


@dataclass(frozen=True)
class Scenario:
    """A named set of asset returns and venue haircuts (fraction of the venue's assets lost)."""

    name: str
    asset_shocks: Mapping[str, float] = field(default_factory=dict)
    venue_haircuts: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for asset, shock in self.asset_shocks.items():
            if not np.isfinite(shock) or shock < -1.0:
                raise RiskInputError(f"scenario {self.name!r}: shock {asset}={shock} must be >= -1")
        for venue, haircut in self.venue_haircuts.items():
            if not 0.0 <= haircut <= 1.0:
                raise RiskInputError(
                    f"scenario {self.name!r}: haircut {venue}={haircut} must lie in [0, 1]"
                )
        object.__setattr__(self, "asset_shocks", MappingProxyType(dict(self.asset_shocks)))
        object.__setattr__(self, "venue_haircuts", MappingProxyType(dict(self.venue_haircuts)))

    def pnl(self, holdings: Iterable[Holding]) -> float:
        """The P&L of `holdings` under this scenario (see the module docstring for the rules)."""
        total = 0.0
        for holding in holdings:
            haircut = self.venue_haircuts.get(holding.venue)
            if haircut is not None:
                total -= haircut * max(holding.value, 0.0)
            else:
                total += holding.value * self.asset_shocks.get(holding.asset, 0.0)
        return total


def day_move(candles: pd.DataFrame, day: str | pd.Timestamp, measure: DayMove) -> float:
    """The worst move of the UTC day `day` in a candle frame, as a return (negative = fall).

    Raises DataError when the frame has no candle that opens on that day.
    """
    start = pd.Timestamp(day, tz="UTC").normalize()
    end = start + pd.Timedelta(days=1)
    rows = candles.loc[(candles["ts"] >= start) & (candles["ts"] < end)]
    if rows.empty:
        raise DataError(f"no candle opens on {start.date()} UTC")
    opens = rows["open"].to_numpy()
    highs = rows["high"].to_numpy()
    lows = rows["low"].to_numpy()
    if measure is DayMove.OPEN_TO_LOW:
        return float(lows.min() / opens[0] - 1.0)
    earlier_highs = np.concatenate([[-np.inf], np.maximum.accumulate(highs)[:-1]])
    peaks = np.maximum(opens, earlier_highs)
    return float((lows / peaks - 1.0).min())


@dataclass(frozen=True)
class HistoricalDay:
    """A crash day and, per asset, the candle file (name inside a data folder) to measure it on."""

    name: str
    day: str
    files: Mapping[str, str]


# The two crash days the shared data covers, each asset at its finest timeframe available.
CRASH_DAYS = (
    HistoricalDay(
        "2020-03-12 covid crash",
        "2020-03-12",
        {"BTC": "binance_BTC-USDT_1h.csv.gz", "ETH": "binance_ETH-USDT_1h.csv.gz"},
    ),
    HistoricalDay(
        "2024-08-05 carry-trade unwind",
        "2024-08-05",
        {
            "BTC": "binance_BTC-USDT_1m_2024-07-26_2024-08-25.csv.gz",
            "ETH": "binance_ETH-USDT_1h.csv.gz",
            "SOL": "binance_SOL-USDT_1h.csv.gz",
            "XRP": "binance_XRP-USDT_1h.csv.gz",
            "BNB": "binance_BNB-USDT_1h.csv.gz",
        },
    ),
)


def historical_scenario(
    crash: HistoricalDay, data_dir: str | Path, measure: DayMove = DayMove.PEAK_TO_TROUGH
) -> Scenario:
    """Turn a crash day into a scenario: each asset moves by its worst move of that day."""
    folder = Path(data_dir)
    shocks = {
        asset: day_move(read_candle_file(folder / name), crash.day, measure)
        for asset, name in crash.files.items()
    }
    return Scenario(crash.name, shocks)


def estimate_betas(returns: pd.DataFrame, driver: str = "BTC") -> dict[str, float]:
    """Beta of every column to `driver`: ``cov(r_a, r_driver) / var(r_driver)`` on complete rows."""
    if driver not in returns.columns:
        raise RiskInputError(f"returns have no {driver!r} column to estimate betas against")
    complete = returns.dropna()
    if len(complete) < 2:
        raise RiskInputError("returns: fewer than 2 complete rows to estimate betas")
    covariance = complete.cov()
    return {
        asset: float(covariance.loc[asset, driver] / covariance.loc[driver, driver])
        for asset in complete.columns
    }


def fill_by_beta(scenario: Scenario, betas: Mapping[str, float], driver: str = "BTC") -> Scenario:
    """A copy of `scenario` in which assets it does not name move by ``beta × shock[driver]``."""
    if driver not in scenario.asset_shocks:
        raise RiskInputError(f"scenario {scenario.name!r} has no {driver} shock to scale by beta")
    driver_shock = scenario.asset_shocks[driver]
    shocks = {asset: max(beta * driver_shock, -1.0) for asset, beta in betas.items()}
    shocks.update(scenario.asset_shocks)
    return Scenario(scenario.name, shocks, scenario.venue_haircuts)


def btc_crash(
    shock: float = -0.30, betas: Mapping[str, float] | None = None, name: str | None = None
) -> Scenario:
    """BTC moves by `shock`; assets in `betas` move by ``beta × shock`` (capped at −100 %)."""
    scenario = Scenario(name or f"BTC {shock:+.0%}", {"BTC": shock})
    return fill_by_beta(scenario, betas) if betas else scenario


def stablecoin_depeg(
    coin: str = "USDT", price: float = 0.95, current_price: float = 1.0
) -> Scenario:
    """The stablecoin trades at `price` instead of `current_price` (its present market price)."""
    if price < 0 or current_price <= 0:
        raise RiskInputError(f"depeg {coin}: price={price}, current_price={current_price}")
    return Scenario(f"{coin} depeg to {price}", {coin: price / current_price - 1.0})


def venue_outage(venue: str, haircut: float = 1.0) -> Scenario:
    """Everything held on `venue` is frozen and lost (or the fraction `haircut` of it)."""
    return Scenario(f"{venue} outage", venue_haircuts={venue: haircut})


def run_stress_tests(
    holdings: Iterable[Holding], scenarios: Iterable[Scenario], equity: float | None = None
) -> pd.DataFrame:
    """A table indexed by scenario name with columns `pnl` and `pct_equity` (pnl / equity).

    `equity` defaults to the sum of the holdings' values; a non-positive equity gives NaN in
    `pct_equity`.
    """
    holdings = list(holdings)
    if equity is None:
        equity = float(sum(holding.value for holding in holdings))
    rows = [(scenario.name, scenario.pnl(holdings)) for scenario in scenarios]
    table = pd.DataFrame(rows, columns=["scenario", "pnl"]).set_index("scenario")
    table["pct_equity"] = table["pnl"] / equity if equity > 0 else float("nan")
    return table
