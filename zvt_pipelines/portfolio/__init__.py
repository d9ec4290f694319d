"""Portfolio: lots and positions, valuation, currency conversion, risk and attribution.

Risk and attribution modules (import from them directly): `currency` (PriceGraph,
depeg_exposure), `valuation` (positions_to_arrays, revalue), `var` (historical_var,
parametric_var, monte_carlo_var, var_table), `concentration` (rolling_correlation,
concentration), `stress` (historical_scenario, btc_crash, stablecoin_depeg, venue_outage,
run_stress_tests), `limits` (RiskLimits, RiskState), `attribution` (attribute, benchmarks),
`hedging` (currency_exposures, propose_hedges, place_hedges), `report` (the portfolio
tables behind the Dagster analytics assets), `breaches` (risk-limit breaches).
"""
