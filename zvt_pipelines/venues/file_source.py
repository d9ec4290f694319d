"""Candle files as a candle source, so users can bring their own history.

Files are named by a pattern such as `{exchange}_{base}-{quote}_{timeframe}.csv.gz`
(the naming of the real data in `shared/data`); CSV, gzip'd CSV and Parquet are read.
A coarser timeframe than a file offers is served by resampling the finest file.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from zvt_pipelines.data.candles import candles_to_ohlcv, read_candle_file, resample_candles
from zvt_pipelines.data.gate import infer_timeframe
from zvt_pipelines.errors import BadTimeframe, UnknownSymbol
from zvt_pipelines.model.timeframe import timeframe_ms

FILE_TIMEFRAMES = ("1m", "5m", "15m", "1h", "4h", "1d")


class FileSource:
    """Serves `fetch_ohlcv` from candle files in one folder."""

    def __init__(
        self, id: str, folder: str | Path, pattern: str, exchange: str | None = None
    ) -> None:
        self.id = id
        self.folder = Path(folder)
        self.pattern = pattern
        self.exchange = exchange or id

    def _path(self, symbol: str, timeframe: str) -> Path:
        base, _, quote = symbol.partition("/")
        name = self.pattern.format(
            exchange=self.exchange, base=base, quote=quote.split(":")[0], timeframe=timeframe
        )
        return self.folder / name

    def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]:
        """Markets for which at least one candle file exists."""
        markets: dict[str, dict[str, Any]] = {}
        prefix, _, _ = self.pattern.partition("{base}")
        prefix = prefix.format(exchange=self.exchange)
        for path in sorted(self.folder.glob(prefix + "*")):
            pair = path.name[len(prefix) :].split("_", 1)[0]
            base, _, quote = pair.partition("-")
            if base and quote:
                symbol = f"{base}/{quote}"
                markets[symbol] = {
                    "id": pair,
                    "symbol": symbol,
                    "base": base,
                    "quote": quote,
                    "type": "spot",
                }
        return markets

    def candles(self, symbol: str, timeframe: str) -> pd.DataFrame:
        """The whole history of a market at a timeframe (resampled from a finer file if needed)."""
        wanted = timeframe_ms(timeframe)
        finer = [
            tf
            for tf in FILE_TIMEFRAMES
            if timeframe_ms(tf) <= wanted and wanted % timeframe_ms(tf) == 0
        ]
        for source_tf in reversed(finer):
            path = self._path(symbol, source_tf)
            if path.is_file():
                frame = _read_cached(str(path))
                return frame if source_tf == timeframe else resample_candles(frame, timeframe)
        if not any(self._path(symbol, tf).is_file() for tf in FILE_TIMEFRAMES):
            raise UnknownSymbol(
                f"symbol {symbol!r}: no candle file for it in {str(self.folder)!r} (venue {self.id!r})"
            )
        raise BadTimeframe(
            f"timeframe {timeframe!r}: no file for {symbol} at that or a finer timeframe"
        )

    def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[list[float]]:
        frame = self.candles(symbol, timeframe)
        if since is not None:
            frame = frame.loc[frame["ts"] >= pd.Timestamp(since, unit="ms", tz="UTC")]
        if limit is not None:
            frame = frame.iloc[:limit]
        return candles_to_ohlcv(frame)


@cache
def _read_cached(path: str) -> pd.DataFrame:
    return read_candle_file(path)


class SingleFileSource:
    """One candle file as the only market of a source (what `zvt ingest --file` imports)."""

    def __init__(self, id: str, path: str | Path) -> None:
        self.id = id
        self.path = Path(path)
        self._frame = read_candle_file(self.path)  # checked: unique, sorted, on one grid
        self.timeframe = infer_timeframe(self._frame, f"candle file {str(self.path)!r}")
        self.step_ms = timeframe_ms(self.timeframe)
        self._resampled: dict[str, pd.DataFrame] = {}

    def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]:
        return {}

    def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int | None = None
    ) -> list[list[float]]:
        wanted = timeframe_ms(timeframe)
        if wanted < self.step_ms or wanted % self.step_ms:
            raise BadTimeframe(
                f"timeframe {timeframe!r}: {str(self.path)!r} has {self.step_ms // 60_000}-minute "
                f"({self.timeframe}) candles; ask for that timeframe or a multiple of it"
            )
        if wanted == self.step_ms:
            frame = self._frame
        else:
            frame = self._resampled.setdefault(timeframe, resample_candles(self._frame, timeframe))
        if since is not None:
            frame = frame.loc[frame["ts"] >= pd.Timestamp(since, unit="ms", tz="UTC")]
        if limit is not None:
            frame = frame.iloc[:limit]
        return candles_to_ohlcv(frame)
