"""Research use cases the CLI and the Dagster jobs share: backtest a strategy, book the result, pick the best trial."""
