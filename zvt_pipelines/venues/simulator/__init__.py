"""The market simulator: a seeded price process, its order books and trades, and a ccxt-shaped venue over it."""
