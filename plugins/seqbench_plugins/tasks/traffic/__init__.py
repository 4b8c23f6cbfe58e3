"""Traffic forecasting on road-sensor graphs: the last 12 readings (5-minute steps) of every
sensor -> the next 12 (Li et al., "Diffusion Convolutional Recurrent Neural Network",
ICLR 2018; Yu et al., "Spatio-Temporal Graph Convolutional Networks", IJCAI 2018).

Tasks: ``traffic-metr-la`` (default; speeds simulated on the real METR-LA graph),
``traffic-pems-bay`` (simulated on the PEMS-BAY graph) and ``traffic-real`` (the user's
METR-LA / PEMS-BAY files: data key ``traffic`` = a directory with ``metr-la.h5`` or
``pems-bay.h5``, or DCRNN's ``train/val/test.npz``; DCRNN's ``adj_mx.pkl`` is unpickled only
when named explicitly with data key ``traffic-adj-pickle``). The smoke preset simulates on a
12-node synthetic graph.

Model input (B, 12, N, 4): speed z-scored with training statistics (0 where missing), time
of day in [0, 1) (a DCRNN input channel), day of week / 7 (0 for npz windows, which lack
it) and an observed flag. Output (B, 12, N, 1) in z-scored units. Batches are tuples
``(x, y_scaled, y_raw)``; ``y_raw`` is in mph with 0 = missing (masked out everywhere).
Splits are chronological 70/10/20 with no window crossing a split boundary.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import CAUSAL_SEQ, GRAPH, GraphProblem, SeqProblem, Signature
from seqbench.specs import Budget, Preset, TaskContext, TaskSpec
from seqbench.task import Batch, Metric, PairMetric, Task
from seqbench_plugins.tasks.traffic import data
from seqbench_plugins.tasks.traffic.metrics import MaskedHorizonMetrics, metric_specs
from seqbench_plugins.tasks.traffic.sim import STEPS_PER_DAY, SimConfig, Simulation, simulate, synthetic_graph

STEPS_IN = STEPS_OUT = 12
FEATURES = 4  # speed (z), time of day, day of week / 7, observed
SPLITS = {"train": (0.0, 0.7), "val": (0.7, 0.8), "test": (0.8, 1.0)}


@dataclass(frozen=True)
class SimPreset:
    graph: str  # "synthetic" or a shipped graph name
    days: float
    eval_stride: int = 1  # val / test windows start every this many steps (train: every step)
    nodes: int = 12  # synthetic graph only


# quick: 4 weeks (HA sees each time of week ~3 times); test windows every 15 minutes keep the
# per-sensor backbones' evaluation (207 sequences per window) within the quick budget.
SIM_PRESETS: dict[str, dict[Preset, SimPreset]] = {
    g: {"smoke": SimPreset("synthetic", 1.2, nodes=n), "quick": SimPreset(g, 28, 3), "paper": SimPreset(g, days)}
    for g, n, days in (("metr-la", 12, 120), ("pems-bay", 16, 180))  # METR-LA: 4 months, PEMS-BAY: 6
}

BUDGETS: dict[Preset, Budget] = {
    "smoke": Budget(steps=4, batch_size=8, lr=5e-3, eval_batch_size=64),
    # quick: 8 windows = 1656 sensor histories a step. DCRNN (2x32, K=2) and the per-sensor GRU (2x128)
    # are the expensive pairs (~0.4 s a step on one free core; measured ~4.5 min a pair on one
    # thread of a busy shared 2-core machine), which bounds the budget.
    "quick": Budget(steps=250, batch_size=8, lr=5e-3, eval_batch_size=32),
    "paper": Budget(steps=40_000, batch_size=64, lr=1e-2, eval_batch_size=64, eval_every=2000),  # DCRNN's setup
}


class TrafficTask(Task):
    def __init__(self, spec: TaskSpec, context: TaskContext) -> None:
        super().__init__(spec, context)
        self.splits: dict[str, data.Windows] = {}
        if spec.name == "traffic-real":
            self._load_real(context.data)
        else:
            p = SIM_PRESETS[spec.name.removeprefix("traffic-")][context.preset]
            adj = synthetic_graph(p.nodes, context.data_seed) if p.graph == "synthetic" else \
                data.shipped_graph(p.graph).adjacency
            self._from_series(simulate(adj, SimConfig(days=p.days), context.data_seed), adj, p.eval_stride)

    def _from_series(self, sim: Simulation, adjacency: np.ndarray, eval_stride: int = 1) -> None:
        self.adjacency = adjacency
        total = len(sim.speed)
        bounds = {k: (int(a * total), int(b * total)) for k, (a, b) in SPLITS.items()}
        train = sim.speed[: bounds["train"][1]]
        self._set_scaler(train[train != 0])
        feats = torch.from_numpy(data.features(sim.speed, sim.time_of_day, sim.day_of_week, self.mean, self.std))
        raw = torch.from_numpy(sim.speed)
        for split, (a, b) in bounds.items():
            if b - a < STEPS_IN + STEPS_OUT:
                raise ValueError(f"split {split!r} has {b - a} time steps, fewer than one window (24)")
            stride = 1 if split == "train" else eval_stride
            self.splits[split] = data.Windows(feats, raw, torch.arange(a, b - STEPS_IN - STEPS_OUT + 1, stride))

    def _set_scaler(self, valid_train: np.ndarray) -> None:
        if valid_train.size == 0:
            raise ValueError("the training split has no valid (non-zero) speed reading")
        self.mean, self.std = float(valid_train.mean()), float(valid_train.std()) or 1.0

    def _load_real(self, paths: Mapping[str, str]) -> None:
        adjacency, content = data.load_directory(paths, STEPS_IN, STEPS_OUT)
        if isinstance(content, Simulation):
            return self._from_series(content, adjacency)
        self.adjacency = adjacency
        x_train = content["train"][0][..., 0]
        self._set_scaler(x_train[x_train != 0])
        for split, (x, y) in content.items():
            dow = np.zeros(x.shape[:2], np.float32)  # DCRNN's windows carry no day of week
            feats = data.features(x[..., 0], x[:, :, 0, 1], dow, self.mean, self.std)
            self.splits[split] = data.Windows(torch.from_numpy(feats), torch.from_numpy(y[..., 0].copy()), None)

    # -- models -----------------------------------------------------------------------
    def problem(self, signature: Signature) -> object:
        if signature == CAUSAL_SEQ:
            return SeqProblem(input_size=FEATURES, max_len=STEPS_IN)
        return GraphProblem(len(self.adjacency), FEATURES, 1, STEPS_IN, STEPS_OUT, self.adjacency, STEPS_PER_DAY)

    def adapter(self, backbone: nn.Module) -> nn.Module:
        return PerNodeAdapter(backbone)

    # -- data -------------------------------------------------------------------------
    def _batch(self, split: str, index: torch.Tensor) -> Batch:
        x, raw = self.splits[split].get(index)
        scaled = torch.where(raw != 0, (raw - self.mean) / self.std, torch.zeros_like(raw))
        return x, scaled, raw

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[Batch]:
        n = len(self.splits["train"])
        while True:
            order = torch.randperm(n, generator=generator)
            for start in range(0, max(1, n - batch_size + 1), batch_size):
                yield self._batch("train", order[start : start + batch_size])

    def eval_batches(self, split: str, batch_size: int) -> Iterator[Batch]:
        for start in range(0, len(self.splits[split]), batch_size):  # last batch kept
            yield self._batch(split, torch.arange(start, min(start + batch_size, len(self.splits[split]))))

    def count(self, batch: Batch) -> tuple[int, int]:
        return len(batch[0]), batch[2].numel()  # units: forecast sensor-steps

    # -- training and scoring -------------------------------------------------------------
    def loss(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        x, scaled, raw = batch
        kwargs = {"targets": scaled.unsqueeze(-1)} if "targets" in inspect.signature(module.forward).parameters else {}
        pred = module(x, **kwargs).squeeze(-1)
        valid = raw != 0  # masked MAE as DCRNN trains with (in z units: mph / std)
        return ((pred - scaled).abs() * valid).sum() / valid.sum().clamp_min(1)

    def predict(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        return module(batch[0])

    def metric(self, split: str) -> Metric:
        """Masked errors in mph: the prediction is un-scaled, the raw readings are the target."""
        return PairMetric(MaskedHorizonMetrics(STEPS_OUT),
                          lambda output, batch: (output.squeeze(-1).cpu() * self.std + self.mean, batch[2]))


class PerNodeAdapter(nn.Module):
    """One shared causal backbone run on every sensor's own history, then a linear map from
    its last state to all 12 horizons: the per-node FC-LSTM baseline of the DCRNN paper."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(cast(int, backbone.output_size), STEPS_OUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, n, f = x.shape
        h = self.backbone(x.permute(0, 2, 1, 3).reshape(b * n, t, f))[:, -1]
        return self.head(h).view(b, n, STEPS_OUT).transpose(1, 2).unsqueeze(-1)


