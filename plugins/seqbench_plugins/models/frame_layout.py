"""Spatial layout of convolutional encoder-forecasters: patches, strided convs and the sides
they give (shared by ``convrnn``, ``trajgru`` and ``predrnn``).

Shi et al., NIPS 2015 cut 64x64 frames into 4x4 patches (space-to-depth) before the first
ConvLSTM; Shi et al., NIPS 2017's HKO-7 network instead starts with a strided 7x7
convolution and moves between levels with strided convolutions, mirrored by transposed
convolutions in the forecaster. Both are described here so a wrong frame size is a clear
error when the model is built, not a shape mismatch in the middle of a forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from seqbench.signatures import FrameProblem


@dataclass(frozen=True)
class Resample:
    """A strided conv into a level (``channels`` out: the input of that level's encoder RNN)
    and the transposed conv the forecaster uses to come back out of it. The sides follow
    the usual conv arithmetic; ``up_kernel`` may differ from ``kernel`` because one kernel
    cannot always invert a stride exactly (HKO-7 goes down 3x3/2 and up 4x4/2)."""

    channels: int
    kernel: int
    stride: int
    padding: int
    up_kernel: int = 0  # 0: same as kernel

    def down(self, side: int) -> int:
        return (side + 2 * self.padding - self.kernel) // self.stride + 1

    def up(self, side: int) -> int:
        return (side - 1) * self.stride - 2 * self.padding + (self.up_kernel or self.kernel)

    def conv(self, in_channels: int) -> nn.Conv2d:
        return nn.Conv2d(in_channels, self.channels, self.kernel, self.stride, self.padding)

    def deconv(self, in_channels: int, out_channels: int) -> nn.ConvTranspose2d:
        return nn.ConvTranspose2d(in_channels, out_channels, self.up_kernel or self.kernel, self.stride, self.padding)


def patch_size(problem: FrameProblem, base: int) -> int:
    """Smallest power-of-two patch that brings the frame's larger side down to ``base``."""
    p = 1
    while max(problem.height, problem.width) // p > base:
        p *= 2
    if problem.height % p or problem.width % p:
        raise ValueError(f"frame size {problem.height}x{problem.width} is not divisible into {p}x{p} patches")
    return p


def level_sides(problem: FrameProblem, patch: int, resamples: Sequence[Resample]) -> list[tuple[int, int]]:
    """(height, width) of every level. The forecaster's transposed convs must give back each
    side exactly (its states and the encoder's have the same shape), else a clear error."""
    sides, side = [], (problem.height // patch, problem.width // patch)
    for level, r in enumerate(resamples, 1):
        down = (r.down(side[0]), r.down(side[1]))
        back = (r.up(down[0]), r.up(down[1]))
        if min(down) < 1 or back != side:
            raise ValueError(
                f"frames {problem.height}x{problem.width} do not fit the encoder-forecaster: level {level} "
                f"{side[0]}x{side[1]} -> {r.kernel}x{r.kernel} conv, stride {r.stride}, padding {r.padding} -> "
                f"{down[0]}x{down[1]}, which the transposed conv maps back to {back[0]}x{back[1]}")
        sides.append(down)
        side = down
    return sides
