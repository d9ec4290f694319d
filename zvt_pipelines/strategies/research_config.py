"""The strategies file's `research:` block: thresholds of the overfitting gate at deploy.

research:
  overfitting:
    min_deflated_sharpe: 0.95   # the best trial's DSR must reach this
    max_pbo: 0.5                # the optimisation's PBO must not exceed this
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OverfittingThresholds(BaseModel):
    """What an optimised parameter set must show before it may be deployed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    min_deflated_sharpe: float = Field(0.95, ge=0, le=1)
    max_pbo: float = Field(0.5, ge=0, le=1)


class ResearchConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    overfitting: OverfittingThresholds = Field(default_factory=OverfittingThresholds)
