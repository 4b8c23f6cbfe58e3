"""The store's schema, its version, and the migration of older stores (in place, one transaction).

Version 3 (this one) adds ``curves``: the learning curve of each attempt (training loss and
validation metric against steps and seconds), one row per point. Migrating from version 2
adds the empty table: older attempts simply have no curve.

Version 2: every attempt of a job is a row of ``attempts`` (append-only, with its
run id and the traceback of a failure); ``tasks`` and ``models`` hold what ranking and
rendering need (primary metric, direction of every metric, unit, baseline flag), recorded
when a run starts, so reports never depend on the plugins installed today.

Version 1 kept one row per config hash in ``jobs`` (a rerun replaced it) and a ``reference``
column for the best possible score. Migrating turns every such row into an attempt (nothing
is dropped) and renames ``reference`` to ``best_possible``; the task and model metadata a v1
store never had are filled from the installed plugins the first time reports are written.
"""

from __future__ import annotations

import sqlite3

SCHEMA_VERSION = 3

TABLES = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, started REAL NOT NULL, finished REAL,
    outcome TEXT NOT NULL DEFAULT 'running',  -- running (or killed) | finished | interrupted | fault
    argv TEXT NOT NULL, environment TEXT NOT NULL
);
CREATE TABLE attempts (
    attempt INTEGER PRIMARY KEY AUTOINCREMENT,
    config_hash TEXT NOT NULL, run_id TEXT NOT NULL REFERENCES runs(run_id),
    model TEXT NOT NULL, task TEXT NOT NULL, device TEXT NOT NULL, seed INTEGER NOT NULL,
    preset TEXT NOT NULL, status TEXT NOT NULL, message TEXT NOT NULL, traceback TEXT NOT NULL DEFAULT '',
    config TEXT NOT NULL, metrics TEXT NOT NULL, measures TEXT NOT NULL,
    best_possible TEXT NOT NULL, artifacts TEXT NOT NULL,
    started REAL NOT NULL, finished REAL NOT NULL
);
CREATE INDEX attempts_by_config ON attempts (config_hash, attempt);
CREATE TABLE tasks (
    task TEXT PRIMARY KEY, primary_metric TEXT NOT NULL,
    -- JSON [[metric, "min" | "max", unit], ...] in the task's order, primary first
    -- (unit "" when the metric has none, and rows written before metric units hold [metric, goal])
    goals TEXT NOT NULL,
    unit TEXT NOT NULL, family TEXT NOT NULL, recorded_by TEXT NOT NULL
);
CREATE TABLE models (model TEXT PRIMARY KEY, baseline INTEGER NOT NULL, recorded_by TEXT NOT NULL);
"""
CURVES = """
CREATE TABLE curves (
    attempt INTEGER NOT NULL REFERENCES attempts(attempt), step INTEGER NOT NULL, seconds REAL NOT NULL,
    train_loss REAL NOT NULL, val_metric REAL,  -- NULL where the loop did not evaluate at this step
    PRIMARY KEY (attempt, step)
)
"""

_ATTEMPT_COLUMNS = ("config_hash, run_id, model, task, device, seed, preset, status, message, config, metrics, "
                    "measures, {best}, artifacts, started, finished")


def create(db: sqlite3.Connection) -> None:
    """A fresh store; call inside the caller's write transaction."""
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    for statement in TABLES.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(CURVES)
    db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def migrate_v1(db: sqlite3.Connection) -> None:
    """v1 -> v2 in place; call inside the caller's write transaction (all or nothing)."""
    db.execute("ALTER TABLE runs RENAME TO runs_v1")
    for statement in TABLES.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("INSERT INTO runs (run_id, started, finished, outcome, argv, environment) "
               "SELECT run_id, started, finished, CASE WHEN finished IS NULL THEN 'running' ELSE 'finished' END, "
               "argv, environment FROM runs_v1")
    # oldest first, so attempt ids follow the order the jobs finished in
    db.execute(f"INSERT INTO attempts ({_ATTEMPT_COLUMNS.format(best='best_possible')}) "
               f"SELECT {_ATTEMPT_COLUMNS.format(best='reference')} FROM jobs ORDER BY finished, config_hash")
    db.execute("DROP TABLE jobs")
    db.execute("DROP TABLE runs_v1")
    migrate_v2(db)


def migrate_v2(db: sqlite3.Connection) -> None:
    """v2 -> v3 in place: the curves table (attempts recorded before it have no curve)."""
    db.execute(CURVES)
    db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))


MIGRATIONS = {1: migrate_v1, 2: migrate_v2}
