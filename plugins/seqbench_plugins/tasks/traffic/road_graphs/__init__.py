"""Real METR-LA and PEMS-BAY sensor graphs from DCRNN (MIT licence, see LICENSE-DCRNN.txt)."""
