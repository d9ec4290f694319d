"""Characterization suite: today's numbers of the event-driven backtest, one case per family.

What the pins are for: the event path is about to be rewritten into one fast trading
kernel (issues 14 and 15). These tests pin what `run_backtest` - the function
`zvt backtest --engine event` calls - produces *today* for every registered family on
real exchange data, so the rewrite can prove it changes no number. The expected values
in `tests/data/event_regression/FAMILY.json` come from the code under test by design:
they pin today's behaviour, not its correctness. A deliberate, documented bug fix may
re-pin them; say why in the commit message.

Compared: exactly the number of orders (and per status), fills, round trips and the
SHA-256 of the canonical fill list (time, instrument, side, units, price, fee,
liquidity; numbers to 12 significant digits); within 1e-9 relative the first and last
five fills, total fees, final equity, funding income and the headline metrics (total
return, Sharpe, max drawdown, bar max drawdown). Each case also carries sanity checks
that do not come from the pins: fees recomputed here from the fills and the fee rates
written below, balances and final equity rebuilt here from the starting cash and the
fills.

Regenerate (never run by pytest), then review the diff and commit it with the reason:

    .venv/bin/python tests/test_event_regression.py --regenerate [FAMILY ...]

Data (from ZVT_SHARED_DATA, never copied into the repo): single-instrument families run
on the first bars of `binance_BTC-USDT_1m.csv.gz` with one decision per 1-minute bar;
the arbitrages use 1h files, because no venue pair has 1-minute data: Binance and Kraken
BTC/USDT (arb_cross); Binance spot BTC/USDT, the Binance USD-M perpetual and its 8h
funding (arb_funding); Binance BTC/USDT and ETH/USDT plus an ETH/BTC market whose candles
are Kraken's ETH/USDT over Kraken's BTC/USDT (arb_triangular: no venue in the data folder
has three markets forming a triangle, so the third leg is the real cross rate of a second
venue, computed in `_kraken_eth_btc`). `benchmarks/profile_event_backtest.py` profiles
the same cases on longer slices.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from zvt_pipelines.backtest.event_driven import run_backtest
from zvt_pipelines.backtest.synthetic_books import MarketRules, VenueFees
from zvt_pipelines.data.candles import read_candle_file
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.strategies import get_strategy

D = Decimal
REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("ZVT_SHARED_DATA", REPO.parent / "shared" / "data"))
PINS = Path(__file__).resolve().parent / "data" / "event_regression"
REL = 1e-9
BTC = InstrumentId.parse("binance:BTC/USDT")
ETH = InstrumentId.parse("binance:ETH/USDT")
ETH_BTC = InstrumentId.parse("binance:ETH/BTC")
KRAKEN = InstrumentId.parse("kraken:BTC/USDT")
PERP = InstrumentId.parse("binanceusdm:BTC/USDT:USDT")
CAPITAL = D(10_000)

# decision bars per family here (the profiles run the same cases on 5,000): the whole
# file takes about 35 s of CPU, 70-130 s of wall time on the shared 2-core machine
REGRESSION_BARS = {
    "dca": 1_500,
    "grid": 1_500,
    "momentum": 700,
    "mean_reversion": 1_000,
    "market_making": 700,
    "sma_cross": 1_500,
    "arb_cross": 700,
    "arb_funding": 700,
    "arb_triangular": 500,
}


@dataclass
class Case:
    """One event backtest, fully specified: strategy, candles, window and costs."""

    family: str
    data: str
    strategy: Any
    candles: dict[InstrumentId, pd.DataFrame]
    start: pd.Timestamp
    end: pd.Timestamp
    fees: dict[str, VenueFees]
    options: dict[str, Any] = field(default_factory=dict)
    holdings: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def run(self):
        """The event backtest of this case, as `zvt backtest --engine event` runs it."""
        return run_backtest(
            self.strategy,
            self.candles,
            self.start,
            self.end,
            CAPITAL,
            fees=self.fees,
            initial_holdings=self.holdings or None,
            **self.options,
        )


def _read(name: str) -> pd.DataFrame:
    return read_candle_file(SHARED_DATA / f"{name}.csv.gz")


def _from(frame: pd.DataFrame, start: str | pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return frame.loc[(frame["ts"] >= start) & (frame["ts"] < end)].reset_index(drop=True)


def _kraken_eth_btc(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """ETH/BTC hourly candles from Kraken's ETH/USDT and BTC/USDT: open and close are the
    ratios of the opens and closes, high = ETH high / BTC low, low = ETH low / BTC high
    (bounds of the cross in the hour), volume the ETH volume."""
    eth = _from(_read("kraken_ETH-USDT_1h"), start, end).set_index("ts")
    btc = _from(_read("kraken_BTC-USDT_1h"), start, end).set_index("ts")
    eth, btc = eth.align(btc, join="inner", axis=0)
    frame = pd.DataFrame(
        {
            "open": eth["open"] / btc["open"],
            "high": eth["high"] / btc["low"],
            "low": eth["low"] / btc["high"],
            "close": eth["close"] / btc["close"],
            "volume": eth["volume"],
        }
    )
    return frame.reset_index()


def _minute_case(family: str, bars: int, params: dict, **extra: Any) -> Case:
    """A single-instrument family on the first `bars` 1m bars of Binance BTC/USDT, one
    decision per minute, 10 bps taker and maker fees unless `extra` says otherwise."""
    frame = _read("binance_BTC-USDT_1m").iloc[:bars].reset_index(drop=True)
    fees = extra.pop("fees", VenueFees(D(10), D(10)))
    options = {"decision_timeframe": "1m", **extra.pop("options", {})}
    strategy = get_strategy(family)(params, label=family, instruments=[BTC], **extra)
    return Case(
        family,
        f"binance_BTC-USDT_1m.csv.gz, first {bars} bars, decided every 1m",
        strategy,
        {BTC: frame},
        frame["ts"].iloc[0],
        frame["ts"].iloc[-1] + pd.Timedelta(minutes=1),
        {"binance": fees},
        options,
    )


def _hourly_case(
    family: str,
    bars: int,
    first: str,
    markets: Mapping[InstrumentId, pd.DataFrame],
    params: dict,
    fees: dict[str, VenueFees],
    data: str,
    **extra: Any,
) -> Case:
    """A multi-market family on `bars` hours from `first` (decided every hour)."""
    start = pd.Timestamp(first, tz="UTC")
    end = start + pd.Timedelta(hours=bars)
    candles = {i: _from(frame, start, end) for i, frame in markets.items()}
    options = extra.pop("options", {})
    holdings = extra.pop("holdings", {})
    strategy = get_strategy(family)(params, label=family, instruments=list(candles), **extra)
    return Case(
        family, f"{data}, {bars} 1h bars from {first}", strategy, candles, start, end, fees,
        options, holdings,
    )  # fmt: skip


def build_case(family: str, bars: int) -> Case:
    """The case of `family` on `bars` decision bars (the parameters and costs are here)."""
    if family == "dca":
        params = {"max_allocation": "0.5", "rebalance_threshold": "0.1", "stop_loss": "0.03"}
        return _minute_case(family, bars, params, amount_per_trade=D(100), frequency="1h")
    if family == "grid":
        params = {"lower": "103000", "upper": "109000", "levels": 25}
        return _minute_case(family, bars, params, amount_per_trade=D(500))
    if family == "momentum":
        params = {"trend_window": 50, "rsi_window": 14, "trailing_stop": 0.005}
        return _minute_case(family, bars, params, amount_per_trade=D(1000))
    if family == "mean_reversion":
        return _minute_case(family, bars, {"allow_short": False}, amount_per_trade=D(1000))
    if family == "sma_cross":
        return _minute_case(family, bars, {"fast": 10, "slow": 30})
    if family == "market_making":
        params = {"max_inventory": "0.05", "quote_size": "0.01", "base_spread_bps": 4}
        return _minute_case(
            family, bars, {**params, "vol_window": 30},
            fees=VenueFees(D(5), D(0)),
            options={"half_spread_bps": D(1), "resting_limits": True},
        )  # fmt: skip
    if family == "arb_cross":
        markets = {BTC: _read("binance_BTC-USDT_1h"), KRAKEN: _read("kraken_BTC-USDT_1h")}
        fee = VenueFees(D(2), D(2))
        return _hourly_case(
            family, bars, "2023-03-12", markets,
            {"taker_fees": {"binance": "0.0002", "kraken": "0.0002"}, "max_amount": "0.01"},
            {"binance": fee, "kraken": fee},
            "binance_BTC-USDT_1h.csv.gz + kraken_BTC-USDT_1h.csv.gz",
            holdings={"binance": {"BTC": D("0.1")}, "kraken": {"BTC": D("0.1")}},
        )  # fmt: skip
    if family == "arb_funding":
        funding = pd.read_csv(SHARED_DATA / "binanceusdm_BTC-USDT-PERP_funding_8h.csv.gz")
        markets = {BTC: _read("binance_BTC-USDT_1h"), PERP: _read("binanceusdm_BTC-USDT-PERP_1h")}
        return _hourly_case(
            family, bars, "2024-02-01", markets, {"holding_hours": 240, "exit_rate": "0.00015"},
            {"binance": VenueFees(D(10), D(10)), "binanceusdm": VenueFees(D(5), D(2))},
            "binance_BTC-USDT_1h.csv.gz + binanceusdm_BTC-USDT-PERP_1h.csv.gz + its 8h funding",
            amount_per_trade=D(5000), options={"funding": {PERP: funding}},
        )  # fmt: skip
    if family == "arb_triangular":
        start = pd.Timestamp("2023-03-12", tz="UTC")
        end = start + pd.Timedelta(hours=bars)
        markets = {
            BTC: _read("binance_BTC-USDT_1h"),
            ETH: _read("binance_ETH-USDT_1h"),
            ETH_BTC: _kraken_eth_btc(start, end),
        }
        return _hourly_case(
            family, bars, "2023-03-12", markets,
            {"start": "USDT", "fee": "0.0002", "min_profit": "0"},
            {"binance": VenueFees(D(2), D(2))},
            "binance BTC-USDT and ETH-USDT 1h + ETH/BTC from kraken ETH-USDT / BTC-USDT 1h",
            amount_per_trade=D(1000),
            # MarketRules' default minimum notional is 1 unit of each market's quote
            # currency, i.e. 1 BTC on ETH/BTC, which would block that leg entirely
            options={"rules": MarketRules(min_notional=D("0.00001"))},
        )  # fmt: skip
    raise KeyError(f"family {family!r}: no regression case (known: {', '.join(REGRESSION_BARS)})")


# -- the pinned summary ---------------------------------------------------------------------


def _num(value: float) -> float | None:
    """JSON-safe float: NaN becomes null."""
    value = float(value)
    return None if math.isnan(value) else value


def _fill_rows(fills: pd.DataFrame) -> list[list]:
    columns = ["time", "instrument", "side", "units", "price", "fee", "liquidity"]
    return [
        [t.isoformat(), i, s, float(u), float(p), float(f), q]
        for t, i, s, u, p, f, q in fills[columns].itertuples(index=False)
    ]


def fills_sha256(rows: list[list]) -> str:
    """SHA-256 of the fill list, one line per fill, numbers to 12 significant digits."""
    text = "\n".join(
        ",".join(f"{v:.12g}" if isinstance(v, float) else str(v) for v in row) for row in rows
    )
    return hashlib.sha256(text.encode()).hexdigest()


def summarize(case: Case, result) -> dict[str, Any]:
    """The pinned figures of one run (module docstring)."""
    rows = _fill_rows(result.fills)
    statuses = result.orders["status"].astype(str).value_counts().sort_index()
    return {
        "family": case.family,
        "data": case.data,
        "params": case.strategy.params.model_dump(mode="json"),
        "decision_bars": len(result.equity),
        "orders": len(result.orders),
        "orders_by_status": {k: int(v) for k, v in statuses.items()},
        "fills": len(rows),
        "round_trips": int(result.n_trades),
        "fills_sha256": fills_sha256(rows),
        "first_fills": rows[:5],
        "last_fills": rows[-5:],
        "fees": float(result.fees_paid),
        "final_equity": float(result.final_equity),
        "funding_income": float(result.funding_income),
        "metrics": {
            k: _num(result.metrics[k])
            for k in ("total_return", "sharpe", "max_drawdown", "bar_max_drawdown")
        },
    }


def _close(actual: Any, expected: Any, where: str) -> None:
    """Equal strings/ints; floats within REL relative (1e-12 absolute near zero)."""
    if isinstance(expected, float) or isinstance(actual, float):
        if expected is None or actual is None:
            assert actual == expected, f"{where}: {actual!r} != pinned {expected!r}"
            return
        assert math.isclose(actual, expected, rel_tol=REL, abs_tol=1e-12), (
            f"{where}: {actual!r} != pinned {expected!r}"
        )
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{where}: {len(actual)} items != {len(expected)}"
        for k, (a, e) in enumerate(zip(actual, expected, strict=True)):
            _close(a, e, f"{where}[{k}]")
    elif isinstance(expected, dict):
        assert set(actual) == set(expected), f"{where}: keys {sorted(actual)} != {sorted(expected)}"
        for key in expected:
            _close(actual[key], expected[key], f"{where}.{key}")
    else:
        assert actual == expected, f"{where}: {actual!r} != pinned {expected!r}"


# -- independent sanity checks ---------------------------------------------------------------


def _fee_rate(case: Case, instrument: str, liquidity: str) -> float:
    fees = case.fees[InstrumentId.parse(instrument).venue]
    return float(fees.maker_bps if liquidity == "maker" else fees.taker_bps) / 10_000


def _rebuilt_balances(case: Case, result) -> dict[tuple[str, str], float]:
    """Per (venue, currency): the starting cash (CAPITAL in the first instrument's quote on
    each venue), the holdings, then every fill (base += units, quote -= units x price +
    fee; a perpetual the same against its settle currency) and every funding payment."""
    balances: dict[tuple[str, str], float] = {}
    venues = set()
    for instrument in case.candles:  # the first instrument of each venue names its cash
        if instrument.venue not in venues:
            venues.add(instrument.venue)
            balances[(instrument.venue, instrument.settle or instrument.quote)] = 10_000.0
    for venue, currencies in case.holdings.items():
        for currency, amount in currencies.items():
            balances[(venue, currency)] = balances.get((venue, currency), 0.0) + float(amount)
    columns = ["instrument", "units", "price", "fee"]
    for name, units, price, fee in result.fills[columns].itertuples(index=False):
        i = InstrumentId.parse(name)
        base, quote = (i.venue, i.base), (i.venue, i.settle or i.quote)
        balances[base] = balances.get(base, 0.0) + units
        balances[quote] = balances.get(quote, 0.0) - units * price - fee
    for name, payment in result.funding[["instrument", "payment"]].itertuples(index=False):
        i = InstrumentId.parse(name)
        balances[(i.venue, i.settle)] += float(payment)
    return balances


def check_sanity(case: Case, result) -> None:
    """Checks from the raw fills, the fee rates and the last closes written in this file."""
    fills = result.fills
    # 1. every fee is its notional x the venue's rate for its liquidity
    expected_fees = sum(
        abs(u) * p * _fee_rate(case, i, q)
        for i, u, p, q in fills[["instrument", "units", "price", "liquidity"]].itertuples(
            index=False
        )
    )
    assert result.fees_paid == pytest.approx(expected_fees, rel=1e-9, abs=1e-9)
    # 2. the replay never trades outside its window, and a fill's price is inside its bar
    for name, group in fills.groupby("instrument"):
        bars = case.candles[InstrumentId.parse(name)].set_index("ts")
        assert group["time"].between(case.start, case.end).all()
        low, high = bars.loc[group["time"], "low"].to_numpy(), bars.loc[group["time"], "high"]
        spread = 1 + float(case.options.get("half_spread_bps", 0)) / 10_000
        assert (group["price"].to_numpy() >= low / spread - 1e-9).all()
        assert (group["price"].to_numpy() <= high.to_numpy() * spread + 1e-9).all()
    # 3. balances and final equity rebuilt from the starting cash and the fills, each
    # currency valued at the last close of its market
    balances = _rebuilt_balances(case, result)
    booked = {(v, c): float(a) for v, cs in result.balances.items() for c, a in cs.items()}
    assert set(booked) <= set(balances)
    for key, amount in balances.items():
        assert booked.get(key, 0.0) == pytest.approx(amount, rel=1e-9, abs=1e-6), key
    if case.family != "arb_triangular":  # see test_triangular_equity_counts_btc_at_its_price
        assert result.final_equity == pytest.approx(valued(case, balances), rel=1e-9)


def valued(case: Case, balances: Mapping[tuple[str, str], float]) -> float:
    """Balances in each venue's cash currency (the quote of its first instrument): other
    currencies at the last close of their market against that cash currency."""
    cash, closes = {}, {}
    for i, frame in case.candles.items():
        cash.setdefault(i.venue, i.settle or i.quote)
        closes[(i.venue, i.base, i.settle or i.quote)] = float(frame["close"].iloc[-1])
    return sum(
        amount if currency == cash[venue] else amount * closes[(venue, currency, cash[venue])]
        for (venue, currency), amount in balances.items()
    )


# -- the tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _data_present(shared_data) -> None:
    """Fail loudly (conftest) when the real data folder is missing."""


@functools.cache
def _run(family: str) -> tuple[Case, Any]:
    case = build_case(family, REGRESSION_BARS[family])
    return case, case.run()


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(REGRESSION_BARS))
def test_event_backtest_matches_its_pins(family):
    """The pinned figures are computed in a fresh interpreter: inside one long pytest
    process, after other test modules had run, the fill hashes of five families came out
    different (counts equal), so some state leaks between runs; until that is found the pins
    are compared on a clean process, as a user's `zvt backtest --engine event` runs."""
    case, result = _run(family)
    pinned = json.loads((PINS / f"{family}.json").read_text())
    actual = summary_in_fresh_process(family)
    assert set(actual) == set(pinned)
    for key in pinned:
        _close(actual[key], pinned[key], f"{family}.{key}")
    check_sanity(case, result)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="known bug, pinned as is: portfolio.accounts.account_equity adds a currency that "
    "is the quote of any market (BTC, quote of ETH/BTC) at face value, 1 BTC = 1 USDT; "
    "fixing it must re-pin arb_triangular",
)
def test_triangular_equity_counts_btc_at_its_price():
    """Equity = USDT + BTC x BTC/USDT close + ETH x ETH/USDT close, from the rebuilt
    balances (today the backtest reports far less: it holds BTC worth thousands)."""
    case, result = _run("arb_triangular")
    balances = _rebuilt_balances(case, result)
    assert balances[("binance", "BTC")] > 0.01
    assert result.final_equity == pytest.approx(valued(case, balances), rel=1e-9)


