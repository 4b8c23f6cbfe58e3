"""Executors: local (one process per job)."""
