"""The `zvt` command line. Each module adds its commands to the one Typer `app`.

Commands import what they need when they run, so `zvt --help` stays fast.
"""

import zvt_pipelines.cli.quarantine  # noqa: F401 - registers `zvt quarantine`
import zvt_pipelines.cli.reconcile  # noqa: F401 - registers `zvt reconcile`
from zvt_pipelines.cli import alerts, market, research, strategies  # noqa: F401 - registers commands
from zvt_pipelines.cli.common import app

__all__ = ["app"]