def _available_real(paths: Mapping[str, str]) -> str | None:
    if "traffic" not in paths:
        return "needs data key 'traffic': a directory with metr-la.h5 / pems-bay.h5 or DCRNN's train/val/test.npz"
    return None if Path(paths["traffic"]).is_dir() else f"traffic data directory {paths['traffic']!r} does not exist"


def _spec(name: str, summary: str, available: Any = None) -> TaskSpec:
    def build(context: TaskContext) -> Task:
        return TrafficTask(spec, context)

    extra = {"available": available, "data_keys": ("traffic", "traffic-adj-pickle")} if available else {}
    spec = TaskSpec(name, (GRAPH, CAUSAL_SEQ), build, summary, metric_specs(STEPS_OUT), "sensor-steps", BUDGETS,
                    family="traffic", paper="Li et al. ICLR 2018 (DCRNN); Yu et al. IJCAI 2018 (STGCN)", **extra)
    return spec


@hookimpl
def seqbench_register_tasks() -> list[TaskSpec]:
    return [
        _spec("traffic-metr-la", "12 -> 12 step speed forecast, simulated on the real METR-LA graph (207 sensors)"),
        _spec("traffic-pems-bay", "12 -> 12 step speed forecast, simulated on the real PEMS-BAY graph (325 sensors)"),
        _spec("traffic-real", "12 -> 12 step forecast on the user's METR-LA / PEMS-BAY files", _available_real),
    ]
