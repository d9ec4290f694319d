"""The order state machine written out by hand: one cell per (status, event kind) pair.

Deliberately independent of `zvt_pipelines.oms.order.TRANSITIONS`: tests compare the code
with this table, so a changed target state in the code fails them (a test that read the
code's own table back could not fail). ``-`` marks an illegal transition.
"""

from __future__ import annotations

from zvt_pipelines.model.orders import OrderStatus
from zvt_pipelines.oms.order import EventKind

TABLE = """
status            submit     accept  reject    partial_fill      fill    cancel_request  cancel    expire   settle   quarantine
NEW               SUBMITTED  -       REJECTED  -                 -       -               CANCELED  -        -        QUARANTINED
SUBMITTED         -          OPEN    REJECTED  PARTIALLY_FILLED  FILLED  -               CANCELED  EXPIRED  -        QUARANTINED
OPEN              -          -       -         PARTIALLY_FILLED  FILLED  CANCEL_PENDING  CANCELED  EXPIRED  -        QUARANTINED
PARTIALLY_FILLED  -          -       -         PARTIALLY_FILLED  FILLED  CANCEL_PENDING  CANCELED  EXPIRED  -        QUARANTINED
CANCEL_PENDING    -          -       -         CANCEL_PENDING    FILLED  -               CANCELED  EXPIRED  -        QUARANTINED
FILLED            -          -       -         -                 -       -               -         -        SETTLED  QUARANTINED
SETTLED           -          -       -         -                 -       -               -         -        -        -
CANCELED          -          -       -         -                 -       -               -         -        -        -
REJECTED          -          -       -         -                 -       -               -         -        -        -
EXPIRED           -          -       -         -                 -       -               -         -        -        -
QUARANTINED       -          -       -         -                 -       -               CANCELED  -        SETTLED  -
"""


def _parse(text: str) -> dict[tuple[OrderStatus, EventKind], OrderStatus | None]:
    header, *rows = [line.split() for line in text.strip().splitlines()]
    kinds = [EventKind(name) for name in header[1:]]
    cells: dict[tuple[OrderStatus, EventKind], OrderStatus | None] = {}
    for status, *targets in rows:
        for kind, target in zip(kinds, targets, strict=True):
            cells[(OrderStatus(status), kind)] = None if target == "-" else OrderStatus(target)
    return cells


GOLDEN = _parse(TABLE)
