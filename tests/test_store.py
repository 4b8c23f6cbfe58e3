"""Results store: one row per config, resumable, consistent, clear errors."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from seqbench.specs import Budget, JobConfig, JobResult
from seqbench.store import Store, StoreError, atomic_write


def _job(seed: int) -> JobConfig:
    return JobConfig("lstm", "lm-hmm", "cpu", seed, "smoke", Budget(steps=3, batch_size=2), 1e-3)


def test_record_replace_and_frame(tmp_path: Path) -> None:
    with Store(tmp_path / "s.sqlite") as store:
        store.start_run("r1", ["x"], {"torch": "t"})
        store.record("r1", _job(0), JobResult("error", "boom"), 0.0)
        store.record("r1", _job(1), JobResult("ok", "", {"ppl": 3.0}, {"params": 5.0}, {"ppl": 2.0}), 0.0)
        store.record("r1", _job(0), JobResult("ok", "", {"ppl": 4.0}), 0.0)  # a retry replaces, never duplicates
        frame = store.frame()
        assert len(frame) == 2
        assert sorted(frame["metric.ppl"]) == [3.0, 4.0]
        assert frame.loc[frame.seed == 1, "reference.ppl"].item() == 2.0
        assert store.succeeded() == {_job(0).hash(), _job(1).hash()}
        assert store.environments()["r1"] == {"torch": "t"}
        assert store.integrity() == "ok"


def test_schema_version_and_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(StoreError, match="schema version 99"):
        Store(path)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"junk\.sqlite is not a readable seqbench store"):
        Store(junk)


def test_config_hash_changes_with_config() -> None:
    assert _job(0).hash() == _job(0).hash()
    assert _job(0).hash() != _job(1).hash()


def test_atomic_write_leaves_nothing_half_written(tmp_path: Path) -> None:
    target = tmp_path / "leaderboard.md"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("half")
        raise RuntimeError("crash mid-write")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["leaderboard.md"]
