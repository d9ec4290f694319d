"""Strategies: the base class, the registry, the YAML config and the built-in families.

Importing this package registers the built-in families (`sma_cross`, `dca`, `grid`,
`momentum`, `mean_reversion`, `arb_cross`, `arb_triangular`, `arb_funding`,
`market_making`). A user strategy subclasses `BaseCryptoStrategy` (or `BarStrategy`),
decorates itself with `register_strategy("name")` and is named by `type:` in YAML.
"""

from zvt_pipelines.strategies import (  # noqa: F401 - imported to register the families
    arb_cross,
    arb_funding,
    arb_triangular,
    dca,
    grid,
    market_making,
    mean_reversion,
    momentum,
    sma_cross,
)
from zvt_pipelines.strategies.base import (
    BarStrategy,
    BaseCryptoStrategy,
    BookTop,
    MarketData,
    PortfolioView,
    PositionView,
    Signal,
    SignalKind,
    StrategyParams,
    call_hook,
    checked_targets,
)
from zvt_pipelines.strategies.config import (
    build_strategies,
    build_strategy,
    diff_configs,
    load_strategies_config,
    parse_strategies_config,
    strategy_fingerprint,
)
from zvt_pipelines.strategies.registry import available_strategies, get_strategy, register_strategy
from zvt_pipelines.strategies.targets import RebalancePlan, TargetPosition, rebalance

__all__ = [
    "BarStrategy",
    "BaseCryptoStrategy",
    "BookTop",
    "MarketData",
    "PortfolioView",
    "PositionView",
    "RebalancePlan",
    "Signal",
    "SignalKind",
    "StrategyParams",
    "TargetPosition",
    "available_strategies",
    "build_strategies",
    "build_strategy",
    "call_hook",
    "checked_targets",
    "diff_configs",
    "get_strategy",
    "load_strategies_config",
    "parse_strategies_config",
    "rebalance",
    "register_strategy",
    "strategy_fingerprint",
]
