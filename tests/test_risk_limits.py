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


# -- exact boundaries and messages ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("max_allocation", D("0"), "risk limit max_allocation=Decimal('0'): must lie in (0, 1]"),
        ("stop_loss", D("1"), "risk limit stop_loss=Decimal('1'): must lie in (0, 1)"),
        ("take_profit", D("0"), "risk limit take_profit=Decimal('0'): must be > 0"),
        ("daily_loss_limit", D("0"), "risk limit daily_loss_limit=Decimal('0'): must be > 0"),
        ("max_leverage", D("0"), "risk limit max_leverage=Decimal('0'): must be > 0"),
        (
            "stop_loss",
            D("Infinity"),
            "risk limit stop_loss=Decimal('Infinity'): must be a finite Decimal",
        ),
        (
            "max_position_size",
            {"ETH/USDT": D("0")},
            "risk limit max_position_size[ETH/USDT]=Decimal('0'): must be a finite Decimal > 0",
        ),
        (
            "max_position_size",
            {"ETH/USDT": 5},
            "risk limit max_position_size[ETH/USDT]=5: must be a finite Decimal > 0",
        ),
    ],
)
def test_limit_messages_exactly(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        RiskLimits(**{**LIMITS, field: value})
    assert str(info.value) == message


def test_limits_at_their_edges_are_valid() -> None:
    """max_allocation 1 (all of equity) is allowed; a stop just under 100 % too."""
    limits = RiskLimits(**{**LIMITS, "max_allocation": D("1"), "stop_loss": D("0.99")})
    assert limits.max_allocation == D("1") and limits.max_position_size["BTC/USDT"] == D("2")


def test_caps_are_inclusive_at_exactly_the_limit(state: RiskState) -> None:
    """At 50000, 0.5 BTC is 25000 = exactly 25 % of 100000: allowed; 0.5000001 BTC is not.
    2 BTC (the size cap) at 1000: allowed. ETH: gross 176000 + 8 x 3000 = 200000 = exactly
    2 x equity: allowed; 8.001 ETH is not."""
    assert isinstance(_order(state, quantity=D("0.5"), price=D("50000")), RiskApproval)
    over = _order(state, quantity=D("0.5000001"), price=D("50000"))
    assert over.reason is DenialReason.MAX_ALLOCATION
    assert isinstance(_order(state, quantity=D("2"), price=D("1000")), RiskApproval)
    eth = dict(symbol="ETH/USDT", price=D("3000"), gross_exposure=D("176000"))
    assert isinstance(_order(state, quantity=D("8"), **eth), RiskApproval)
    assert _order(state, quantity=D("8.001"), **eth).reason is DenialReason.MAX_LEVERAGE


def test_leverage_counts_the_existing_position_once(state: RiskState) -> None:
    """Gross 190000 already holds 5 ETH at 3000 (15000). Buying 2 more makes the ETH leg
    7 x 3000 = 21000: leverage (190000 - 15000 + 21000) / 100000 = 1.96 <= 2. Counting the
    old leg twice (211000) or not replacing it would wrongly deny it."""
    result = _order(
        state,
        symbol="ETH/USDT",
        quantity=D("2"),
        price=D("3000"),
        position=D("5"),
        gross_exposure=D("190000"),
    )
    assert isinstance(result, RiskApproval)
    short_leg = _order(
        state,
        symbol="ETH/USDT",
        side="sell",
        quantity=D("2"),
        price=D("3000"),
        position=D("-5"),
        gross_exposure=D("190000"),
    )
    assert isinstance(short_leg, RiskApproval)


def test_denial_messages_carry_the_numbers(state: RiskState) -> None:
    size = _order(state, quantity=D("3"), price=D("1000"))
    assert size == RiskDenial(
        "BTC/USDT",
        "buy",
        D("3"),
        DenialReason.MAX_POSITION_SIZE,
        "BTC/USDT position would be 3 > max size 2",
    )
    allocation = _order(state, quantity=D("0.5"))
    assert allocation.message == "BTC/USDT allocation would be 0.3000 of equity > 0.25"
    leverage = _order(
        state, symbol="ETH/USDT", quantity=D("8"), price=D("3000"), gross_exposure=D("180000")
    )
    assert leverage.message == "leverage would be 2.0400 > max 2"
    assert _order(state, equity=D("-1")).message == "equity -1 <= 0: no new risk"
    state.transition(TradingState.REDUCING)
    assert _order(state).message == "trading state is reducing: only orders that shrink a position"
    state.update_daily_pnl(D("-1500"))
    assert state.state is TradingState.HALTED  # a reducing book halts on the loss limit too
    assert _order(state).message == (
        "trading halted (daily P&L -1500, limit -1000); only reducing orders until reset()"
    )


def test_reducing_orders_pass_in_every_state_but_a_flip_or_same_size_does_not(
    state: RiskState,
) -> None:
    """Halted with a 0.4 long: selling 0.4 (to flat) passes; selling 0.8 flips to a 0.4
    short (same size, other side) and is new risk."""
    state.update_daily_pnl(D("-1000"))
    to_flat = _order(state, side="sell", quantity=D("0.4"), position=D("0.4"))
    assert to_flat == RiskApproval("BTC/USDT", "sell", D("0.4"))
    flip = _order(state, side="sell", quantity=D("0.8"), position=D("0.4"))
    assert flip.reason is DenialReason.HALTED
    cover = _order(state, side="buy", quantity=D("0.1"), position=D("-0.4"))
    assert isinstance(cover, RiskApproval)


def test_state_changes_and_their_messages(state: RiskState) -> None:
    state.transition(TradingState.ACTIVE)  # same state: nothing happens
    assert state.update_daily_pnl(D("-1000.01")) is TradingState.HALTED
    state.transition(TradingState.HALTED)  # same state again: no error
    with pytest.raises(IllegalRiskTransition) as info:
        state.transition(TradingState.REDUCING)
    assert str(info.value) == (
        "trading state cannot go from halted to reducing except through reset()"
    )
    assert state.daily_pnl == D("-1000.01")
    state.reset()
    state.transition(TradingState.REDUCING)
    state.transition(TradingState.HALTED)
    assert state.state is TradingState.HALTED


def test_invalid_order_messages(state: RiskState) -> None:
    with pytest.raises(InvalidOrder) as info:
        _order(state, side="hold")
    assert str(info.value) == "order side 'hold': expected 'buy' or 'sell'"
    with pytest.raises(InvalidOrder) as info:
        _order(state, price=D("0"))
    assert str(info.value) == "order BTC/USDT: quantity=0.4 and price=0 must be > 0"
    with pytest.raises(InvalidOrder, match="quantity=-1 and price=60000"):
        _order(state, quantity=D("-1"))


@pytest.mark.parametrize(
    ("position", "price", "expected"),
    [
        (D("-1"), D("104.99"), None),  # short: stop at 105
        (D("-1"), D("90.01"), None),  # short: take profit at 90
        (D("2"), D("94.99"), ExitReason.STOP_LOSS),
        (D("-0.5"), D("89"), ExitReason.TAKE_PROFIT),
    ],
)
def test_exit_signal_short_edges(position: D, price: D, expected: ExitReason | None) -> None:
    assert exit_signal(RiskLimits(**LIMITS), position, D("100"), price) is expected


def test_small_positive_limits_and_prices_are_valid(state: RiskState) -> None:
    """Fractions below 1 are ordinary: a 0.5 USDT daily loss limit, a 0.5 BTC size cap, a
    token priced 0.5, an account of 1 USDT (0.000001 BTC at 60000 is 0.06 = 6 % of it)."""
    limits = RiskLimits(
        **{**LIMITS, "daily_loss_limit": D("0.5"), "max_position_size": {"BTC/USDT": D("0.5")}}
    )
    assert limits.daily_loss_limit == D("0.5") and limits.max_position_size["BTC/USDT"] == D("0.5")
    fresh = RiskState(limits)
    assert (fresh.state, fresh.daily_pnl) == (TradingState.ACTIVE, D("0"))
    assert isinstance(
        _order(state, symbol="DOGE/USDT", quantity=D("10"), price=D("0.5")), RiskApproval
    )
    for equity in (D("1"), D("0.5")):
        assert isinstance(_order(state, quantity=D("0.000001"), equity=equity), RiskApproval)


def test_a_fractional_long_stops_like_a_whole_one() -> None:
    """0.5 BTC long from 100: down to 95 is the 5 % stop, up to 110 the 10 % take profit."""
    limits = RiskLimits(**LIMITS)
    assert exit_signal(limits, D("0.5"), D("100"), D("95")) is ExitReason.STOP_LOSS
    assert exit_signal(limits, D("0.5"), D("100"), D("110")) is ExitReason.TAKE_PROFIT
    assert exit_signal(limits, D("0.5"), D("100"), D("100")) is None
