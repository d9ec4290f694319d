"""Alert benchmarks: rule-evaluation throughput and trigger-to-delivery latency to a webhook.

Run: `.venv/bin/python benchmarks/alerts_speed.py [--updates 1000000] [--alerts 300]
[--database-url URL]`. Prints medians of repeated runs; targets are >= 10,000 price
updates/s and p99 trigger-to-delivery < 50 ms to a local webhook.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from scratch import scratch_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.webhook_sink import RecordingServer  # noqa: E402
from zvt_pipelines.alerts.channels.webhook import WebhookChannel  # noqa: E402
from zvt_pipelines.alerts.dispatcher import Dispatcher  # noqa: E402
from zvt_pipelines.alerts.model import Alert, AlertType, Severity  # noqa: E402
from zvt_pipelines.alerts.patterns import ChartPattern  # noqa: E402
from zvt_pipelines.alerts.routing import RoutingTable  # noqa: E402
from zvt_pipelines.alerts.rules import (  # noqa: E402
    PercentMove,
    PriceCross,
    VolumeSpike,
    evaluate_rules,
)
from zvt_pipelines.alerts.store import AlertStore  # noqa: E402
from zvt_pipelines.alerts.technical import (  # noqa: E402
    BollingerBreak,
    Breakout,
    MacdCross,
    RsiExtreme,
    TrendChange,
)
from zvt_pipelines.storage.database import Database  # noqa: E402

PRICE_RULES = [
    PriceCross(100.0, "up"),
    PriceCross(100.0, "down"),
    PercentMove(0.02, 60),
    VolumeSpike(6.0, 120),
]
TECHNICAL_RULES = [RsiExtreme(), MacdCross(), BollingerBreak(), Breakout(), TrendChange()]


def price_updates(count: int, seed: int = 7) -> pd.DataFrame:
    """A seeded random walk of `count` one-second price updates around 100."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 2e-4, count)))
    ts = pd.date_range("2024-01-01", periods=count, freq="s", tz="UTC")
    return pd.DataFrame({"ts": ts, "close": close, "volume": rng.gamma(2.0, 5.0, count)})


def throughput(frame: pd.DataFrame, rules: list, repeats: int) -> tuple[float, int]:
    """Median price updates per second over `repeats` evaluations, and alerts raised."""
    rates, raised = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        raised = len(evaluate_rules(rules, frame, "BTC/USDT"))
        rates.append(len(frame) / (time.perf_counter() - start))
    return statistics.median(rates), raised


def micro_batches(frame: pd.DataFrame, rules: list, batch: int, warmup: int) -> float:
    """Updates per second when evaluated in batches of `batch` new rows (plus warm-up history)."""
    start = time.perf_counter()
    done = 0
    for end in range(warmup + batch, len(frame), batch):
        evaluate_rules(rules, frame.iloc[end - batch - warmup : end], "BTC/USDT")
        done += batch
    return done / (time.perf_counter() - start)


def latency(database_url: str, count: int) -> list[float]:
    """Milliseconds from `submit()` until the webhook fake has the request, for `count` alerts."""
    database = Database(database_url)
    database.upgrade()
    routing = RoutingTable.from_mapping({"info": {"channels": ["webhook"]}})
    samples = []
    with RecordingServer() as sink:
        channel = WebhookChannel(url=f"{sink.base_url}/hook", secret="bench")
        with Dispatcher(AlertStore(database), {"webhook": channel}, routing=routing) as dispatcher:
            base = datetime(2024, 1, 1, tzinfo=UTC)
            for i in range(count):
                alert = Alert(
                    AlertType.PRICE_THRESHOLD,
                    Severity.CRITICAL,
                    f"bench {i}",
                    "latency probe",
                    base + timedelta(seconds=i),
                    f"bench@{i}",
                    instrument="BTC/USDT",
                    value=101.0,
                    threshold=100.0,
                )
                start = time.monotonic()
                report = dispatcher.submit(alert)
                assert report.delivered == ["webhook"], report
                samples.append((sink.requests[-1].at - start) * 1000)
    database.dispose()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1_000_000)
    parser.add_argument("--alerts", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server URL: the benchmark creates and drops its own database there",
    )
    args = parser.parse_args()

    frame = price_updates(args.updates)
    rate, raised = throughput(frame, PRICE_RULES, args.repeats)
    print(
        f"price/volume rules, {args.updates:,} updates: {rate:,.0f} updates/s median "
        f"({raised} alerts raised)"
    )
    rate, raised = throughput(frame, TECHNICAL_RULES, args.repeats)
    print(
        f"technical rules (RSI, MACD, Bollinger, breakout, trend): {rate:,.0f} updates/s median "
        f"({raised} alerts raised)"
    )
    small = frame.iloc[:100_000]
    rate, raised = throughput(small, [ChartPattern()], args.repeats)
    print(f"chart patterns, 100,000 updates: {rate:,.0f} updates/s median ({raised} raised)")
    print(
        f"price/volume rules in micro-batches of 1,000 new updates: "
        f"{micro_batches(frame.iloc[:200_000], PRICE_RULES, 1_000, 121):,.0f} updates/s"
    )

    with scratch_database(args.database_url) as url:
        samples = latency(url, args.alerts)
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    backend = url.split(":", 1)[0]
    print(
        f"trigger-to-delivery to a local webhook ({backend} store, {len(samples)} alerts): "
        f"median {p50:.2f} ms, p99 {p99:.2f} ms, max {samples[-1]:.2f} ms"
    )


if __name__ == "__main__":
    main()
