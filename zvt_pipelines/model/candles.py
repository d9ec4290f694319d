"""The candle frame's schema: a pandas DataFrame with columns `ts` (open time,
datetime64[ms, UTC]), `open`, `high`, `low`, `close`, `volume` (float64, base asset), sorted by `ts`.

It lives in `model/` because storage, data quality and the engines all exchange it.
"""

from __future__ import annotations

import pandas as pd

PRICE_COLUMNS = ("open", "high", "low", "close")
CANDLE_COLUMNS = ("ts", *PRICE_COLUMNS, "volume")
TS_DTYPE = "datetime64[ms, UTC]"


def empty_candles() -> pd.DataFrame:
    """A candle frame with no rows and the right dtypes."""
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in CANDLE_COLUMNS})
    frame["ts"] = frame["ts"].astype(TS_DTYPE)
    return frame
