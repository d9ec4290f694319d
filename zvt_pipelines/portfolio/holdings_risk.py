"""Risk of the current holdings: VaR and ES, concentration, leverage and a stress table.

Holdings are signed values per venue and asset in the quote currency (cash included, as the
quote asset). VaR and ES use the returns of each held asset's candles in the database
(hourly when stored, else daily) over a lookback window, with cash as the numeraire (zero
return); horizons are 1 and 7 days whatever the candle size (24 and 168 hourly periods).
Stress scenarios: BTC −30 % with the other assets moved by their beta to BTC, the quote
stablecoin depegging to 0.95, and the outage of each venue.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from zvt_pipelines.errors import RiskInputError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.portfolio.attribution import close_returns
from zvt_pipelines.portfolio.book_loader import closes, to_float
from zvt_pipelines.portfolio.concentration import Concentration, concentration
from zvt_pipelines.portfolio.position_store import load_positions
from zvt_pipelines.portfolio.stress import (
    Holding,
    btc_crash,
    estimate_betas,
    run_stress_tests,
    stablecoin_depeg,
    venue_outage,
)
from zvt_pipelines.portfolio.valuation import revalue
from zvt_pipelines.portfolio.var import var_table
from zvt_pipelines.storage.database import Database

RETURN_TIMEFRAMES = {"1h": 24, "1d": 1}  # candle size -> periods per day, finest first
LOOKBACK = pd.Timedelta(days=90)
HORIZON_DAYS = (1, 7)
BTC_SHOCK = -0.30
DEPEG_PRICE = 0.95


@dataclass(frozen=True)
class RiskReport:
    """Risk figures of one set of holdings (quote currency; VaR and ES positive = loss).

    `var` has columns method, horizon_days, confidence, var, es, scenarios, var_pct (of
    equity); it is empty, with `timeframe` None, when the assets lack 2 shared returns.
    `exposures` are the non-cash holdings summed per asset; `concentration` is None when
    there is no exposure.
    """

    equity: float
    exposures: pd.Series
    gross_exposure: float
    leverage: float
    margin_used: float
    margin_utilisation: float
    concentration: Concentration | None
    var: pd.DataFrame
    stress: pd.DataFrame
    timeframe: str | None
    observations: int

    def var_of(self, method: str = "historical", horizon_days: int = 1) -> float:
        """One VaR figure of the table (NaN when the table has no such row)."""
        rows = self.var.loc[
            (self.var["method"] == method) & (self.var["horizon_days"] == horizon_days), "var"
        ]
        return float(rows.iloc[0]) if len(rows) else float("nan")


def _returns(
    db: Database, instruments: dict[str, InstrumentId], as_of: pd.Timestamp
) -> tuple[pd.DataFrame, str | None]:
    """Close-to-close returns per asset at the finest timeframe that gives 2 shared returns."""
    for timeframe in RETURN_TIMEFRAMES:
        frames = {}
        for asset, instrument in instruments.items():
            series = closes(db, instrument, timeframe, as_of - LOOKBACK, as_of)
            frames[asset] = pd.DataFrame({"ts": series.index, "close": series.to_numpy()})
        returns = close_returns(frames)
        if len(returns.dropna()) >= 2:
            return returns, timeframe
    return pd.DataFrame(), None


def _margin_used(db: Database, strategies: Iterable[str]) -> float:
    """Initial margin of the strategies' leveraged positions (spot positions use none)."""
    names = set(strategies)
    return sum(
        to_float(p.margin_used)
        for p in load_positions(db)
        if p.strategy in names and p.leverage != 1 and p.quantity != 0
    )


def risk_report(
    db: Database,
    holdings: list[Holding],
    as_of: pd.Timestamp,
    quote: str = "USDT",
    strategies: Iterable[str] = (),
    confidence: float = 0.95,
    paths: int = 20_000,
    seed: int = 0,
) -> RiskReport:
    """Risk of `holdings` at `as_of` (assets priced as `asset/quote` on the first venue holding
    them; `strategies` name whose leveraged positions count towards margin utilisation)."""
    values: dict[str, float] = {}
    for holding in holdings:
        if holding.asset != quote:
            values[holding.asset] = values.get(holding.asset, 0.0) + holding.value
    exposures = pd.Series(values, dtype=np.float64).sort_index()
    cash = sum(h.value for h in holdings if h.asset == quote)
    margin_used = _margin_used(db, strategies)
    # the holdings are already marked: unit "prices" and zero entries give revalue's totals
    marked = revalue(
        exposures.to_numpy(),
        np.zeros(len(exposures)),
        np.ones(len(exposures)),
        cash=cash,
        margin_used=margin_used,
        margin_available=max(cash + float(exposures.sum()) - margin_used, 0.0),
    )
    held = exposures[exposures != 0]
    venue_of = {}
    for holding in holdings:
        venue_of.setdefault(holding.asset, holding.venue)
    instruments = {a: InstrumentId(venue_of[a], a, quote) for a in held.index}
    returns, timeframe = _returns(db, instruments, as_of) if len(held) else (pd.DataFrame(), None)
    var = pd.DataFrame(
        columns=["method", "horizon_days", "confidence", "var", "es", "scenarios", "var_pct"]
    )
    if timeframe is not None:
        per_day = RETURN_TIMEFRAMES[timeframe]
        table = var_table(
            returns[held.index].to_numpy(),
            held.to_numpy(),
            confidence,
            tuple(days * per_day for days in HORIZON_DAYS),
            paths,
            seed,
        )
        table.insert(1, "horizon_days", table.pop("horizon") // per_day)
        table["var_pct"] = table["var"] / marked.equity if marked.equity > 0 else float("nan")
        var = table
    betas = None
    if timeframe is not None and "BTC" in returns.columns:
        try:
            betas = estimate_betas(returns[held.index])
        except RiskInputError:
            betas = None
    scenarios = [btc_crash(BTC_SHOCK, betas), stablecoin_depeg(quote, DEPEG_PRICE)]
    scenarios += [venue_outage(venue) for venue in sorted({h.venue for h in holdings})]
    return RiskReport(
        equity=marked.equity,
        exposures=held,
        gross_exposure=marked.gross_exposure,
        leverage=marked.leverage,
        margin_used=margin_used,
        margin_utilisation=marked.margin_utilisation,
        concentration=concentration(held) if len(held) else None,
        var=var,
        stress=run_stress_tests(holdings, scenarios, marked.equity),
        timeframe=timeframe,
        observations=len(returns.dropna()) if timeframe is not None else 0,
    )
