"""Every class of bad input and harness fault: one line naming the thing, the documented exit status.

Exit statuses: 2 usage or bad input, 3 harness or I/O fault (see seqbench.errors). Data files
are checked at their loaders: one line naming the file, never a C stack or advice to load an
untrusted file with ``allow_pickle``; DCRNN's pickle is read without running its code.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import warnings
from pathlib import Path

import numpy as np
import pytest
from seqbench_plugins.tasks.nowcasting import loader as nowcast_loader
from seqbench_plugins.tasks.traffic import data as traffic_data

from seqbench.cli import main
from seqbench.errors import DataWarning
from seqbench.lock import output_lock
from seqbench.store import Store

RUN = ["run", "--preset", "smoke", "--models", "unigram", "--tasks", "lm-hmm"]


def _fails(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err  # one line, no traceback
    return code, err


@pytest.mark.parametrize(("extra", "message"), [
    (["--timeout", "0"], "--timeout must be a positive number of seconds, got 0"),
    (["--timeout", "-5"], "--timeout must be a positive number of seconds, got -5"),
    (["--timeout", "nan"], "--timeout must be a positive number of seconds, got nan"),
    (["--threads", "0"], "--threads must be at least 1"),
    (["--data", "trafic=/tmp"], "no task reads data key 'trafic'; did you mean 'traffic'? known keys: "),
    (["--data", "traffic=/nonexistent/metr"], "--data traffic=/nonexistent/metr: no such file or directory"),
])
def test_bad_options_exit_2(extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _fails([*RUN, *extra], capsys)
    assert code == 2 and message in err


def test_empty_data_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _fails([*RUN, "--data", f"moving-mnist={tmp_path}"], capsys)
    assert code == 2 and f"moving-mnist={tmp_path}: the directory is empty (read by moving-mnist)" in err


def test_every_data_key_is_listed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "tasks"]) == 0
    table = capsys.readouterr().out
    for key in ("ptb", "wikitext2", "text", "moving-mnist", "traffic, traffic-adj-pickle", "python_src"):
        assert key in table


def _store(tmp_path: Path, content: str) -> Path:
    path = tmp_path / "seqbench.sqlite"
    if content == "junk":
        path.write_bytes(b"definitely not SQLite" * 64)
    else:
        Store(path).close()
        db = sqlite3.connect(path)
        db.execute("DROP TABLE meta" if content == "no-meta" else "UPDATE meta SET value='7'")
        db.commit()
        db.close()
    return path


@pytest.mark.parametrize(("content", "message"), [
    ("junk", "not an SQLite database, so not a seqbench store; move it away or pass another --output"),
    ("no-meta", "without seqbench's meta table"),
    ("newer", "store schema version 7; this seqbench reads versions 1 to 3"),
])
def test_bad_stores_exit_3(content: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _store(tmp_path, content)
    before = path.read_bytes()
    for command in (["leaderboard", "--output", str(tmp_path)], [*RUN, "--output", str(tmp_path)]):
        code, err = _fails(command, capsys)
        assert code == 3 and str(path) in err and message in err
    assert path.read_bytes() == before  # never stamped or migrated by a refusal


def test_report_path_taken_by_a_folder_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Store(tmp_path / "seqbench.sqlite").close()
    (tmp_path / "leaderboard.md").mkdir()
    code, err = _fails(["leaderboard", "--output", str(tmp_path)], capsys)
    assert code == 3 and f"{tmp_path / 'leaderboard.md'}: cannot write a report" in err
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_second_run_into_a_locked_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with output_lock(tmp_path):
        code, err = _fails([*RUN, "--output", str(tmp_path)], capsys)
    assert code == 3 and f"another seqbench run (pid {os.getpid()}) is writing to {tmp_path}" in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Store(tmp_path / "seqbench.sqlite").close()
    tmp_path.chmod(0o555)
    try:
        code, err = _fails(["leaderboard", "--output", str(tmp_path)], capsys)
    finally:
        tmp_path.chmod(0o755)
    assert code == 3 and "not writable" in err


# -- data files -----------------------------------------------------------------------------
def test_h5_that_is_not_hdf5_or_truncated(tmp_path: Path) -> None:
    fake = tmp_path / "metr-la.h5"
    fake.write_text("sensor,speed\n1,60\n")
    with pytest.raises(ValueError, match=r"metr-la\.h5: not an HDF5 file") as info:
        traffic_data.load_h5_speeds(fake)
    assert "\n" not in str(info.value)
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables")
    real = tmp_path / "real" / "metr-la.h5"
    real.parent.mkdir()
    frame = pd.DataFrame(np.ones((300, 3)), index=pd.date_range("2024-01-01", periods=300, freq="5min"),
                         columns=["a", "b", "c"])
    frame.to_hdf(real, key="df")
    real.write_bytes(real.read_bytes()[: real.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"metr-la\.h5: unreadable HDF5 file, truncated or damaged") as info:
        traffic_data.load_h5_speeds(real)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content", [b"PK\x03\x04truncated", b"x,y\n1,2\n", pickle.dumps({"x": 1})])
def test_bad_npz_names_the_file_and_never_suggests_allow_pickle(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "train.npz").write_bytes(content)
    with pytest.raises(ValueError, match=r"train\.npz: ") as info:
        traffic_data.load_npz_windows(tmp_path, 12, 12)
    assert "allow_pickle" not in str(info.value) and "\n" not in str(info.value)


def test_pickled_npy_never_suggests_allow_pickle(tmp_path: Path) -> None:
    np.save(tmp_path / nowcast_loader.FILE_NAME, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"mnist_test_seq\.npy: not a readable \.npy array") as info:
        nowcast_loader.load_moving_mnist(tmp_path)
    assert "allow_pickle" not in str(info.value)


class Malicious:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.target}",))

    def __init__(self, target: Path) -> None:
        self.target = target


def test_malicious_graph_pickle_does_not_run(tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    evil = tmp_path / "adj_mx.pkl"
    evil.write_bytes(pickle.dumps((["a"], {"a": 0}, Malicious(pwned)), protocol=2))
    with pytest.raises(ValueError, match=r"adj_mx\.pkl: cannot read the DCRNN sensor-graph pickle: refused to "
                                         r"load posix\.system"):
        traffic_data.load_adj_pickle(evil)
    assert not pwned.exists()
    good = tmp_path / "good.pkl"
    adj = np.eye(2, dtype=np.float32)
    good.write_bytes(pickle.dumps((["a", "b"], {"a": 0, "b": 1}, adj), protocol=2))
    graph = traffic_data.load_adj_pickle(good)
    assert graph.sensor_ids == ("a", "b") and np.array_equal(graph.adjacency, adj)


def test_fewer_sensors_than_the_graph_says_so() -> None:
    graph = traffic_data.shipped_graph("metr-la")
    ids = list(graph.sensor_ids[:5])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        adj = traffic_data.match_graph(ids, graph, "metr-la.h5")
    assert adj.shape == (5, 5)
    assert [str(w.message) for w in caught if w.category is DataWarning] == [
        "metr-la.h5: 5 of the graph's 207 sensors; running on that 5-sensor subgraph"]
