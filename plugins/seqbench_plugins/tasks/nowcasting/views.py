"""Views of frame sequences: the FC-LSTM adapter for generic backbones, and the PNG of a forecast.

Shi et al., NIPS 2015 compare ConvLSTM with FC-LSTM, an encoder-forecaster LSTM over
flattened frames; ``FlattenedFrames`` is how every ``CAUSAL_SEQ`` backbone meets the
nowcasting tasks in that role.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import torch
from torch import nn

from seqbench.signatures import FrameProblem


class FlattenedFrames(nn.Module):
    """FC-LSTM adapter (Shi 2015's baseline): every frame flattened to a vector. The causal
    backbone reads the J observed frames then K-1 blank steps (a flag feature marks which is
    which) and a linear head turns its outputs from step J onwards into the K frames."""

    def __init__(self, backbone: nn.Module, problem: FrameProblem) -> None:
        super().__init__()
        self.backbone, self.problem = backbone, problem
        self.head = nn.Linear(cast(int, backbone.output_size), problem.channels * problem.height * problem.width)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        p, b = self.problem, frames.shape[0]
        observed = frames.reshape(b, p.in_frames, -1)
        blank = observed.new_zeros(b, p.out_frames - 1, observed.shape[-1])
        flag = torch.cat([observed.new_ones(b, p.in_frames, 1), observed.new_zeros(b, p.out_frames - 1, 1)], 1)
        hidden = self.backbone(torch.cat([torch.cat([observed, blank], 1), flag], -1))
        return self.head(hidden[:, p.in_frames - 1 :]).view(b, p.out_frames, p.channels, p.height, p.width)


def save_sequence_png(rows: Sequence[tuple[str, torch.Tensor]], path: Path, title: str, cmap: str) -> Path:
    """One row per (name, frames (T, C, H, W) in [0, 1]); written to a temporary file in the
    same directory, then renamed, so that no half-written picture is ever left behind."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = max(len(frames) for _, frames in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(0.9 * columns, 1.0 * len(rows)), squeeze=False)
    for r, (name, frames) in enumerate(rows):
        for col in range(columns):
            ax = axes[r][col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(frames):
                ax.imshow(frames[col, 0].numpy(), cmap=cmap, vmin=0, vmax=1)
            else:
                ax.axis("off")
        axes[r][0].set_ylabel(name, fontsize=7)
    fig.suptitle(title, fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png.tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format="png", dpi=80)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; a picture beside a leaderboard is for everyone
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
