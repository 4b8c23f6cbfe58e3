"""Results store: every attempt kept, ranked from the latest success, migrated, clear errors."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from seqbench.errors import HarnessError, StoreError
from seqbench.results import ModelMeta, TaskMeta
from seqbench.specs import Budget, CurvePoint, JobConfig, JobResult
from seqbench.store import Store, atomic_write, clean_stale_temporaries


def _job(seed: int) -> JobConfig:
    return JobConfig("lstm", "lm-hmm", "cpu", seed, "smoke", Budget(steps=3, batch_size=2), 1e-3)


def test_attempts_are_appended_and_the_latest_success_ranks(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.start_run("r1", ["x"], {"torch": "t"})
        store.record("r1", _job(0), JobResult("error", "boom", traceback="Traceback ...\nValueError: boom"), 0.0)
        store.record("r1", _job(1), JobResult("ok", "", {"ppl": 3.0}, {"params": 5.0}, {"ppl": 2.0}), 0.0)
        store.record("r1", _job(0), JobResult("ok", "", {"ppl": 4.0}), 0.0)  # a retry that succeeds
        store.record("r1", _job(1), JobResult("timeout", "too slow"), 0.0)  # a later failure never replaces
        assert len(store.attempts()) == 4
        frame = store.frame().set_index("seed")
        assert list(frame["status"]) == ["ok", "ok"] and list(frame["metric.ppl"]) == [4.0, 3.0]
        assert frame.loc[1, "later_status"] == "timeout" and frame.loc[1, "later_message"] == "too slow"
        assert frame.loc[0, "later_status"] == "" and frame.loc[1, "best_possible.ppl"] == 2.0
        assert store.attempts().loc[0, "traceback"].endswith("ValueError: boom")
        assert store.succeeded() == {_job(0).hash(), _job(1).hash()}
        assert store.environments()["r1"] == {"torch": "t"}
        assert store.integrity() == "ok"


def test_task_metadata_is_recorded_and_read_back(tmp_path: Path) -> None:
    meta = TaskMeta("t", "acc", (("acc", "max"), ("loss", "min")), "frames", "fam")
    with Store(tmp_path / "s.sqlite") as store:
        store.record_meta({"t": meta}, {"m": ModelMeta("m", True)}, "r1")
        store.record_meta({"t": TaskMeta("t", "loss", (("loss", "min"),), "x")}, {}, "backfill", only_missing=True)
        assert store.tasks() == {"t": meta} and store.models()["m"].baseline
    assert meta.goal == "max" and meta.goal_of("loss") == "min" and meta.metrics == ("acc", "loss")


def test_metric_units_are_recorded_and_older_rows_read_without_them(tmp_path: Path) -> None:
    meta = TaskMeta("t", "mae", (("mae", "min"), ("f1", "max")), "steps", "fam", (("mae", "mph"),))
    with Store(tmp_path / "s.sqlite") as store:
        store.record_meta({"t": meta}, {}, "r1")
        assert store.tasks()["t"] == meta and store.tasks()["t"].unit_of("f1") == ""
        # rows written before metric units held [metric, goal] pairs
        store.db.execute("UPDATE tasks SET goals=? WHERE task='t'", ('[["mae", "min"], ["f1", "max"]]',))
        old = store.tasks()["t"]
    assert old.goals == meta.goals and old.unit_of("mae") == ""


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (run_id TEXT PRIMARY KEY, started REAL NOT NULL, finished REAL, argv TEXT NOT NULL,
                   environment TEXT NOT NULL);
CREATE TABLE jobs (config_hash TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id), model TEXT NOT NULL,
    task TEXT NOT NULL, device TEXT NOT NULL, seed INTEGER NOT NULL, preset TEXT NOT NULL, status TEXT NOT NULL,
    message TEXT NOT NULL, config TEXT NOT NULL, metrics TEXT NOT NULL, measures TEXT NOT NULL,
    reference TEXT NOT NULL, artifacts TEXT NOT NULL, started REAL NOT NULL, finished REAL NOT NULL);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO runs VALUES ('r0', 1.0, 2.0, '[]', '{"cpu": "Xeon"}');
"""


def write_v1_store(path: Path, rows: int = 3) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(V1_SCHEMA)
        for seed in range(rows):
            db.execute("INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (_job(seed).hash(), "r0", "lstm", "lm-hmm", "cpu", seed, "smoke", "ok", "", "{}",
                        json.dumps({"perplexity": 10.0 + seed}), json.dumps({"params": 7.0}),
                        json.dumps({"perplexity": 9.0}), "[]", 1.0, 1.5 + seed))
    db.close()


