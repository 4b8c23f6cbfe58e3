"""Traffic baselines of the DCRNN paper (Li et al., ICLR 2018): historical average and last value.

Both read the traffic task's input layout (see :mod:`seqbench_plugins.tasks.traffic`):
channel 0 speed (z-scored, 0 where missing), 1 time of day in [0, 1), 2 day of week / 7,
3 observed flag; outputs are in the same z units.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import GRAPH, GraphProblem
from seqbench.specs import ModelSpec, Preset

SPEED, TIME_OF_DAY, DAY_OF_WEEK, OBSERVED = range(4)


def forecast_slots(x: torch.Tensor, steps: int, per_day: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(day of week, slot of the day) of the ``steps`` readings after the window, (B, steps)."""
    slot = torch.round(x[:, -1, 0, TIME_OF_DAY] * per_day).long()
    day = torch.round(x[:, -1, 0, DAY_OF_WEEK] * 7).long()
    ahead = slot[:, None] + torch.arange(1, steps + 1, device=x.device)
    return (day[:, None] + ahead // per_day) % 7, ahead % per_day


class HistoricalAverage(nn.Module):
    table: torch.Tensor

    """Mean of the training readings at the same time of the week, per sensor (the paper's
    seasonal HA with a one-week period). Slots never seen fall back to the same time of day
    on any day, then to the sensor's mean; missing readings are excluded throughout."""

    def __init__(self, problem: GraphProblem) -> None:
        super().__init__()
        self.out_steps = problem.out_steps
        self.per_day = problem.steps_per_day
        self.register_buffer("table", torch.zeros(7, problem.steps_per_day, problem.num_nodes))

    def fit(self, batches: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> None:
        total = torch.zeros(7, self.per_day, self.table.shape[-1], dtype=torch.float64, device=self.table.device)
        count = torch.zeros_like(total)
        for x, y_scaled, y_raw in batches:
            day, slot = forecast_slots(x, self.out_steps, self.per_day)
            valid = (y_raw != 0).double()
            index = (day.flatten(), slot.flatten())
            n = y_raw.shape[-1]
            total.index_put_(index, (y_scaled.double() * valid).reshape(-1, n), accumulate=True)
            count.index_put_(index, valid.reshape(-1, n), accumulate=True)
        by_time = total.sum(0) / count.sum(0).clamp_min(1)
        by_node = total.sum((0, 1)) / count.sum((0, 1)).clamp_min(1)
        fallback = torch.where(count.sum(0) > 0, by_time, by_node)
        self.table.copy_(torch.where(count > 0, total / count.clamp_min(1), fallback).float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        day, slot = forecast_slots(x, self.out_steps, self.per_day)
        return self.table[day, slot].unsqueeze(-1)  # (B, T_out, N, 1)


class LastValue(nn.Module):
    """The last observed reading of each sensor, repeated for every horizon (the training
    mean, i.e. 0 in z units, for a sensor with no reading in the window)."""

    def __init__(self, problem: GraphProblem) -> None:
        super().__init__()
        self.out_steps = problem.out_steps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        observed = x[..., OBSERVED] > 0  # (B, T, N)
        position = torch.arange(1, x.shape[1] + 1, device=x.device)[None, :, None] * observed
        last = position.argmax(1, keepdim=True)  # latest observed step (0 if none)
        value = x[..., SPEED].gather(1, last) * observed.gather(1, last)
        return value.expand(-1, self.out_steps, -1).unsqueeze(-1)


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    def ha(problem: GraphProblem, preset: Preset) -> nn.Module:
        return HistoricalAverage(problem)

    def last(problem: GraphProblem, preset: Preset) -> nn.Module:
        return LastValue(problem)

    return [
        ModelSpec("historical-average", (GRAPH,), ha, "mean of training readings at the same time of week",
                  "Li et al. ICLR 2018 (HA baseline)", baseline=True, tags=("baseline", "traffic")),
        ModelSpec("last-value", (GRAPH,), last, "last observed reading repeated",
                  "persistence baseline", baseline=True, tags=("baseline", "traffic")),
    ]
