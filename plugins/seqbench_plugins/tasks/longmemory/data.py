"""Data of the long-memory tasks of Bai, Kolter & Koltun 2018 (section 5.1, Table 1).

* Adding problem (Hochreiter & Schmidhuber 1997, as the TCN paper's reference code draws it):
  ``T`` steps of depth 2, the first channel uniform in [0, 1], the second zero except for two
  distinct positions marked 1, drawn uniformly over the whole sequence; the target is the sum
  of the two marked values. Predicting 1 (the target's mean) scores its variance, the variance
  of the sum of two independent U(0, 1) values: 2 / 12 = 1/6 ~ 0.167 (Table 1's LSTM: 0.164;
  the paper's text says "about 0.1767", which the derivation does not give).
* Copy memory (the paper's protocol): ``T + 20`` steps; the first 10 are symbols drawn from
  1..8, then ``T - 1`` blanks (0), then 11 delimiters (9). The target is 0 everywhere except
  the last 10 steps, which repeat the first 10 symbols. The paper's loss is the cross-entropy
  averaged over all ``T + 20`` outputs; a memoryless model (right about every blank, uniform
  over the 8 symbols at the 10 recall steps) scores ``10 ln 8 / (T + 20)`` = 0.0204 at
  T = 1000, which is Table 1's LSTM figure.
* Sequential and permuted digits: pixel-by-pixel classification (Le, Jaitly & Hinton 2015)
  on scikit-learn's 1,797 8x8 digits (shipped with scikit-learn, no download) in place of
  MNIST: the native 64 steps, or 784 steps after bilinear upsampling to 28x28, MNIST's
  length. The permutation is fixed per task (``PERMUTATION_SEED``), never drawn per run.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

ADDING_BASELINE_MSE = 1.0 / 6.0  # Var(U1 + U2): the MSE of always predicting 1
COPY_LENGTH = 10  # symbols to remember
COPY_CATEGORIES = 8  # symbols 1..8
BLANK, DELIMITER = 0, 9
COPY_CLASSES = 10  # outputs 0..9 (the paper's 10-way read-out)
DIGIT_CLASSES = 10
PERMUTATION_SEED = 1803  # the paper's arXiv number; one permutation per sequence length, for every run


def adding(n: int, length: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` adding-problem sequences: inputs (n, length, 2) float32, targets (n,) float32."""
    values = rng.random((n, length))
    first = rng.integers(0, length, n)
    second = rng.integers(0, length - 1, n)
    second += second >= first  # uniform over the other length - 1 positions: two distinct marks
    rows = np.arange(n)
    marks = np.zeros((n, length))
    marks[rows, first] = marks[rows, second] = 1.0
    target = values[rows, first] + values[rows, second]
    x = np.stack([values, marks], axis=-1)
    return torch.from_numpy(x).float(), torch.from_numpy(target).float()


def copy_memory(n: int, blank: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` copy-memory sequences of ``blank + 20`` steps: inputs (n, T + 20, 1) float32 (the symbol
    value itself, one channel, as the paper's TCN reads it), targets (n, T + 20) int64."""
    length = blank + 2 * COPY_LENGTH
    symbols = rng.integers(1, COPY_CATEGORIES + 1, (n, COPY_LENGTH))
    x = np.full((n, length), BLANK, dtype=np.int64)
    x[:, :COPY_LENGTH] = symbols
    x[:, blank + COPY_LENGTH - 1:] = DELIMITER  # the first of the 11 nines is the delimiter
    y = np.full((n, length), BLANK, dtype=np.int64)
    y[:, -COPY_LENGTH:] = symbols
    return torch.from_numpy(x).float().unsqueeze(-1), torch.from_numpy(y)


def copy_memory_span(blank: int) -> int:
    """Inputs the first recall output (step T + 10) must see, itself included: back to step 0."""
    return blank + COPY_LENGTH + 1


def memoryless_loss(blank: int) -> float:
    """Mean cross-entropy over all ``T + 20`` outputs of the best model that remembers no symbol."""
    return COPY_LENGTH * math.log(COPY_CATEGORIES) / (blank + 2 * COPY_LENGTH)


def permutation(length: int) -> np.ndarray:
    """The task's fixed pixel order for permuted digits (the same for every seed and preset)."""
    return np.random.default_rng(PERMUTATION_SEED).permutation(length)


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits (N, 8, 8) scaled to [0, 1] and labels, read once per process."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels, labels = digits.images.astype(np.float32) / 16.0, digits.target.astype(np.int64)
    pixels.flags.writeable = labels.flags.writeable = False  # shared by every caller
    return pixels, labels


def digit_sequences(side: int, permuted: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits as pixel sequences: inputs (N, side^2, 1) in [0, 1], labels (N,) int64.

    ``side`` 8 keeps the native images; any other side upsamples them bilinearly (28: MNIST's
    784 steps). Rows are read left to right, top to bottom, then permuted if asked.
    """
    pixels, labels = _digits()
    images = torch.tensor(pixels).unsqueeze(1)  # (N, 1, 8, 8), a copy: the cached arrays stay read-only
    if side != images.shape[-1]:
        images = F.interpolate(images, size=(side, side), mode="bilinear", align_corners=False).clamp(0.0, 1.0)
    x = images.flatten(1)
    if permuted:
        x = x[:, torch.from_numpy(permutation(side * side))]
    return x.unsqueeze(-1).contiguous(), torch.tensor(labels)


def split(n: int, sizes: tuple[int, int, int], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disjoint (train, val, test) index sets of the given sizes from a seeded shuffle of ``n``."""
    if sum(sizes) > n:
        raise ValueError(f"splits of {sizes} need {sum(sizes)} examples, only {n} exist")
    order = np.random.default_rng(seed).permutation(n)
    a, b = sizes[0], sizes[0] + sizes[1]
    return order[:a], order[a:b], order[b:b + sizes[2]]
