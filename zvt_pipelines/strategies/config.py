"""The strategies file: YAML validated by pydantic, fingerprinted and diffed for audits.

Shape (a bare list of strategies is accepted too)::

    strategies:
      - name: btc_sma            # unique in the file
        type: sma_cross          # registry key (see registry.py)
        symbol: binance:BTC/USDT # or `symbols: [...]`
        amount_per_trade: 100    # quote currency
        frequency: 1h
        exchanges: [binance]     # defaults to the symbols' venues
        params: {fast: 10, slow: 30}   # validated by the strategy's params model
        risk_limits: {max_allocation: 0.5, stop_loss: 0.05, take_profit: 0.2,
                      max_position_size: 0.5, daily_loss_limit: 500}
        enabled: true
        optimization: 0f3c...     # optional: the `zvt optimize` MLflow run the params came from
    research:                    # optional: thresholds of the overfitting gate at deploy
      overfitting: {min_deflated_sharpe: 0.95, max_pbo: 0.5}

A bad field is a `ConfigError` naming the file, the strategy, the key and the value.

Bounds (beyond each family's own params model): names fit the 64-character database
columns; amounts and capital are finite, positive and at most `MAX_AMOUNT`; leverage is at
most `MAX_LEVERAGE` (a venue may set a lower `max_leverage` in the markets file, checked at
deploy); the frequency lies in [1m, 30d]; integer params named like windows (`*window`,
`*_bars`, `lookback`, `fast`, `slow`) are at most `MAX_WINDOW_BARS`; params named like fees
(`*fee*`) lie in [0, `MAX_FEE`].
"""

from __future__ import annotations

import hashlib
import importlib
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from zvt_pipelines.errors import ConfigError
from zvt_pipelines.markets import MAX_LEVERAGE
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.model.money import to_decimal
from zvt_pipelines.model.timeframe import timeframe_ms
from zvt_pipelines.portfolio.limits import RiskLimits
from zvt_pipelines.strategies.base import BaseCryptoStrategy
from zvt_pipelines.strategies.registry import get_strategy
from zvt_pipelines.strategies.research_config import ResearchConfig

NAME_LENGTH = 64  # strategy_status.name, crypto_orders.strategy
MAX_AMOUNT = Decimal("1e9")  # quote currency per trade, capital, daily loss limit
MAX_FEE = Decimal("0.05")  # 5 % of notional: above any venue's taker fee
MAX_WINDOW_BARS = 100_000  # ~69 days of 1m bars, ~11 years of 1h bars
FREQUENCY_RANGE = ("1m", "30d")
_WINDOW_NAMES = ("window", "_bars", "lookback", "fast", "slow")


