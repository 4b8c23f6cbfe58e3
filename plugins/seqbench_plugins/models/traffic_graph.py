"""Sparse graph operators shared by the traffic models (DCRNN, STGCN).

Graph products run as one sparse-dense product on a node-major (N, everything else)
matrix, so that PEMS-BAY-sized graphs (325 sensors, ~2.7k edges) stay cheap.
"""

from __future__ import annotations

import numpy as np
import torch


def check_adjacency(adjacency: np.ndarray, num_nodes: int) -> np.ndarray:
    adj = np.asarray(adjacency, dtype=np.float64)
    if adj.shape != (num_nodes, num_nodes):
        raise ValueError(f"adjacency has shape {adj.shape}, expected ({num_nodes}, {num_nodes})")
    if (adj < 0).any() or not np.isfinite(adj).all():
        raise ValueError("adjacency must hold finite non-negative edge weights")
    return adj


def to_sparse(matrix: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(matrix.astype(np.float32)).to_sparse_coo().coalesce()


def random_walk(adj: np.ndarray) -> np.ndarray:
    """D^-1 A: row-normalised transition matrix (rows without edges stay zero)."""
    deg = adj.sum(1, keepdims=True)
    return np.divide(adj, deg, out=np.zeros_like(adj), where=deg > 0)


def scaled_laplacian(adj: np.ndarray) -> np.ndarray:
    """2 L / lambda_max - I with L = I - D^-1/2 W D^-1/2 on the symmetrised graph (ChebNet)."""
    w = np.maximum(adj, adj.T)
    np.fill_diagonal(w, 0.0)
    deg = w.sum(1)
    inv_sqrt = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-12)), 0.0)
    lap = np.eye(len(w)) - inv_sqrt[:, None] * w * inv_sqrt[None, :]
    lam = float(np.linalg.eigvalsh(lap).max()) if len(w) else 2.0
    return 2.0 * lap / max(lam, 1e-6) - np.eye(len(w))


def node_product(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``matrix`` (N, N, sparse) applied along the first axis of ``x`` (N, ...)."""
    return torch.sparse.mm(matrix, x.reshape(x.shape[0], -1)).view_as(x)
