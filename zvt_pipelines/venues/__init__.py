"""Venues: the one interface (ccxt unified method names), the ccxt adapter and the simulated venue."""
