"""Vectorised n-gram counting and Kneser-Ney interpolation for :mod:`ngram`.

An n-gram is packed into one int64 code in base V (last word least significant), so
counting is ``torch.unique`` and each order's table is a sorted, CSR-like list of
contexts -> (word, count) rows; querying a batch gathers those rows into dense (P, V).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE = -100  # padding in task batches (same value as the tasks' cross-entropy ignore_index)


def window_sequences(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(inputs (B, T), targets (B, T)) -> the windows' token sequences (B, T + 1), IGNORE padded."""
    if inputs.shape != targets.shape or inputs.dim() != 2:
        raise ValueError(f"expected inputs and targets of one (batch, time) shape, got "
                         f"{tuple(inputs.shape)} and {tuple(targets.shape)}")
    return torch.cat([inputs[:, :1], targets], dim=1).long()


def _codes(seqs: torch.Tensor, k: int, v: int) -> torch.Tensor:
    """Codes of every k-gram lying wholly inside a sequence (no padding)."""
    if seqs.shape[1] < k:
        return torch.zeros(0, dtype=torch.long, device=seqs.device)
    grams = seqs.unfold(1, k, 1).reshape(-1, k)
    grams = grams[(grams >= 0).all(dim=1)]
    weights = v ** torch.arange(k - 1, -1, -1, device=seqs.device)
    return (grams * weights).sum(dim=1)


@dataclass
class OrderTable:
    """Counts of one order: for each context (sorted codes), its words and discounted counts."""

    contexts: torch.Tensor  # (C,) sorted context codes
    indptr: torch.Tensor  # (C + 1,)
    words: torch.Tensor  # (nnz,)
    discounted: torch.Tensor  # (nnz,) max(count - D, 0)
    total: torch.Tensor  # (C,) sum of counts, c(h)
    removed: torch.Tensor  # (C,) mass taken by discounting, sum_w D(c(h, w)), given to the lower order

    def interpolate(self, prob: torch.Tensor, code: torch.Tensor, valid: torch.Tensor) -> None:
        """In place: prob[p] <- max(c(h, w) - D(c), 0) / c(h) + removed(h) / c(h) * prob[p] where h is seen."""
        if len(self.contexts) == 0:
            return
        row = torch.searchsorted(self.contexts, code).clamp(max=len(self.contexts) - 1)
        found = valid & (self.contexts[row] == code)
        index = found.nonzero().squeeze(1)
        if len(index) == 0:
            return
        # Positions sharing a context share its row: gather each distinct row once (a frequent
        # context such as "the" has thousands of followers), then expand.
        r, inverse = torch.unique(row[index], return_inverse=True)
        starts, lengths = self.indptr[r], self.indptr[r + 1] - self.indptr[r]
        which = torch.repeat_interleave(torch.arange(len(r), device=r.device), lengths)
        offset = torch.arange(int(lengths.sum()), device=r.device) - torch.repeat_interleave(
            torch.cumsum(lengths, 0) - lengths, lengths) + torch.repeat_interleave(starts, lengths)
        total = self.total[r].to(prob.dtype)[:, None]
        rows = torch.zeros(len(r), prob.shape[1], dtype=prob.dtype, device=prob.device)
        rows[which, self.words[offset]] = self.discounted[offset].to(prob.dtype)
        rows /= total
        gamma = (self.removed[r].to(prob.dtype)[:, None] / total)[inverse]
        prob[index] = torch.addcmul(rows[inverse], gamma, prob[index])


def discounts(counts: torch.Tensor) -> tuple[float, float, float]:
    """Modified Kneser-Ney discounts D1, D2, D3+ from the counts of counts (Chen & Goodman 1998)."""
    n = [float((counts == i).sum()) for i in range(1, 5)]
    if min(n) == 0:  # too little data for the estimate: fall back to the classic D = 0.75
        return 0.75, 0.75, 0.75
    y = n[0] / (n[0] + 2 * n[1])
    return tuple(min(max(i - (i + 1) * y * n[i] / n[i - 1], 0.0), float(i)) for i in (1, 2, 3))  # type: ignore[return-value]


def _table(codes: torch.Tensor, counts: torch.Tensor, v: int) -> OrderTable:
    counts = counts.double()
    d1, d2, d3 = discounts(counts)
    discount = torch.where(counts == 1, d1, torch.where(counts == 2, d2, d3))
    contexts, lengths = torch.unique_consecutive(codes // v, return_counts=True)
    indptr = torch.cat([lengths.new_zeros(1), torch.cumsum(lengths, 0)])
    owner = torch.repeat_interleave(torch.arange(len(contexts), device=codes.device), lengths)
    discounted = (counts - discount).clamp_min(0)

    def per_context(values: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(contexts), dtype=torch.float64, device=codes.device).index_add_(0, owner, values)

    total = per_context(counts)
    return OrderTable(contexts, indptr, codes % v, discounted, total, total - per_context(discounted))


def count_tables(seqs: torch.Tensor, order: int, v: int) -> list[OrderTable]:
    """Tables for orders 1..order: raw counts at the top order, continuation counts below
    (Kneser-Ney: how many distinct words precede the n-gram, not how often it occurs)."""
    if seqs.numel() and (int(seqs.max()) >= v or bool(((seqs < 0) & (seqs != IGNORE)).any())):
        raise ValueError(f"token ids must lie in [0, {v}), got range [{int(seqs.min())}, {int(seqs.max())}]")
    tables: list[OrderTable] = []
    for k in range(1, order + 1):
        if k == order:
            codes, counts = torch.unique(_codes(seqs, k, v), return_counts=True)
        else:  # continuation counts: distinct (k+1)-gram types ending in this k-gram
            longer = torch.unique(_codes(seqs, k + 1, v))
            codes, counts = torch.unique(longer % v**k, return_counts=True)
        tables.append(_table(codes, counts, v))
    return tables
