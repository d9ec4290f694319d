"""Market data: the candle frame schema, file sources, resampling and quality rules."""
