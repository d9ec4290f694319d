"""A parent order taken up after a restart from its recorded children (`ExecutionAlgo.resume`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from zvt_pipelines.errors import IllegalAlgoTransition, InvalidOrder
from zvt_pipelines.oms.algos import twap
from zvt_pipelines.oms.algos.base import ChildOrder

T0 = datetime(2025, 3, 2, 12, tzinfo=UTC)


class ListSink:
    """An in-memory order sink: remembers what was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, D]] = []

    def submit(self, symbol, side, amount, price=None, **fields):  # noqa: ANN001, ANN003, ANN201
        self.sent.append((fields["client_order_id"], amount))
        return fields["client_order_id"]

    def cancel(self, client_order_id: str) -> None:
        raise AssertionError(f"nothing should be canceled, got {client_order_id}")


def parent(sink: ListSink):  # noqa: ANN201
    """5 BTC in five 1-BTC slices a minute apart from T0."""
    return twap("twap1", "BTC/USDT", "buy", D("5"), start=T0, duration=timedelta(minutes=5),
                interval=timedelta(minutes=1), venue="v", sink=sink, amount_step=D("0.00001"))  # fmt: skip


def done(number: int, filled: str = "1") -> ChildOrder:
    return ChildOrder(f"twap1-{number}", D("1"), T0, D(filled), live=False)


def test_new_children_are_numbered_after_the_highest_recorded_one():
    """Children 1 and 3 are recorded filled (2 was denied before the crash). At T0 + 3 min
    the schedule wants 4 BTC, 2 are filled: one child of 2 BTC, numbered twap1-4 (reusing
    twap1-2 or -3 could meet an id the venue accepts again)."""
    sink = ListSink()
    algo = parent(sink)
    algo.resume([done(1), done(3)])
    algo.on_tick(T0 + timedelta(minutes=3))
    assert sink.sent == [("twap1-4", D("2"))]
    assert algo.committed == D("4")


def test_a_partly_filled_child_counts_only_its_fills():
    """Child 1 filled 0.4 of 1 before it was canceled: at T0 the parent owes 0.6 more."""
    sink = ListSink()
    algo = parent(sink)
    algo.resume([done(1, "0.4")])
    algo.on_tick(T0)
    assert sink.sent == [("twap1-2", D("0.6"))]


def test_resume_refuses_a_foreign_child_an_overfill_and_a_running_parent():
    with pytest.raises(InvalidOrder, match="not one of its children"):
        parent(ListSink()).resume([ChildOrder("other-1", D("1"), T0, D("1"), live=False)])
    with pytest.raises(InvalidOrder, match="above its 5"):
        parent(ListSink()).resume(
            [ChildOrder(f"twap1-{n}", D("3"), T0, D("3"), live=False) for n in (1, 2)]
        )
    running = parent(ListSink())
    running.on_tick(T0)
    with pytest.raises(IllegalAlgoTransition, match="RUNNING"):
        running.resume([done(1)])
