"""Results store: SQLite (standard library), one transaction per attempt, every attempt kept.

Attempts are appended, never replaced: a rerun that fails (a shorter ``--timeout``, a data
file gone bad) adds a failed attempt beside the good one, and ranking keeps using the latest
successful attempt of each config (see :meth:`Store.frame`). The schema is created or
migrated in one write transaction, so two processes opening a new store at once cannot
collide; WAL journaling keeps the file consistent if a process is killed at any moment and
lets reports be read while a run writes. Reports are always regenerated from here.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from seqbench import schema
from seqbench.errors import HarnessError, StoreError
from seqbench.files import atomic_write, clean_stale_temporaries, io_fault
from seqbench.results import ModelMeta, TaskMeta
from seqbench.specs import JobConfig, JobResult

__all__ = ["Store", "atomic_write", "clean_stale_temporaries", "io_fault", "ranked_attempts"]
_OPEN_RETRIES = 20


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise HarnessError(f"{self.path.parent}: no such folder")
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)  # transactions are explicit
        except sqlite3.Error as exc:
            raise io_fault(self.path, exc) from exc
        try:
            self._open()
        except sqlite3.Error as exc:
            self.db.close()
            raise io_fault(self.path, exc) from exc
        except BaseException:
            self.db.close()
            raise

    def _open(self) -> None:
        """Create or migrate the schema in one write transaction, then switch to WAL. Processes
        opening a new store at the same moment can still meet SQLITE_BUSY where SQLite skips
        its busy handler (a journal-mode change racing a first read): retry those briefly."""
        for attempt in range(_OPEN_RETRIES):
            try:
                self.db.execute("BEGIN IMMEDIATE")
                try:
                    self._open_schema()
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
                self.db.execute("COMMIT")
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == _OPEN_RETRIES - 1:
                    raise
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                time.sleep(0.02 * (attempt + 1))

    def _open_schema(self) -> None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            schema.create(self.db)
            return
        if "meta" not in tables:
            found = ", ".join(sorted(tables))
            raise StoreError(f"{self.path}: an SQLite database without seqbench's meta table (tables: {found}), "
                             "so not a seqbench store; move it away or pass another --output")
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(row[0]) if row and str(row[0]).isdigit() else None
        if version in schema.MIGRATIONS:
            schema.MIGRATIONS[version](self.db)
        elif version != schema.SCHEMA_VERSION:
            raise StoreError(f"{self.path}: store schema version {row[0] if row else 'missing'}; this seqbench reads "
                             f"versions 1 to {schema.SCHEMA_VERSION} (a newer seqbench wrote it: upgrade seqbench)")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so concurrent writers queue
        on the busy timeout instead of failing half-way; SQLite faults become one line."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise io_fault(self.path, exc) from exc

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- writes -------------------------------------------------------------------------
    def start_run(self, run_id: str, argv: list[str], environment: dict[str, Any]) -> None:
        with self._transaction():
            self.db.execute("INSERT INTO runs (run_id, started, argv, environment) VALUES (?, ?, ?, ?)",
                            (run_id, time.time(), json.dumps(argv), json.dumps(environment, sort_keys=True)))

    def finish_run(self, run_id: str, outcome: str = "finished") -> None:
        with self._transaction():
            self.db.execute("UPDATE runs SET finished=?, outcome=? WHERE run_id=?", (time.time(), outcome, run_id))

    def record_meta(self, tasks: Mapping[str, TaskMeta], models: Mapping[str, ModelMeta], recorded_by: str,
                    only_missing: bool = False) -> None:
        """What ranking and rendering need, per task and model (the latest run's specs win;
        ``only_missing`` fills gaps only, as for stores migrated from version 1)."""
        verb = "INSERT OR IGNORE" if only_missing else "INSERT OR REPLACE"
        with self._transaction():
            self.db.executemany(f"{verb} INTO tasks VALUES (?,?,?,?,?,?)", [
                (t.name, t.primary, json.dumps([[m, g, t.unit_of(m)] for m, g in t.goals]), t.unit, t.family,
                 recorded_by)
                for t in tasks.values()])
            self.db.executemany(f"{verb} INTO models VALUES (?,?,?)",
                                [(m.name, int(m.baseline), recorded_by) for m in models.values()])

    def record(self, run_id: str, config: JobConfig, result: JobResult, started: float) -> None:
        """Append one attempt in a single transaction."""
        with self._transaction():
            self.db.execute(
                "INSERT INTO attempts (config_hash, run_id, model, task, device, seed, preset, status, message, "
                "traceback, config, metrics, measures, best_possible, artifacts, started, finished) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (config.hash(), run_id, config.model, config.task, config.device, config.seed, config.preset,
                 result.status, result.message, getattr(result, "traceback", ""),
                 json.dumps(config.to_dict(), sort_keys=True), json.dumps(result.metrics),
                 json.dumps(result.measures), json.dumps(result.reference), json.dumps(result.artifacts),
                 started, time.time()),
            )
            if result.curve:
                attempt = self.db.execute("SELECT last_insert_rowid()").fetchone()[0]
                self.db.executemany("INSERT INTO curves VALUES (?,?,?,?,?)", [
                    (attempt, p.step, p.seconds, p.train_loss, p.val_metric) for p in result.curve])

    # -- reads --------------------------------------------------------------------------
    def succeeded(self) -> set[str]:
        """Config hashes with at least one attempt of status ``ok``."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT config_hash FROM attempts WHERE status='ok'")}

    def environments(self) -> dict[str, dict[str, Any]]:
        return {r[0]: json.loads(r[1]) for r in self.db.execute("SELECT run_id, environment FROM runs")}

    def tasks(self) -> dict[str, TaskMeta]:
        rows = self.db.execute("SELECT task, primary_metric, goals, unit, family FROM tasks")
        return {r[0]: _task_meta(*r) for r in rows}

    def models(self) -> dict[str, ModelMeta]:
        return {r[0]: ModelMeta(r[0], bool(r[1])) for r in self.db.execute("SELECT model, baseline FROM models")}

    def state(self) -> str:
        """Which state of the store a report reflects: attempt count and the latest attempt."""
        count, last, when = self.db.execute("SELECT COUNT(*), MAX(attempt), MAX(finished) FROM attempts").fetchone()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when)) if when else "never"
        return f"{count} attempts, latest #{last or 0} finished {stamp}"

    def attempts(self) -> pd.DataFrame:
        """Every attempt, oldest first, with ``metric.*``, ``measure.*`` and ``best_possible.*`` columns."""
        cursor = self.db.execute(
            "SELECT attempt, config_hash, run_id, model, task, device, seed, preset, status, message, traceback, "
            "metrics, measures, best_possible, artifacts, started, finished FROM attempts ORDER BY attempt")
        rows = []
        for (n, h, run, model, task, device, seed, preset, status, message, tb, metrics, measures, best, art, t0,
             t1) in cursor:
            row: dict[str, Any] = {
                "attempt": n, "config_hash": h, "run_id": run, "model": model, "task": task, "device": device,
                "seed": seed, "preset": preset, "status": status, "message": message, "traceback": tb,
                "artifacts": json.loads(art), "seconds": t1 - t0,
            }
            for prefix, blob in (("metric", metrics), ("measure", measures), ("best_possible", best)):
                row.update({f"{prefix}.{k}": v for k, v in json.loads(blob).items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def curves(self) -> pd.DataFrame:
        """Every learning-curve point: ``attempt, step, seconds, train_loss, val_metric``
        (``val_metric`` NaN where the loop did not evaluate)."""
        return pd.read_sql_query("SELECT attempt, step, seconds, train_loss, val_metric FROM curves "
                                 "ORDER BY attempt, step", self.db)

    def frame(self) -> pd.DataFrame:
        """One row per config: its latest successful attempt, or its latest attempt when none
        succeeded. ``later_status`` / ``later_message`` name a failed attempt made after the
        successful one that is ranked (empty when there is none)."""
        return ranked_attempts(self.attempts())

    def integrity(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])


def ranked_attempts(attempts: pd.DataFrame) -> pd.DataFrame:
    """See :meth:`Store.frame`."""
    if attempts.empty:
        return attempts
    rows = []
    for _, group in attempts.groupby("config_hash", sort=False):
        latest = group.iloc[-1]
        ok = group[group["status"] == "ok"]
        chosen = ok.iloc[-1] if not ok.empty else latest
        row = chosen.copy()
        later = latest["attempt"] != chosen["attempt"]
        row["later_status"] = latest["status"] if later else ""
        row["later_message"] = latest["message"] if later else ""
        row["attempts"] = len(group)
        rows.append(row)
    frame = pd.DataFrame(rows).sort_values(["task", "model", "device", "seed", "preset"], kind="stable")
    return frame.reset_index(drop=True)


def _task_meta(task: str, primary: str, goals: str, unit: str, family: str) -> TaskMeta:
    """A ``tasks`` row: goals are ``[metric, goal, unit]`` (``[metric, goal]`` before metric units)."""
    entries = [(str(e[0]), str(e[1]), str(e[2]) if len(e) > 2 else "") for e in json.loads(goals)]
    return TaskMeta(task, primary, tuple((m, g) for m, g, _ in entries), unit, family,
                    tuple((m, u) for m, _, u in entries if u))
