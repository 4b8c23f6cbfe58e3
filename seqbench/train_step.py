"""One optimizer step and the run's numeric precision: what training and timing share.

Both :mod:`seqbench.train` (the training loop) and :mod:`seqbench.measure` (which times the
very step training takes) use these, and :mod:`seqbench.parity` the precision; keeping them
here lets the dependencies point one way: train -> measure -> parity -> train_step.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager

import torch
from torch import nn

from seqbench.specs import RunOptions
from seqbench.task import Task


def precision(options: RunOptions, device: torch.device) -> AbstractContextManager[object]:
    """Autocast to ``options.amp`` on CUDA (bf16 / fp16); full precision otherwise."""
    if options.amp and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16 if options.amp == "bf16" else torch.float16)
    return contextlib.nullcontext()


class TrainStep:
    """One optimizer step exactly as training takes it: loss under the run's precision,
    backward (loss-scaled for fp16), gradient clipping, optimizer step. Timed by measure.

    ``compiled`` is the module as the job calls it (``torch.compile``-d with ``--compile``,
    else the module itself); ``params`` are the eager module's trainable parameters.
    """

    def __init__(self, task: Task, compiled: nn.Module, params: list[nn.Parameter],
                 optimizer: torch.optim.Optimizer, options: RunOptions, device: torch.device, clip: float) -> None:
        self.task, self.compiled, self.params, self.optimizer = task, compiled, params, optimizer
        self.options, self.device, self.clip = options, device, clip
        self.scaler = torch.amp.GradScaler("cuda", enabled=options.amp == "fp16" and device.type == "cuda")

    def __call__(self, batch: object) -> torch.Tensor:
        with precision(self.options, self.device):
            loss = self.task.loss(self.compiled, batch)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        nn.utils.clip_grad_norm_(self.params, self.clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return loss