def test_a_version_1_store_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    write_v1_store(path)
    with Store(path) as store:
        frame = store.frame()
        assert len(frame) == 3 and sorted(frame["metric.perplexity"]) == [10.0, 11.0, 12.0]
        assert set(frame["best_possible.perplexity"]) == {9.0} and set(frame["run_id"]) == {"r0"}
        assert store.succeeded() == {_job(s).hash() for s in range(3)}
        assert store.environments() == {"r0": {"cpu": "Xeon"}}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta").fetchone()[0] == "3"
        assert db.execute("SELECT outcome FROM runs").fetchone()[0] == "finished"
    db.close()


def test_learning_curves_are_kept_per_attempt_and_a_version_2_store_gains_the_table(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with Store(path) as store:  # make it a version-2 store: no curves table
        store.start_run("r1", ["x"], {})
        store.record("r1", _job(0), JobResult("ok", "", {"ppl": 4.0}), 0.0)
        store.db.execute("DROP TABLE curves")
        store.db.execute("UPDATE meta SET value='2' WHERE key='schema_version'")
    with Store(path) as store:
        assert store.curves().empty and len(store.attempts()) == 1  # migrated: the old attempt has no curve
        curve = (CurvePoint(5, 0.5, 2.5), CurvePoint(10, 1.0, 2.0, 7.5))
        store.record("r1", _job(1), JobResult("ok", "", {"ppl": 3.0}, curve=curve), 0.0)
        points = store.curves()
        assert list(points["attempt"]) == [2, 2] and list(points["step"]) == [5, 10]
        assert list(points["train_loss"]) == [2.5, 2.0] and points["val_metric"].isna().tolist() == [True, False]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta").fetchone()[0] == "3"
    db.close()


def test_newer_or_foreign_or_broken_stores_are_refused_untouched(tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    Store(newer).close()
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.close()
    with pytest.raises(StoreError, match="schema version 99; this seqbench reads versions 1 to 3"):
        Store(newer)
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE jobs (x)")
    db.close()
    with pytest.raises(StoreError, match=r"without seqbench's meta table \(tables: jobs\)"):
        Store(foreign)
    with sqlite3.connect(foreign) as db:  # never silently stamped as a seqbench store
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master")] == ["jobs"]
    db.close()
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"junk\.sqlite: not an SQLite database"):
        Store(junk)
    with pytest.raises(HarnessError, match="no such folder"):
        Store(tmp_path / "missing" / "s.sqlite")


def test_atomic_write_leaves_nothing_half_written_and_honours_the_umask(tmp_path: Path) -> None:
    target = tmp_path / "leaderboard.md"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["leaderboard.md"]
    old = os.umask(0o022)
    try:
        with atomic_write(target) as handle:
            handle.write("new")
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644


def test_stale_temporaries_are_cleaned(tmp_path: Path) -> None:
    (tmp_path / "plots").mkdir()
    stale = [tmp_path / ".leaderboard.md.abc123.tmp", tmp_path / "plots" / ".pareto.png.x.tmp"]
    for path in stale:
        path.write_text("half")
    (tmp_path / "keep.tmp").write_text("not ours")
    assert sorted(clean_stale_temporaries(tmp_path)) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tmp", "plots"]


def test_the_committed_results_rank_as_committed(tmp_path: Path) -> None:
    """The repository's store (whatever schema version it was committed at) opens, migrates in
    place and ranks exactly as its committed leaderboard.csv says."""
    import shutil

    import pandas as pd

    from seqbench.cli import main

    results = Path(__file__).resolve().parent.parent / "results"
    shutil.copy(results / "seqbench.sqlite", tmp_path / "seqbench.sqlite")
    assert main(["leaderboard", "--output", str(tmp_path)]) == 0
    keys = ["preset", "task", "model"]
    old = pd.read_csv(results / "leaderboard.csv").set_index(keys).sort_index()
    new = pd.read_csv(tmp_path / "leaderboard.csv").set_index(keys).sort_index()
    assert list(new.index) == list(old.index)
    assert (new["rank"] == old["rank"]).all() and (new["tied"] == old["tied"]).all()
    assert ((new["mean"] - old["mean"]).abs() <= 1e-9 * old["mean"].abs()).all()
