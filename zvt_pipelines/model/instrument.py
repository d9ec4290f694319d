"""Instrument identifiers: a market on a venue, written `venue:BASE/QUOTE`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from zvt_pipelines.errors import ConfigError, PositionError

_VENUE = re.compile(r"^[a-z][a-z0-9_]*$")
_ASSET = re.compile(r"^[A-Z0-9]+$")


@dataclass(frozen=True, order=True)
class InstrumentId:
    """A market on one venue, e.g. `binance:BTC/USDT` or `binanceusdm:BTC/USDT:USDT`.

    `symbol` is the ccxt unified symbol; `settle` is set for perpetual swaps.
    """

    venue: str
    base: str
    quote: str
    settle: str | None = None

    def __post_init__(self) -> None:
        if not _VENUE.match(self.venue):
            raise ConfigError(f"venue {self.venue!r}: use lower-case letters, digits and '_'")
        for field_name in ("base", "quote") + (("settle",) if self.settle else ()):
            value = getattr(self, field_name)
            if not _ASSET.match(value):
                raise ConfigError(f"{field_name} {value!r}: use upper-case letters and digits")

    @property
    def symbol(self) -> str:
        """The ccxt unified symbol (`BTC/USDT`, or `BTC/USDT:USDT` for a perpetual)."""
        pair = f"{self.base}/{self.quote}"
        return f"{pair}:{self.settle}" if self.settle else pair

    @classmethod
    def parse(cls, text: str) -> InstrumentId:
        """Parse `venue:BASE/QUOTE[:SETTLE]`; raise ConfigError naming the text otherwise."""
        venue, sep, symbol = text.strip().partition(":")
        if not sep or "/" not in symbol:
            raise ConfigError(
                f"instrument {text!r}: expected 'venue:BASE/QUOTE', e.g. 'binance:BTC/USDT'"
            )
        base, _, rest = symbol.partition("/")
        quote, _, settle = rest.partition(":")
        try:
            return cls(venue, base, quote, settle or None)
        except ConfigError as exc:
            raise ConfigError(f"instrument {text!r}: {exc}") from None

    def __str__(self) -> str:
        return f"{self.venue}:{self.symbol}"


def symbol_currencies(symbol: str) -> tuple[str, str]:
    """Base and quote currency of a ccxt symbol (`BTC/USDT` or `BTC/USDT:USDT`)."""
    base, sep, rest = symbol.partition("/")
    quote = rest.partition(":")[0]
    if not sep or not base or not quote:
        raise PositionError(f"symbol {symbol!r}: expected 'BASE/QUOTE' or 'BASE/QUOTE:SETTLE'")
    return base, quote