class RiskLimitsConfig(BaseModel):
    """Per-strategy limits; `max_position_size` (base units) applies to each symbol."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    max_allocation: Decimal = Field(Decimal(1), gt=0, le=1)
    stop_loss: Decimal = Field(Decimal("0.1"), gt=0, lt=1)
    take_profit: Decimal = Field(Decimal(1), gt=0, le=100)
    max_position_size: Decimal | None = Field(None, gt=0, le=MAX_AMOUNT)
    daily_loss_limit: Decimal = Field(Decimal(1_000_000), gt=0, le=MAX_AMOUNT)
    max_leverage: Decimal = Field(Decimal(1), gt=0, le=MAX_LEVERAGE)

    def to_limits(self, instruments: list[InstrumentId]) -> RiskLimits:
        sizes = {}
        if self.max_position_size is not None:
            sizes = {str(instrument): self.max_position_size for instrument in instruments}
        return RiskLimits(
            max_allocation=self.max_allocation,
            stop_loss=self.stop_loss,
            take_profit=self.take_profit,
            daily_loss_limit=self.daily_loss_limit,
            max_leverage=self.max_leverage,
            max_position_size=sizes,
        )


class StrategyConfig(BaseModel):
    """One strategy entry; `params` is checked against its type's params model."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=NAME_LENGTH)
    type: str
    symbols: list[str] = Field(min_length=1)
    amount_per_trade: Decimal = Field(gt=0, le=MAX_AMOUNT, allow_inf_nan=False)
    # paper capital of each venue account, in the quote currency of its first instrument
    capital: Decimal = Field(Decimal(10_000), gt=0, le=MAX_AMOUNT, allow_inf_nan=False)
    frequency: str = "1h"
    exchanges: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    risk_limits: RiskLimitsConfig = Field(default_factory=RiskLimitsConfig)
    enabled: bool = True
    # the `zvt optimize` run (MLflow) these params came from: deploys pass the overfitting
    # gate; left out of the fingerprint when absent, so older entries keep theirs
    optimization: str | None = Field(None, min_length=1, exclude_if=lambda v: v is None)

    @model_validator(mode="before")
    @classmethod
    def _symbol_alias(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "symbol" in raw:
            if "symbols" in raw:
                raise ValueError("give 'symbol' or 'symbols', not both")
            raw = {**raw, "symbols": [raw["symbol"]]}
            del raw["symbol"]
        return raw

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        get_strategy(value)
        return value

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "type" not in info.data:  # the type itself was invalid; that error is reported
            return value
        validated = get_strategy(info.data["type"]).params_model.model_validate(value)
        dumped = validated.model_dump(mode="json")
        _check_param_bounds(dumped, "params")
        return dumped

    @field_validator("symbols")
    @classmethod
    def _symbols(cls, values: list[str]) -> list[str]:
        parsed = [str(InstrumentId.parse(v)) for v in values]
        if len(set(parsed)) != len(parsed):
            raise ValueError(f"a symbol is listed twice: {parsed}")
        return parsed

    @field_validator("frequency")
    @classmethod
    def _frequency(cls, value: str) -> str:
        low, high = (timeframe_ms(bound) for bound in FREQUENCY_RANGE)
        if not low <= timeframe_ms(value) <= high:
            raise ValueError(f"must lie between {FREQUENCY_RANGE[0]} and {FREQUENCY_RANGE[1]}")
        return value

    @model_validator(mode="after")
    def _exchanges(self) -> StrategyConfig:
        venues = sorted({InstrumentId.parse(s).venue for s in self.symbols})
        if not self.exchanges:
            object.__setattr__(self, "exchanges", venues)
        missing = sorted(set(venues) - set(self.exchanges))
        if missing:
            raise ValueError(f"symbols trade on {missing}, which 'exchanges' does not list")
        return self

    def instrument_ids(self) -> list[InstrumentId]:
        return [InstrumentId.parse(s) for s in self.symbols]


def _check_param_bounds(value: Any, key: str, fee: bool = False) -> None:
    """Upper bounds the families' params models leave open: windows and fee rates (by name)."""
    if isinstance(value, dict):
        for name, inner in value.items():
            _check_param_bounds(inner, f"{key}.{name}", fee or "fee" in str(name))
        return
    leaf = key.rsplit(".", 1)[-1]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return
    if fee:
        try:
            rate = to_decimal(value)
        except InvalidOperation:  # not a number (e.g. a fee currency): the model judged it
            return
        if not Decimal(0) <= rate <= MAX_FEE:
            raise ValueError(f"{key} = {value!r}: a fee rate must lie in [0, {MAX_FEE}]")
    window = isinstance(value, int) and any(leaf.endswith(n) for n in _WINDOW_NAMES)
    if window and value > MAX_WINDOW_BARS:
        raise ValueError(f"{key} = {value!r}: a window is at most {MAX_WINDOW_BARS} bars")


class StrategiesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    modules: list[str] = Field(default_factory=list)  # imported first: user strategy families
    strategies: list[StrategyConfig]
    research: ResearchConfig = Field(default_factory=ResearchConfig)

    @model_validator(mode="after")
    def _unique_names(self) -> StrategiesConfig:
        names = [s.name for s in self.strategies]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"strategy names must be unique; repeated: {duplicates}")
        return self

    def by_name(self) -> dict[str, StrategyConfig]:
        return {s.name: s for s in self.strategies}


