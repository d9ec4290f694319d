"""The strategies file as a Dagster resource."""

from typing import Any

import dagster as dg

from zvt_pipelines.strategies import load_strategies_config


class StrategiesResource(dg.ConfigurableResource):
    """Reads the strategies file (ZVT_STRATEGIES, default config/strategies.yaml)."""

    config_path: str

    def entries(self) -> list[Any]:
        """Every strategy entry of the file, enabled or not (a paused one may still hold)."""
        return list(load_strategies_config(self.config_path).strategies)

    def entry(self, name: str) -> Any:
        """The entry named `name`; a Failure naming the file when it is not there."""
        entries = load_strategies_config(self.config_path).by_name()
        if name not in entries:
            raise dg.Failure(f"strategy {name!r} is not in {self.config_path}")
        return entries[name]
