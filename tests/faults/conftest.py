"""Fixtures of the fault-injection suite (helpers in `support.py`)."""

from __future__ import annotations

import pytest

from tests.fakes.binance_orders import install_order_endpoints
from tests.fakes.binance_server import BinanceEmulator
from tests.faults.support import KEY, SECRET, USDT_START
from zvt_pipelines.storage.database import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A migrated trading database URL that a child process can open too."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/trader.db"
    else:
        url = request.getfixturevalue("scratch_pg_url")
    database = Database(url)
    database.upgrade()
    database.dispose()
    return url


@pytest.fixture
def binance(monkeypatch):
    """The emulator with order endpoints; book 99.5 / 100.5, 50 BTC deep each side; the
    account holds 1000 USDT and no BTC; credentials in the environment (children inherit)."""
    monkeypatch.setenv("ZVT_BINANCE_API_KEY", KEY)
    monkeypatch.setenv("ZVT_BINANCE_SECRET", SECRET)
    with BinanceEmulator(api_key=KEY, secret=SECRET) as em:
        em.set_order_book("BTCUSDT", [["99.50", "50"]], [["100.50", "50"]], 1)
        em.balances.update({"USDT": (f"{USDT_START:.8f}", "0.00000000")})
        yield em, install_order_endpoints(em)
