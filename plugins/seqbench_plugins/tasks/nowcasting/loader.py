"""Loader for the standard Moving MNIST test file ``mnist_test_seq.npy``.

Srivastava et al., ICML 2015 (http://www.cs.toronto.edu/~nitish/unsupervised_video/):
10,000 sequences of 20 frames, 64x64, two digits each, stored **time first** as a uint8
array of shape (20, 10000, 64, 64). Read with ``allow_pickle=False`` (a .npy file must not
be able to run code) and memory-mapped, so that only the sequences used are read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

FILE_NAME = "mnist_test_seq.npy"
FRAMES, SIDE = 20, 64


def file_path(directory: str | Path) -> Path:
    return Path(directory).expanduser() / FILE_NAME


def unavailable_reason(directory: str | None) -> str | None:
    """``None`` when the file is there, else why the task cannot run."""
    if not directory:
        return f"needs the directory holding {FILE_NAME}: pass --data moving-mnist=DIR"
    path = file_path(directory)
    if not path.is_file():
        return f"{path} not found (download {FILE_NAME} from the Moving MNIST page into {directory})"
    return None


def load_moving_mnist(directory: str | Path) -> np.ndarray:
    """The whole file as a read-only (20, N, 64, 64) uint8 memory map, validated."""
    path = file_path(directory)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file (expected Moving MNIST's {FILE_NAME})")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        # numpy's own text for a pickled file advises allow_pickle=True: never pass that on
        kind = "holds Python objects, not a plain array" if "pickle" in str(exc) else "truncated or not a .npy file"
        raise ValueError(f"{path}: not a readable .npy array ({kind})") from None
    if not isinstance(array, np.ndarray):
        raise ValueError(f"{path}: expected a single .npy array, got {type(array).__name__}")
    expected = f"uint8 array of shape ({FRAMES}, N, {SIDE}, {SIDE}), time first"
    if array.dtype != np.uint8:
        raise ValueError(f"{path}: expected {expected}; got dtype {array.dtype}")
    if array.ndim != 4:
        raise ValueError(f"{path}: expected {expected}; got rank {array.ndim} shape {array.shape}")
    if array.shape[0] != FRAMES or array.shape[2:] != (SIDE, SIDE) or array.shape[1] < 3:
        raise ValueError(f"{path}: expected {expected} with N >= 3; got shape {array.shape}")
    return array


def split_sequences(array: np.ndarray, train: int, val: int, test: int) -> dict[str, torch.Tensor]:
    """Train / val / test as (n, 20, 1, 64, 64) uint8: test from the end, val before it,
    train from the start; a file smaller than asked is split 80 / 10 / 10 instead."""
    n = array.shape[1]
    if train + val + test > n:
        test, val = max(1, n // 10), max(1, n // 10)
        train = n - val - test
    parts = {"train": (0, train), "val": (n - test - val, n - test), "test": (n - test, n)}
    return {
        name: torch.from_numpy(np.ascontiguousarray(array[:, a:b].transpose(1, 0, 2, 3))).unsqueeze(2)
        for name, (a, b) in parts.items()
    }
