"""Currency conversion over a quote graph and stablecoin depeg exposure, checked by hand in Decimal."""

from __future__ import annotations

import decimal
from decimal import Decimal as D

import pytest

from zvt_pipelines.errors import ConfigError, NoConversionPath, ZvtError
from zvt_pipelines.portfolio.currency import PriceGraph, depeg_exposure, mid_price

QUOTES = {
    "BTC/USDT": D("60000"),
    "SOL/USDT": D("150"),
    "ETH/BTC": D("0.05"),
    "SOL/ETH": D("0.06"),
    "USDT/USD": D("0.999"),
    "USDC/USD": D("1.0002"),
    "DAI/USDC": D("0.995"),
    "XYZ/ABC": D("2"),
}


@pytest.fixture
def graph() -> PriceGraph:
    return PriceGraph(QUOTES)


def test_two_hop_tie_is_broken_towards_usdt(graph: PriceGraph) -> None:
    """SOL -> BTC has two 2-hop paths: via USDT (150 / 60000 = 0.0025) and via ETH
    (0.06 × 0.05 = 0.003). USDT ranks before ETH, so 2.5 SOL = 2.5 × 150 / 60000 = 0.00625 BTC."""
    assert graph.path("SOL", "BTC") == ["SOL", "USDT", "BTC"]
    assert graph.convert(D("2.5"), "SOL", "BTC") == D("0.00625")


def test_inverted_quotes(graph: PriceGraph) -> None:
    """BTC -> SOL: × 60000 (BTC/USDT forward) then ÷ 150 (SOL/USDT inverted) = 400 SOL per BTC."""
    assert graph.path("BTC", "SOL") == ["BTC", "USDT", "SOL"]
    assert graph.convert(D("1"), "BTC", "SOL") == D("400")
    assert graph.rate("BTC", "SOL") == D("400")


def test_three_hop_path_is_exact(graph: PriceGraph) -> None:
    """2 ETH -> USD: ETH -> BTC -> USDT -> USD = 2 × 0.05 × 60000 × 0.999 = 5994 (exactly).
    The 3-hop alternative ETH -> SOL -> USDT -> USD loses the tie: BTC ranks before SOL."""
    assert graph.path("ETH", "USD") == ["ETH", "BTC", "USDT", "USD"]
    assert graph.convert(D("2"), "ETH", "USD") == D("5994")
    assert graph.convert(D("3"), "SOL", "USD") == D("449.55")  # 3 × 150 × 0.999


def test_inverse_path_is_divided_once(graph: PriceGraph) -> None:
    """59940 USD -> BTC: ÷ 0.999 (USDT/USD) ÷ 60000 (BTC/USDT) = 59940 / 59940 = exactly 1 BTC.
    Multiplying by rounded reciprocals (1/0.999 = 1.001001…) would miss 1 in the last digit."""
    assert graph.convert(D("59940"), "USD", "BTC") == D("1")
    back = graph.convert(graph.convert(D("123.45"), "USD", "USDT"), "USDT", "USD")
    assert abs(back - D("123.45")) < D("1e-50")


def test_same_currency_is_identity(graph: PriceGraph) -> None:
    assert graph.convert(D("7.5"), "BTC", "BTC") == D("7.5")
    assert graph.path("BTC", "BTC") == ["BTC"]


def test_no_path_names_both_currencies(graph: PriceGraph) -> None:
    with pytest.raises(NoConversionPath, match="'XYZ'.*'BTC'") as info:
        graph.convert(D("1"), "XYZ", "BTC")
    assert (info.value.from_ccy, info.value.to_ccy) == ("XYZ", "BTC")
    assert isinstance(info.value, ZvtError)
    with pytest.raises(NoConversionPath, match="'DOGE'.*'USD'"):
        graph.convert(D("1"), "DOGE", "USD")


@pytest.mark.parametrize(
    ("quotes", "message"),
    [
        ({"BTCUSDT": D("1")}, "BTCUSDT"),
        ({"BTC/USDT": 60000.0}, "Decimal"),
        ({"BTC/USDT": D("0")}, "> 0"),
        ({"BTC/USDT": D("NaN")}, "finite"),
    ],
)
def test_bad_quotes_are_refused(quotes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PriceGraph(quotes)


def test_mid_price() -> None:
    """(59999.5 + 60000.5) / 2 = 60000; a crossed book is refused."""
    assert mid_price(D("59999.5"), D("60000.5")) == D("60000")
    with pytest.raises(ConfigError, match="bid=2 ask=1"):
        mid_price(D("2"), D("1"))


def test_depeg_exposure_by_hand(graph: PriceGraph) -> None:
    """Balances USDT 10000, USDC 5000, DAI 2000 (BTC is not a stablecoin, so not reported).

    USDT: price 0.999 -> deviation −0.001, value 9990, vs par −10.
    USDC: price 1.0002 -> deviation +0.0002, value 5001, vs par +1.
    DAI:  DAI -> USDC -> USD = 0.995 × 1.0002 = 0.995199 -> deviation −0.004801,
          value 2000 × 0.995199 = 1990.398, vs par −9.602.
    """
    balances = {"USDT": D("10000"), "USDC": D("5000"), "DAI": D("2000"), "BTC": D("1")}
    report = {row.currency: row for row in depeg_exposure(balances, graph)}
    assert set(report) == {"USDT", "USDC", "DAI"}
    assert (report["USDT"].price_usd, report["USDT"].deviation) == (D("0.999"), D("-0.001"))
    assert report["USDT"].market_value_usd == D("9990")
    assert report["USDT"].value_vs_par == D("-10")
    assert report["USDT"].value_at_risk == D("9990")
    assert report["USDC"].deviation == D("0.0002")
    assert report["USDC"].value_vs_par == D("1")
    assert report["DAI"].price_usd == D("0.995199")
    assert report["DAI"].deviation == D("-0.004801")
    assert report["DAI"].market_value_usd == D("1990.398")
    assert report["DAI"].value_vs_par == D("-9.602")


def test_unpriceable_stablecoin_is_not_assumed_at_par() -> None:
    """With only BTC/USDT = 60000 and BTC/USD = 60100 quoted, USDT is worth the market-implied
    60100 / 60000 = 1.0016666… USD (one division at 60 digits), not 1; USDC has no quote at all."""
    graph = PriceGraph({"BTC/USDT": D("60000"), "BTC/USD": D("60100")})
    report = depeg_exposure({"USDT": D("100")}, graph)
    with decimal.localcontext() as context:
        context.prec = 60
        assert report[0].price_usd == D("60100") / D("60000")
    with pytest.raises(NoConversionPath, match="'USDC'.*'USD'"):
        depeg_exposure({"USDC": D("50")}, graph)
