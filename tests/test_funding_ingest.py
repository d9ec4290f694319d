"""Funding rates into `funding_rates`: from the real Binance file and from the simulated venue."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import sqlalchemy as sa

from zvt_pipelines.ingest.funding import download_funding, ingest_funding, read_funding_file
from zvt_pipelines.model.instrument import InstrumentId
from zvt_pipelines.storage.models import FundingRate
from zvt_pipelines.venues.simulator.market import MarketSimulator
from zvt_pipelines.venues.simulator.venue import SimulatedVenue

PERP = InstrumentId.parse("binanceusdm:BTC/USDT:USDT")
JANUARY = (pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-02-01", tz="UTC"))


def stored(db) -> list[tuple]:
    with db.transaction() as session:
        rows = session.scalars(sa.select(FundingRate).order_by(FundingRate.funding_time)).all()
        return [(r.funding_time, r.rate) for r in rows]


def test_real_funding_file_for_january_twice(db, shared_data):
    """Binance settles every 8 h: 31 days × 3 = 93 rates in January 2024, stored exactly."""
    path = shared_data / "binanceusdm_BTC-USDT-PERP_funding_8h.csv.gz"
    for _ in range(2):  # a second import replaces, never duplicates
        assert ingest_funding(db, read_funding_file(path), PERP, *JANUARY) == 93
    raw = pd.read_csv(path)
    raw = raw[(raw["timestamp"] >= 1704067200000) & (raw["timestamp"] < 1706745600000)]
    rows = stored(db)
    assert len(rows) == 93
    assert [r[1] for r in rows] == [Decimal(repr(v)) for v in raw["funding_rate"]]
    assert {r[0].hour for r in rows} == {0, 8, 16}


def test_simulated_perpetual_funding_pages_through_a_week(db):
    simulator = MarketSimulator(seed=3, venues=["sim_a"], symbols=["BTC/USDT:USDT"])
    venue = SimulatedVenue(
        "sim_a", simulator, clock=lambda: pd.Timestamp("2024-03-01", tz="UTC").to_pydatetime()
    )
    start, end = pd.Timestamp("2024-02-01", tz="UTC"), pd.Timestamp("2024-02-08", tz="UTC")
    frame = download_funding(venue, "BTC/USDT:USDT", start, end)
    assert len(frame) == 21 and frame["ts"].is_unique  # 7 days × 3 settlements
    assert (frame["rate"].abs() <= 0.003).all()
    assert ingest_funding(db, frame, InstrumentId.parse("sim_a:BTC/USDT:USDT"), start, end) == 21
