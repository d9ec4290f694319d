"""VWAP: slices proportional to the usual intraday volume, from historical candles.

The profile is the mean volume per minute-of-day or hour-of-day bucket (UTC) over the candles
given, normalised to sum to 1; a bucket no finer than the candles' timeframe makes sense (hourly
candles give an hourly profile). A slice's weight is the profile volume inside its window, a
bucket shared with another slice counting in proportion to the time overlap.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from zvt_pipelines.errors import DataError, InvalidOrder
from zvt_pipelines.model.money import decimal_from_float
from zvt_pipelines.model.orders import Side
from zvt_pipelines.oms.algos.base import split_by_weights
from zvt_pipelines.oms.algos.twap import ScheduledAlgo, Slice, slice_times

BUCKET_SECONDS = {"minute": 60, "hour": 3600}


def intraday_volume_profile(candles: pd.DataFrame, bucket: str = "minute") -> pd.Series:
    """Share of the day's volume per bucket: index 0..1439 (minute) or 0..23 (hour), sums to 1.

    Each bucket's value is its mean volume over the candles that fall in it (days missing a
    bucket do not drag its mean down); buckets never seen are 0.
    """
    if bucket not in BUCKET_SECONDS:
        raise InvalidOrder(f"profile bucket {bucket!r}: use 'minute' or 'hour'")
    if candles.empty:
        raise DataError("volume profile: no candles given")
    ts = candles["ts"]
    key = ts.dt.hour * 60 + ts.dt.minute if bucket == "minute" else ts.dt.hour
    size = 86_400 // BUCKET_SECONDS[bucket]
    mean = candles["volume"].groupby(key.to_numpy()).mean().reindex(range(size), fill_value=0.0)
    total = float(mean.sum())
    if total <= 0:
        raise DataError("volume profile: the candles have no volume")
    return (mean / total).rename("volume_share")


def window_weight(profile: pd.Series, start: datetime, end: datetime) -> float:
    """Profile volume inside [start, end), a partly covered bucket counted pro rata to time."""
    bucket_seconds = 86_400 // len(profile)
    weight, at = 0.0, start
    while at < end:
        second_of_day = at.hour * 3600 + at.minute * 60 + at.second + at.microsecond / 1e6
        index = int(second_of_day // bucket_seconds)
        bucket_end = at + timedelta(seconds=(index + 1) * bucket_seconds - second_of_day)
        upto = min(end, bucket_end)
        weight += float(profile.iloc[index]) * (upto - at).total_seconds() / bucket_seconds
        at = upto
    return weight


def vwap(
    parent_id: str,
    symbol: str,
    side: Side | str,
    amount: Decimal,
    *,
    start: datetime,
    duration: timedelta,
    interval: timedelta,
    profile: pd.Series,
    **kwargs: Any,
) -> ScheduledAlgo:
    """Volume-weighted: slices every `interval` sized by the profile's volume in their window.

    Raises DataError when the profile has no volume in the whole window. Other keyword arguments
    (venue, sink, amount_step, ...) go to `ExecutionAlgo`.
    """
    if len(profile) not in (24, 1440):
        raise InvalidOrder(
            f"profile of {len(profile)} buckets: expected 24 (hour) or 1440 (minute)"
        )
    times = slice_times(start, duration, interval)
    weights = [decimal_from_float(window_weight(profile, at, at + interval)) for at in times]
    if sum(weights) <= 0:
        raise DataError(f"volume profile has no volume between {start} and {start + duration}")
    sizes = split_by_weights(amount, weights, kwargs["amount_step"])
    schedule = [Slice(at, size) for at, size in zip(times, sizes, strict=True)]
    return ScheduledAlgo(parent_id, symbol, side, amount, schedule=schedule, **kwargs)
