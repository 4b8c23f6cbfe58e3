"""Traffic family: simulator, masked metrics, baselines, graph models and real-format loaders."""

from __future__ import annotations

import builtins
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from seqbench_plugins.models.dcrnn import DCRNN
from seqbench_plugins.models.dcrnn import SIZES as DCRNN_SIZES
from seqbench_plugins.models.stgcn import SIZES as STGCN_SIZES
from seqbench_plugins.models.stgcn import STGCN
from seqbench_plugins.models.traffic_baselines import HistoricalAverage, LastValue
from seqbench_plugins.tasks.traffic import BUDGETS
from seqbench_plugins.tasks.traffic import data as traffic_data
from seqbench_plugins.tasks.traffic.metrics import MaskedHorizonMetrics
from seqbench_plugins.tasks.traffic.sim import STEPS_PER_DAY, SimConfig, simulate, synthetic_graph

from seqbench.manager import get_registry
from seqbench.signatures import GraphProblem
from seqbench.specs import JobConfig, RunOptions, TaskContext
from seqbench.testing import assert_pair_runs
from seqbench.train import run_job

N = 6


def _problem(n: int = N) -> GraphProblem:
    return GraphProblem(n, 4, 1, 12, 12, synthetic_graph(n, 0))


def test_shipped_graphs_and_licence() -> None:
    g = traffic_data.shipped_graph("metr-la")
    assert len(g.sensor_ids) == 207 and g.adjacency.shape == (207, 207)
    assert traffic_data.shipped_graph("pems-bay").adjacency.shape == (325, 325)
    assert (traffic_data.GRAPH_DIR / "LICENSE-DCRNN.txt").is_file()


def test_simulation_is_deterministic_with_missing_zeros() -> None:
    adj = synthetic_graph(12, 0)
    a, b = simulate(adj, SimConfig(days=2), 3), simulate(adj, SimConfig(days=2), 3)
    assert np.array_equal(a.speed, b.speed) and a.speed.shape == (2 * STEPS_PER_DAY, 12)
    missing = (a.speed == 0).mean()
    assert 0.005 < missing < 0.3
    assert not np.array_equal(a.speed, simulate(adj, SimConfig(days=2), 4).speed)


def test_congestion_spills_back_upstream() -> None:
    # a chain 0 -> 1 -> 2: a jam at node 2 (downstream) reaches node 1 later, not the reverse
    adj = np.eye(3, dtype=np.float32) + np.diag([1.0, 1.0], 1).astype(np.float32)
    sim = simulate(adj, SimConfig(days=7, incidents_per_node_day=3.0, outages_per_node_day=0, drop_rate=0,
                                  network_gaps_per_day=0), 0)
    s, lag = sim.speed, 6
    upstream_follows = np.corrcoef(s[lag:, 1], s[:-lag, 2])[0, 1]  # node 1 now vs node 2 half an hour ago
    downstream_follows = np.corrcoef(s[lag:, 2], s[:-lag, 1])[0, 1]
    assert upstream_follows > downstream_follows + 0.1


def test_masked_metrics_pool_the_whole_split_not_batch_means() -> None:
    metrics = MaskedHorizonMetrics(12)
    target = torch.full((1, 12, 2), 10.0)
    target[0, :, 1] = 0.0  # missing: excluded
    metrics.update(target + 2.0, target)
    big = torch.full((3, 12, 2), 20.0)
    metrics.update(big, big)  # 6 exact entries per horizon
    out = metrics.compute()
    assert out["mae@60min"] == pytest.approx(2.0 / 7)  # a mean of batch means would give 1.0
    assert out["rmse@15min"] == pytest.approx((4.0 / 7) ** 0.5)
    assert out["mape@all"] == pytest.approx(100 * 0.2 / 7)
    with pytest.raises(ValueError, match="expected both"):
        metrics.update(torch.zeros(1, 11, 2), torch.zeros(1, 11, 2))


