"""Risk limits: validation, the trading-state machine and pre-trade checks with reasons."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from zvt_pipelines.errors import ConfigError, IllegalRiskTransition, InvalidOrder
from zvt_pipelines.portfolio.limits import (
    DenialReason,
    ExitReason,
    RiskApproval,
    RiskDenial,
    RiskLimits,
    RiskState,
    TradingState,
    exit_signal,
)

LIMITS = dict(
    max_allocation=D("0.25"),
    stop_loss=D("0.05"),
    take_profit=D("0.10"),
    daily_loss_limit=D("1000"),
    max_leverage=D("2"),
    max_position_size={"BTC/USDT": D("2")},
)


@pytest.fixture
def state() -> RiskState:
    return RiskState(RiskLimits(**LIMITS))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_allocation", D("1.5"), r"max_allocation=Decimal\('1.5'\): must lie in \(0, 1\]"),
        ("stop_loss", D("0"), r"stop_loss=Decimal\('0'\)"),
        ("take_profit", D("-0.1"), r"take_profit=Decimal\('-0.1'\)"),
        ("daily_loss_limit", 1000.0, r"daily_loss_limit=1000.0: must be a finite Decimal"),
        ("max_leverage", D("NaN"), r"max_leverage=Decimal\('NaN'\)"),
        (
            "max_position_size",
            {"ETH/USDT": D("-1")},
            r"max_position_size\[ETH/USDT\]=Decimal\('-1'\)",
        ),
    ],
)
def test_bad_limit_names_field_and_value(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RiskLimits(**{**LIMITS, field: value})


def test_limits_are_frozen() -> None:
    limits = RiskLimits(**LIMITS)
    with pytest.raises(AttributeError):
        limits.max_leverage = D("5")  # type: ignore[misc]
    with pytest.raises(TypeError):
        limits.max_position_size["BTC/USDT"] = D("100")  # type: ignore[index]


def _order(state: RiskState, **overrides) -> RiskApproval | RiskDenial:
    order = dict(
        symbol="BTC/USDT",
        side="buy",
        quantity=D("0.4"),
        price=D("60000"),
        position=D("0"),
        equity=D("100000"),
        gross_exposure=D("0"),
    )
    return state.check_order(**{**order, **overrides})


def test_allocation_cap(state: RiskState) -> None:
    """Equity 100000, BTC at 60000: 0.4 BTC = 24000 = 24 % <= 25 %; 0.5 BTC = 30 % > 25 %."""
    assert _order(state) == RiskApproval("BTC/USDT", "buy", D("0.4"))
    denial = _order(state, quantity=D("0.5"))
    assert isinstance(denial, RiskDenial)
    assert denial.reason is DenialReason.MAX_ALLOCATION
    assert "0.3000" in denial.message


def test_position_size_cap(state: RiskState) -> None:
    """At a price of 1000, 3 BTC is only 3 % of equity but exceeds the 2 BTC cap;
    a short of 3 counts by its size too. ETH has no size cap."""
    assert _order(state, quantity=D("3"), price=D("1000")).reason is DenialReason.MAX_POSITION_SIZE
    short = _order(state, side="sell", quantity=D("3"), price=D("1000"))
    assert short.reason is DenialReason.MAX_POSITION_SIZE
    assert isinstance(
        _order(state, symbol="ETH/USDT", quantity=D("3"), price=D("1000")), RiskApproval
    )


def test_leverage_cap(state: RiskState) -> None:
    """Gross 180000 on equity 100000. +5 ETH at 3000 = 15000: (180000 + 15000)/100000 = 1.95 <= 2.
    +8 ETH = 24000 (24 % allocation, fine): 204000/100000 = 2.04 > 2."""
    common = dict(symbol="ETH/USDT", price=D("3000"), gross_exposure=D("180000"))
    assert isinstance(_order(state, quantity=D("5"), **common), RiskApproval)
    denial = _order(state, quantity=D("8"), **common)
    assert denial.reason is DenialReason.MAX_LEVERAGE
    assert "2.0400" in denial.message


def test_daily_loss_halts_until_reset(state: RiskState) -> None:
    """Limit 1000: a day P&L of −999 keeps trading ACTIVE, −1000 halts. Halted, a sale of 0.1
    from a 0.4 long shrinks risk and passes; a sale of 0.5 flips to short and is denied, as is
    any buy. reset() reopens."""
    assert state.update_daily_pnl(D("-999")) is TradingState.ACTIVE
    assert state.update_daily_pnl(D("-1000")) is TradingState.HALTED
    denial = _order(state, quantity=D("0.1"))
    assert denial.reason is DenialReason.HALTED
    assert "-1000" in denial.message
    assert isinstance(
        _order(state, side="sell", quantity=D("0.1"), position=D("0.4")), RiskApproval
    )
    flip = _order(state, side="sell", quantity=D("0.5"), position=D("0.4"))
    assert flip.reason is DenialReason.HALTED
    assert state.update_daily_pnl(D("-500")) is TradingState.HALTED  # latched, no auto-resume
    state.reset()
    assert (state.state, state.daily_pnl) == (TradingState.ACTIVE, D("0"))
    assert isinstance(_order(state, quantity=D("0.1")), RiskApproval)


def test_transitions_table(state: RiskState) -> None:
    state.transition(TradingState.REDUCING)
    assert _order(state).reason is DenialReason.REDUCE_ONLY
    assert isinstance(_order(state, side="buy", quantity=D("1"), position=D("-1.5")), RiskApproval)
    state.transition(TradingState.ACTIVE)
    state.transition(TradingState.HALTED)
    with pytest.raises(IllegalRiskTransition, match="from halted to active except through reset"):
        state.transition(TradingState.ACTIVE)
    with pytest.raises(IllegalRiskTransition, match="from halted to reducing"):
        state.transition(TradingState.REDUCING)


def test_no_equity_and_invalid_orders(state: RiskState) -> None:
    assert _order(state, equity=D("0")).reason is DenialReason.NO_EQUITY
    with pytest.raises(InvalidOrder, match="'hold'"):
        _order(state, side="hold")
    with pytest.raises(InvalidOrder, match="quantity=0"):
        _order(state, quantity=D("0"))


@pytest.mark.parametrize(
    ("position", "price", "expected"),
    [
        # long from 100: stop at 100·(1 − 0.05) = 95, take profit at 100·(1 + 0.10) = 110
        (D("1"), D("95"), ExitReason.STOP_LOSS),
        (D("1"), D("95.01"), None),
        (D("1"), D("110"), ExitReason.TAKE_PROFIT),
        (D("1"), D("109.99"), None),
        # short from 100: stop at 105, take profit at 90
        (D("-1"), D("105"), ExitReason.STOP_LOSS),
        (D("-1"), D("90"), ExitReason.TAKE_PROFIT),
        (D("0"), D("50"), None),
    ],
)
def test_exit_signal(position: D, price: D, expected: ExitReason | None) -> None:
    assert exit_signal(RiskLimits(**LIMITS), position, D("100"), price) is expected