def _error(source: str, raw: Any, exc: ValidationError) -> ConfigError:
    first = exc.errors()[0]
    loc = list(first["loc"])
    where = ""
    if len(loc) >= 2 and loc[0] == "strategies" and isinstance(loc[1], int):
        entry = raw["strategies"][loc[1]] if isinstance(raw, dict) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        where = f"strategy {name!r}: " if name else f"strategy #{loc[1] + 1}: "
        loc = loc[2:]
    key = ".".join(str(part) for part in loc) or "(entry)"
    message = first["msg"].removeprefix("Value error, ")
    return ConfigError(f"{source}: {where}key {key!r} = {first.get('input')!r}: {message}")


def import_strategy_modules(modules: Any, source: str) -> None:
    """Import the modules that register user strategy families (`modules:` in the file),
    so a code location or daemon that never imported them still knows their types."""
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        raise ConfigError(f"{source}: key 'modules' = {modules!r}: expected a list of module names")
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(
                f"{source}: key 'modules' = {module!r}: cannot be imported ({exc})"
            ) from None


def parse_strategies_config(raw: Any, source: str = "<strategies>") -> StrategiesConfig:
    """Validate an already-parsed strategies document (mapping or bare list)."""
    if isinstance(raw, list):
        raw = {"strategies": raw}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping with 'strategies', got {type(raw).__name__}"
        )
    import_strategy_modules(raw.get("modules") or [], source)
    try:
        return StrategiesConfig.model_validate(raw)
    except ValidationError as exc:
        raise _error(source, raw, exc) from None
    except ConfigError as exc:  # raised inside a validator (e.g. InstrumentId.parse)
        raise ConfigError(f"{source}: {exc}") from None


def load_strategies_config(path: str | Path) -> StrategiesConfig:
    """Read and validate a strategies file; errors name the file, strategy, key and value."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(
            f"strategies file {str(path)!r}: cannot be read ({exc.strerror})"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"strategies file {str(path)!r}: not valid YAML ({exc})") from None
    return parse_strategies_config(raw, source=str(path))


def build_strategy(config: StrategyConfig) -> BaseCryptoStrategy:
    """The strategy object a config entry describes."""
    instruments = config.instrument_ids()
    return get_strategy(config.type)(
        config.params,
        label=config.name,
        instruments=instruments,
        amount_per_trade=config.amount_per_trade,
        frequency=config.frequency,
        risk_limits=config.risk_limits.to_limits(instruments),
    )


def build_strategies(config: StrategiesConfig) -> list[BaseCryptoStrategy]:
    """The enabled strategies of a file, in file order."""
    return [build_strategy(entry) for entry in config.strategies if entry.enabled]


def _canonical(config: StrategyConfig) -> dict[str, Any]:
    return config.model_dump(mode="json")


def strategy_fingerprint(config: StrategyConfig) -> str:
    """SHA-256 of the entry's canonical JSON (sorted keys, Decimals as strings): stable
    across key order, YAML formatting and runs; changes with any value."""
    text = json.dumps(_canonical(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def flatten_keys(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one mapping of dotted keys (`params.fast`), for key-by-key diffs."""
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, inner in value.items():
            flat.update(flatten_keys(inner, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: value}


@dataclass(frozen=True)
class FieldChange:
    key: str
    old: Any
    new: Any


@dataclass(frozen=True)
class ConfigDiff:
    """Strategies added, removed, and changed (with each changed key's old and new value)."""

    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: dict[str, tuple[FieldChange, ...]]

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff_configs(old: StrategiesConfig, new: StrategiesConfig) -> ConfigDiff:
    """What changed between two strategies files, by strategy name and dotted key."""
    before, after = old.by_name(), new.by_name()
    changed = {}
    for name in sorted(before.keys() & after.keys()):
        a, b = flatten_keys(_canonical(before[name])), flatten_keys(_canonical(after[name]))
        changes = tuple(
            FieldChange(key, a.get(key), b.get(key))
            for key in sorted(a.keys() | b.keys())
            if a.get(key) != b.get(key)
        )
        if changes:
            changed[name] = changes
    return ConfigDiff(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=changed,
    )
