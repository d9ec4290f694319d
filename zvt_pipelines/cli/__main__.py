"""`python -m zvt_pipelines.cli` runs the `zvt` command line."""

from zvt_pipelines.cli import app

app()