def test_last_value_skips_missing_readings() -> None:
    x = torch.zeros(1, 12, N, 4)
    x[0, :, :, 0] = torch.arange(12.0)[:, None]
    x[0, :, :, 3] = 1.0
    x[0, 10:, 0, 3] = 0.0  # node 0 lost its last two readings
    x[0, :, 1, 3] = 0.0  # node 1 never observed -> training mean (0)
    y = LastValue(_problem())(x)[0, :, :, 0]
    assert y.shape == (12, N) and (y[:, 0] == 9).all() and (y[:, 1] == 0).all() and (y[:, 2] == 11).all()


def test_historical_average_uses_time_of_week() -> None:
    ha = HistoricalAverage(_problem())
    x = torch.zeros(2, 12, N, 4)
    x[0, -1, :, 1] = 10 / STEPS_PER_DAY  # Monday, forecasts for slots 11..22
    x[1, -1, :, 1], x[1, -1, :, 2] = 10 / STEPS_PER_DAY, 2 / 7  # Wednesday, same slots
    y = torch.stack([torch.full((12, N), 1.0), torch.full((12, N), 3.0)])
    raw = torch.ones_like(y)
    ha.fit([(x, y, raw)])
    out = ha(x)[..., 0]
    assert torch.allclose(out[0], torch.ones(12, N)) and torch.allclose(out[1], torch.full((12, N), 3.0))
    x[0, -1, :, 2] = 4 / 7  # Friday never seen: same time of day on any day
    assert torch.allclose(ha(x)[0, ..., 0], torch.full((12, N), 2.0))


@pytest.mark.parametrize("model", ["dcrnn", "stgcn"])
def test_graph_models_shapes_and_bad_input(model: str) -> None:
    problem = _problem()
    net = DCRNN(problem, DCRNN_SIZES["smoke"]) if model == "dcrnn" else STGCN(problem, STGCN_SIZES["smoke"])
    out = net(torch.randn(3, 12, N, 4))
    assert out.shape == (3, 12, N, 1)
    with pytest.raises(ValueError, match="expected"):
        net(torch.randn(3, 12, N + 1, 4))


def test_dcrnn_scheduled_sampling_counts_steps() -> None:
    net = DCRNN(_problem(), DCRNN_SIZES["smoke"]).train()
    x, targets = torch.randn(2, 12, N, 4), torch.randn(2, 12, N, 1)
    net(x, targets=targets)
    net(x, targets=targets)
    assert int(net.steps_seen.item()) == 2
    net.eval()
    net(x, targets=targets)  # inference never looks at the truth
    assert int(net.steps_seen.item()) == 2


def test_graph_models_reject_bad_adjacency() -> None:
    with pytest.raises(ValueError, match=r"expected \(6, 6\)"):
        DCRNN(GraphProblem(N, 4, 1, 12, 12, np.eye(5)), DCRNN_SIZES["smoke"])


@pytest.mark.parametrize("model", ["dcrnn", "stgcn", "historical-average", "last-value", "gru"])
def test_pairs_run_at_smoke(model: str) -> None:
    assert_pair_runs(model, "traffic-metr-la")