def test_every_registered_family_is_pinned():
    """A new built-in family must get a regression case (and a profile) before the rewrite;
    families that other tests register from their own modules are not the product's."""
    from zvt_pipelines.strategies import available_strategies, get_strategy

    builtin = {
        name
        for name in available_strategies()
        if get_strategy(name).__module__.startswith("zvt_pipelines.")
    }
    assert builtin == set(REGRESSION_BARS)
    assert {p.stem for p in PINS.glob("*.json")} == set(REGRESSION_BARS)


def _regenerate(families: list[str]) -> None:
    PINS.mkdir(parents=True, exist_ok=True)
    for family in families:
        case = build_case(family, REGRESSION_BARS[family])
        result = case.run()
        check_sanity(case, result)
        summary = summarize(case, result)
        (PINS / f"{family}.json").write_text(json.dumps(summary, indent=1) + "\n")
        print(f"{family}: {summary['orders']} orders, {summary['fills']} fills, "
              f"equity {summary['final_equity']:.2f}")  # fmt: skip


def summary_in_fresh_process(family: str) -> dict[str, Any]:
    """`summarize` of one family's run, computed by this file in a new interpreter."""
    done = subprocess.run(
        [sys.executable, __file__, "--summary", family],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Re-pin the event backtest regression cases.")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--regenerate", action="store_true")
    mode.add_argument("--summary", metavar="FAMILY", help="print one family's summary as JSON")
    parser.add_argument("families", nargs="*", default=sorted(REGRESSION_BARS))
    args = parser.parse_args()
    if args.summary:
        case = build_case(args.summary, REGRESSION_BARS[args.summary])
        print(json.dumps(summarize(case, case.run())))
        sys.exit(0)
    sys.exit(_regenerate(args.families))
