"""Results store: SQLite (standard library), one transaction per job.

One row per job config hash (the latest outcome wins), so a resumed run never
duplicates a row; SQLite's journal keeps the file consistent if the process is killed
at any moment. Reports are always regenerated from here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from seqbench.specs import JobConfig, JobResult

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started REAL NOT NULL, finished REAL,
    argv TEXT NOT NULL, environment TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    config_hash TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id),
    model TEXT NOT NULL, task TEXT NOT NULL, device TEXT NOT NULL, seed INTEGER NOT NULL,
    preset TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL,
    config TEXT NOT NULL, metrics TEXT NOT NULL, measures TEXT NOT NULL,
    reference TEXT NOT NULL, artifacts TEXT NOT NULL,
    started REAL NOT NULL, finished REAL NOT NULL
);
"""


class StoreError(RuntimeError):
    """The store file is not a seqbench store, or of another schema version."""


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            with self.db:
                self.db.executescript(SCHEMA)
                row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                if row is None:
                    self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                elif int(row[0]) != SCHEMA_VERSION:
                    raise StoreError(f"{self.path}: schema version {row[0]}, this seqbench reads {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a readable seqbench store: {exc}") from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def start_run(self, run_id: str, argv: list[str], environment: dict[str, Any]) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO runs (run_id, started, argv, environment) VALUES (?, ?, ?, ?)",
                (run_id, time.time(), json.dumps(argv), json.dumps(environment, sort_keys=True)),
            )

    def finish_run(self, run_id: str) -> None:
        with self.db:
            self.db.execute("UPDATE runs SET finished=? WHERE run_id=?", (time.time(), run_id))

    def record(self, run_id: str, config: JobConfig, result: JobResult, started: float) -> None:
        """Write one job's row in a single transaction."""
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    config.hash(), run_id, config.model, config.task, config.device, config.seed,
                    config.preset, result.status, result.message, json.dumps(config.to_dict(), sort_keys=True),
                    json.dumps(result.metrics), json.dumps(result.measures), json.dumps(result.reference),
                    json.dumps(result.artifacts), started, time.time(),
                ),
            )

    def succeeded(self) -> set[str]:
        """Config hashes whose job finished with status ``ok``."""
        return {r[0] for r in self.db.execute("SELECT config_hash FROM jobs WHERE status='ok'")}

    def environments(self) -> dict[str, dict[str, Any]]:
        return {r[0]: json.loads(r[1]) for r in self.db.execute("SELECT run_id, environment FROM runs")}

    def frame(self) -> pd.DataFrame:
        """One row per job, with ``metric.*``, ``measure.*`` and ``reference.*`` columns."""
        cursor = self.db.execute(
            "SELECT config_hash, run_id, model, task, device, seed, preset, status, message, "
            "metrics, measures, reference, artifacts, started, finished FROM jobs ORDER BY task, model, device, seed"
        )
        rows = []
        for (h, run, model, task, device, seed, preset, status, message, metrics, measures, ref, art, t0, t1) in cursor:
            row: dict[str, Any] = {
                "config_hash": h, "run_id": run, "model": model, "task": task, "device": device, "seed": seed,
                "preset": preset, "status": status, "message": message, "artifacts": json.loads(art),
                "seconds": t1 - t0,
            }
            for prefix, blob in (("metric", metrics), ("measure", measures), ("reference", ref)):
                row.update({f"{prefix}.{k}": v for k, v in json.loads(blob).items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def integrity(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])


@contextmanager
def atomic_write(path: Path, mode: str = "w") -> Iterator[Any]:
    """Write ``path`` through a temporary file in the same folder, then rename it into place,
    so a reader (or a crash) never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
