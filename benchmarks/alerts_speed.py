"""Alert benchmarks: rule-evaluation throughput and trigger-to-delivery latency to a webhook.

Run: `.venv/bin/python benchmarks/alerts_speed.py [--updates 1000000] [--alerts 300]
[--repeats 5] [--database-url URL] [--quick]`.

Data: a seeded random walk of one-second price updates (generated). Figures:

* rule throughput, vectorised: `evaluate_rules` over the whole frame of `--updates`
  updates in ONE call for the price/volume rules; the technical rules on the first
  200,000 and chart patterns on the first 100,000 (they are slower: keeps the run short),
  median of `--repeats` after 1 warm-up call. This is batch evaluation, not a stream;
* rule throughput, micro-batches: the price/volume rules over 200,000 updates fed 1,000
  new updates at a time (plus 121 rows of history), one timed pass after a warm-up pass;
* trigger-to-delivery: `Dispatcher.submit` of `--alerts` alerts, each stored (a SQLite
  file by default, or a scratch database on the PostgreSQL server at `--database-url`)
  and POSTed to a local webhook fake; milliseconds until the fake has the request, after
  20 untimed alerts. Persisted, so disk-bound: the store's commit ceiling (a loop of
  autocommitted 1-row INSERTs) is printed beside.

Nothing is extrapolated. Targets: >= 10,000 price updates/s; p99 delivery < 50 ms.
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
from harness import commit_ceiling, figure, quick_flag
from scratch import scratch_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.webhook_sink import RecordingServer  # noqa: E402
from zvt_pipelines.alerts.alert import Alert, AlertType, Severity  # noqa: E402
from zvt_pipelines.alerts.channels.webhook import WebhookChannel  # noqa: E402
from zvt_pipelines.alerts.dispatcher import Dispatcher  # noqa: E402
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
    """Median price updates per second over `repeats` evaluations (after 1 untimed), and alerts raised."""
    evaluate_rules(rules, frame, "BTC/USDT")
    rates, raised = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        raised = len(evaluate_rules(rules, frame, "BTC/USDT"))
        rates.append(len(frame) / (time.perf_counter() - start))
    return statistics.median(rates), raised


def micro_batches(frame: pd.DataFrame, rules: list, batch: int, warmup: int) -> float:
    """Updates per second when evaluated in batches of `batch` new rows (plus `warmup` rows of
    history), timed on the second of two passes."""
    for _ in range(2):
        start = time.perf_counter()
        done = 0
        for end in range(warmup + batch, len(frame), batch):
            evaluate_rules(rules, frame.iloc[end - batch - warmup : end], "BTC/USDT")
            done += batch
        rate = done / (time.perf_counter() - start)
    return rate


def latency(database_url: str, count: int) -> tuple[list[float], float]:
    """Milliseconds from `submit()` until the webhook fake has the request, for `count` alerts
    after 20 untimed ones; and the store's commit ceiling."""
    database = Database(database_url)
    database.upgrade()
    routing = RoutingTable.from_mapping({"info": {"channels": ["webhook"]}})
    samples = []
    with RecordingServer() as sink:
        channel = WebhookChannel(url=f"{sink.base_url}/hook", secret="bench")
        with Dispatcher(AlertStore(database), {"webhook": channel}, routing=routing) as dispatcher:
            base = datetime(2024, 1, 1, tzinfo=UTC)
            for i in range(-20, count):
                alert = Alert(
                    AlertType.PRICE_THRESHOLD,
                    Severity.CRITICAL,
                    f"bench {i + 20}",
                    "latency probe",
                    base + timedelta(seconds=i + 20),
                    f"bench@{i + 20}",
                    instrument="BTC/USDT",
                    value=101.0,
                    threshold=100.0,
                )
                start = time.monotonic()
                report = dispatcher.submit(alert)
                assert report.delivered == ["webhook"], report
                if i >= 0:
                    samples.append((sink.requests[-1].at - start) * 1000)
    ceiling = commit_ceiling(database.engine, 1_000)
    database.dispose()
    return samples, ceiling


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
    quick_flag(parser)
    args = parser.parse_args()
    updates, alerts, repeats = (
        (200_000, 50, 1) if args.quick else (args.updates, args.alerts, args.repeats)
    )
    after = f"median of {repeats} after 1 warm-up"

    frame = price_updates(updates)
    rate, raised = throughput(frame, PRICE_RULES, repeats)
    print(
        f"price/volume rules, {updates:,} updates in one call: {rate:,.0f} updates/s {after} ({raised} alerts raised)"
    )
    figure(
        "price/volume rules, vectorised",
        f"{rate:,.0f} updates/s",
        f"evaluate_rules over {updates:,} generated 1 s updates in ONE call (batch, not a "
        f"stream); {after}",
        "≥ 10,000/s",
    )
    technical = frame.iloc[:200_000]
    rate, raised = throughput(technical, TECHNICAL_RULES, repeats)
    print(
        f"technical rules (RSI, MACD, Bollinger, breakout, trend), {len(technical):,} updates in one "
        f"call: {rate:,.0f} updates/s {after} ({raised} alerts raised)"
    )
    small = frame.iloc[:100_000]
    rate, raised = throughput(small, [ChartPattern()], repeats)
    print(
        f"chart patterns, 100,000 updates in one call: {rate:,.0f} updates/s {after} ({raised} raised)"
    )
    rate = micro_batches(frame.iloc[:200_000], PRICE_RULES, 1_000, 121)
    print(f"price/volume rules in micro-batches of 1,000 new updates: {rate:,.0f} updates/s")
    figure(
        "price/volume rules, micro-batches of 1,000",
        f"{rate:,.0f} updates/s",
        "evaluate_rules on 200,000 generated updates fed 1,000 new (+121 history) at a time; "
        "one timed pass after a warm-up pass",
        "≥ 10,000/s",
    )

    with scratch_database(args.database_url) as url:
        samples, ceiling = latency(url, alerts)
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    backend = url.split(":", 1)[0].split("+")[0]
    print(
        f"trigger-to-delivery to a local webhook ({backend} store, {len(samples)} alerts after 20 "
        f"untimed): median {p50:.2f} ms, p99 {p99:.2f} ms, max {samples[-1]:.2f} ms; "
        f"{backend} commit ceiling {ceiling:,.0f} commits/s"
    )
    figure(
        f"alert trigger-to-delivery ({backend})",
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms; commit ceiling {ceiling:,.0f}/s",
        f"disk-bound; Dispatcher.submit stores each alert in {backend} and POSTs it to a local "
        f"webhook fake; {len(samples)} alerts after 20 untimed",
        "p99 < 50 ms",
    )


if __name__ == "__main__":
    main()