# -- real formats -----------------------------------------------------------------------------
def _speeds(ids: list[str], steps: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    index = pd.date_range("2012-03-01", periods=steps, freq="5min")
    values = rng.uniform(20, 70, (steps, len(ids))).astype(np.float32)
    values[rng.random(values.shape) < 0.05] = 0.0
    return pd.DataFrame(values, index=index, columns=ids)


def _real_task(directory: Path, **extra: str) -> Any:
    spec = get_registry().task("traffic-real")
    return spec.build(TaskContext("smoke", {"traffic": str(directory), **extra}))


def test_h5_loader_matches_shipped_graph_by_sensor_id(tmp_path: Path) -> None:
    pytest.importorskip("tables")
    ids = list(traffic_data.shipped_graph("metr-la").sensor_ids)
    df = _speeds(ids[::-1]).drop(index=pd.Timestamp("2012-03-01 01:00"))  # a gap in the index
    df.to_hdf(tmp_path / "metr-la.h5", key="df")
    task = _real_task(tmp_path)
    full = traffic_data.shipped_graph("metr-la").adjacency
    assert np.array_equal(task.adjacency, full[::-1, ::-1])
    ids_read, sim = traffic_data.load_h5_speeds(tmp_path / "metr-la.h5")
    assert ids_read == ids[::-1] and len(sim.speed) == 400 and (sim.speed[12] == 0).all()
    assert sim.time_of_day[12] == pytest.approx(1 / 24) and sim.day_of_week[0] == 3  # a Thursday
    assert task.evaluate(LastValue(task.problem(task.spec.accepts[0])), "test", torch.device("cpu"))["mae@60min"] > 0


def test_h5_missing_key_and_missing_pytables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("tables")
    _speeds(["a", "b"]).to_hdf(tmp_path / "pems-bay.h5", key="df")  # PEMS-BAY uses key 'speed'
    with pytest.raises(KeyError, match="'speed'"):
        traffic_data.load_h5_speeds(tmp_path / "pems-bay.h5")
    real_import = builtins.__import__

    def no_tables(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "tables":
            raise ImportError("No module named 'tables'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tables)
    with pytest.raises(ImportError, match=r"seqbench\[hdf\]"):
        traffic_data.load_h5_speeds(tmp_path / "pems-bay.h5")


def test_adj_pickle_only_when_named(tmp_path: Path) -> None:
    pytest.importorskip("tables")
    ids = ["s1", "s2", "s3"]
    _speeds(ids).to_hdf(tmp_path / "metr-la.h5", key="df")
    with pytest.raises(ValueError, match="traffic-adj-pickle"):
        _real_task(tmp_path)  # unknown sensors and no pickle named: refuse, never unpickle silently
    adj = np.array([[1, 0.5, 0], [0, 1, 0.7], [0.2, 0, 1]], np.float32)
    pkl = tmp_path / "adj_mx.pkl"
    pkl.write_bytes(pickle.dumps((ids, {s: i for i, s in enumerate(ids)}, adj), protocol=2))
    task = _real_task(tmp_path, **{"traffic-adj-pickle": str(pkl)})
    assert np.array_equal(task.adjacency, adj)
    pkl.write_bytes(pickle.dumps((ids, {}, np.eye(2)), protocol=2))
    with pytest.raises(ValueError, match=r"expected \(3, 3\)"):
        traffic_data.load_adj_pickle(pkl)


def test_npz_windows_loader_and_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", 30), ("val", 8), ("test", 10)):
        tod = np.tile(np.arange(12) / 288, (n, 207, 1)).transpose(0, 2, 1)
        x = np.stack([rng.uniform(10, 70, (n, 12, 207)), tod], -1)
        np.savez(tmp_path / f"{split}.npz", x=x, y=x.copy())
    task = _real_task(tmp_path)
    assert task.adjacency.shape == (207, 207) and len(task.splits["test"]) == 10
    assert_runs = task.evaluate(LastValue(task.problem(task.spec.accepts[0])), "test", torch.device("cpu"))
    assert np.isfinite(assert_runs["mae@all"])
    registry = get_registry()
    config = JobConfig("dcrnn", "traffic-real", "cpu", 0, "smoke", BUDGETS["smoke"], 1e-3,
                       RunOptions(measure=False), (("traffic", str(tmp_path)),))
    result = run_job(config, registry.model("dcrnn"), registry.task("traffic-real"))
    assert result.status == "ok", result.message
    with np.load(tmp_path / "val.npz") as f:
        np.savez(tmp_path / "val.npz", x=f["x"][:, :11])
    with pytest.raises(KeyError, match="missing arrays"):
        traffic_data.load_npz_windows(tmp_path, 12, 12)
    with np.load(tmp_path / "test.npz") as f:
        x = f["x"]
    np.savez(tmp_path / "val.npz", x=x[:, :11], y=x)
    with pytest.raises(ValueError, match=r"expected \(samples, 12, nodes, >=2\)"):
        traffic_data.load_npz_windows(tmp_path, 12, 12)


def test_real_task_needs_its_directory() -> None:
    spec = get_registry().task("traffic-real")
    assert "traffic" in (spec.available({}) or "")
    assert spec.available({"traffic": "/nonexistent/dir"}) is not None
