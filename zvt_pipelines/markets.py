"""The markets configuration: which venues exist and which instruments to collect.

Read from YAML (`config/markets.yaml` by default) and validated by pydantic; a bad
entry is a `ConfigError` naming the file, the key and the value. Venue names fit the
32-character `venue` columns; the candle timeframe lies in [1m, 1d] and divides a day (the
partitions are UTC days); a venue may cap strategies' leverage below the global
`MAX_LEVERAGE` (125) with `max_leverage`, checked when a strategy is deployed.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.timeframe import timeframe_ms

VENUE_NAME_LENGTH = 32  # the `venue` columns of the trading database
MAX_LEVERAGE = Decimal(
    125
)  # global leverage cap: the highest a major venue offers (Binance USD-M BTCUSDT)
DAY_MS = 86_400_000


class SimulatorConfig(BaseModel):
    """Seed and origin of the market simulator shared by every simulated venue."""

    model_config = ConfigDict(extra="forbid")
    seed: int = 7
    origin: date = date(2024, 1, 1)


class VenueConfig(BaseModel):
    """One venue: `simulated` (offline default), `ccxt` (a live exchange) or `file` (candle files)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["simulated", "ccxt", "file"]
    exchange: str | None = Field(None, description="ccxt exchange id (default: the venue name)")
    folder: str | None = Field(None, description="file venues: folder of candle files")
    pattern: str = "{exchange}_{base}-{quote}_{timeframe}.csv.gz"
    options: dict[str, Any] = Field(default_factory=dict)
    sandbox: bool = False
    # ccxt venues: paper-trade against the live books unless "live"
    trading: Literal["paper", "live"] = "paper"
    # ccxt API sections to redirect (a testnet, a proxy)
    urls: dict[str, str] = Field(default_factory=dict)
    # the highest leverage a strategy may ask for on this venue (default: the global cap)
    max_leverage: Decimal = Field(MAX_LEVERAGE, gt=0, le=MAX_LEVERAGE)

    @model_validator(mode="after")
    def _needs_folder(self) -> VenueConfig:
        if self.kind == "file" and not self.folder:
            raise ValueError("a file venue needs 'folder'")
        return self


class MarketsConfig(BaseModel):
    """The whole markets file."""

    model_config = ConfigDict(extra="forbid")
    start_date: date
    timeframe: str = "1m"
    simulator: SimulatorConfig = Field(default_factory=SimulatorConfig)
    venues: dict[str, VenueConfig]
    instruments: list[str] = Field(min_length=1)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("timeframe")
    @classmethod
    def _timeframe(cls, value: str) -> str:
        step = timeframe_ms(value)
        if not 0 < step <= DAY_MS or DAY_MS % step:
            raise ValueError(
                "must lie between 1m and 1d and divide a day (partitions are UTC days)"
            )
        return value

    @field_validator("venues")
    @classmethod
    def _venue_names(cls, venues: dict[str, VenueConfig]) -> dict[str, VenueConfig]:
        for name in venues:
            if not 0 < len(name) <= VENUE_NAME_LENGTH:
                raise ValueError(
                    f"venue name {name!r}: 1 to {VENUE_NAME_LENGTH} characters (database column)"
                )
        return venues

    @field_validator("instruments")
    @classmethod
    def _instruments(cls, values: list[str]) -> list[str]:
        parsed = [str(InstrumentId.parse(v)) for v in values]
        duplicates = sorted({v for v in parsed if parsed.count(v) > 1})
        if duplicates:
            raise ValueError(f"listed twice: {duplicates}")
        return parsed

    @model_validator(mode="after")
    def _known_venues(self) -> MarketsConfig:
        for text in self.instruments:
            venue = InstrumentId.parse(text).venue
            if venue not in self.venues:
                raise ValueError(
                    f"instrument {text!r} names venue {venue!r}, which 'venues' does not define"
                )
        return self

    def instrument_ids(self) -> list[InstrumentId]:
        return [InstrumentId.parse(text) for text in self.instruments]

    def folder_of(self, venue: str) -> Path:
        """A file venue's folder, relative paths taken from the configuration file's folder."""
        folder = Path(self.venues[venue].folder or ".")
        return folder if folder.is_absolute() else (self.base_dir / folder).resolve()


def load_markets_config(path: str | Path) -> MarketsConfig:
    """Read and validate a markets file; errors name the file, the key and the value."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"markets file {str(path)!r}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"markets file {str(path)!r}: not valid YAML ({exc})") from None
    return parse_markets_config(raw, source=str(path), base_dir=path.resolve().parent)


def parse_markets_config(
    raw: Any, source: str = "<markets>", base_dir: Path = Path(".")
) -> MarketsConfig:
    """Validate an already-parsed markets mapping."""
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping at the top level, got {type(raw).__name__}"
        )
    try:
        return MarketsConfig.model_validate({**raw, "base_dir": base_dir})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(top level)"
        value = first.get("input")
        raise ConfigError(f"{source}: key {key!r} = {value!r}: {first['msg']}") from None
