"""Rolling-Unrolling LSTM with modality attention (RU-LSTM).

Furnari & Farinella, "What Would You Expect? Anticipating Egocentric Actions with
Rolling-Unrolling LSTMs and Modality Attention", ICCV 2019 (and TPAMI 2020). Per modality
a *rolling* LSTM encodes the observed features step by step; at every anticipation step an
*unrolling* LSTM starts from the rolling state and runs ahead, fed the current feature
repeated once per step left to the action (plus one, as the reference code does), and its
last state is classified. *Sequence-completion pre-training* (SCP) first trains each
branch with the unrolling LSTM fed the real *future* features instead (the paper's way to
teach it to imagine the future; the loss stays action classification, as in the
reference code), then fine-tunes with the repeated current feature. *Modality attention*
(MATT) is an MLP on the branches' contexts (unrolled hidden state and rolling cell state,
as in the reference code) whose softmax weighs the branches' action scores.

All stages fit in the task's one step budget (``MultimodalProblem.train_steps``): the first
``scp`` fraction of steps trains every branch on its own in SCP mode, the next ``solo``
fraction every branch on its own in anticipation mode (the reference pre-trains branches
separately), the rest the fused model end to end. The task trains whatever
``training_logits`` returns; evaluation calls ``forward`` (always causal, never SCP).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import MULTIMODAL, MultimodalProblem
from seqbench.specs import ModelSpec, Preset


@dataclass(frozen=True)
class RULSTMConfig:
    hidden: int
    dropout: float
    scp: float = 1 / 3  # fraction of the step budget in sequence-completion pre-training
    solo: float = 1 / 3  # then branches on their own in anticipation mode (fused models only)


SIZES: dict[Preset, RULSTMConfig] = {
    "smoke": RULSTMConfig(hidden=16, dropout=0.2),
    "quick": RULSTMConfig(hidden=128, dropout=0.5),
    "paper": RULSTMConfig(hidden=1024, dropout=0.8),  # the reference code's defaults
}


def _lstm_step(gx: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w_hh: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """One LSTM step (PyTorch's gate order i, f, g, o) given the input part of the gates."""
    i, f, g, o = torch.addmm(gx, h, w_hh.t()).chunk(4, -1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


class Branch(nn.Module):
    """One modality: rolling LSTM, unrolling LSTM and a linear classifier.

    Both LSTMs are written out step by step on ``nn.LSTMCell`` weights (the same parameters
    as the reference's ``nn.LSTM``) so that each input is projected once: the unrolling LSTM
    is fed the same feature at every step, and each anticipation step's run stops at its
    own length instead of all running to the longest (about half the work)."""

    def __init__(self, features: int, problem: MultimodalProblem, config: RULSTMConfig) -> None:
        super().__init__()
        self.steps, self.ahead = problem.observed_steps, problem.anticipation_steps
        self.rolling = nn.LSTMCell(features, config.hidden)
        self.unrolling = nn.LSTMCell(features, config.hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.hidden, problem.num_actions))

    def forward(self, x: torch.Tensor, completion: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, T, D) -> logits (B, S, A) and context (B, S, 2H) for MATT.

        Anticipation step g (observed up to t = T - S + g) unrolls ``S - g + 1`` steps fed x_t
        (the reference code's count); in completion mode ``S - g`` steps fed x_t .. x_{T-1}."""
        b, first, ahead = x.shape[0], self.steps - self.ahead, self.ahead
        x = self.dropout(x)
        r, u = self.rolling, self.unrolling
        gx = F.linear(x, r.weight_ih, r.bias_ih + r.bias_hh)
        h = c = x.new_zeros(b, r.hidden_size)
        hs, cs = [], []
        for t in range(self.steps):
            h, c = _lstm_step(gx[:, t], h, c, r.weight_hh)
            if t >= first:
                hs.append(h)
                cs.append(c)
        ux = F.linear(x[:, first:], u.weight_ih, u.bias_ih + u.bias_hh)  # (B, S, 4H)
        h, c = torch.cat(hs), torch.cat(cs)  # (S * B, H), anticipation step major
        extra = 0 if completion else 1  # run g lasts S - g + extra steps
        finals: list[torch.Tensor] = []
        for j in range(ahead + extra):
            n = ahead - max(j - extra, 0)  # runs still going: 0 .. n - 1
            inputs = ux[:, j : j + n] if completion else ux[:, :n]  # run g reads x_{t+j}, or x_t
            h, c = _lstm_step(inputs.transpose(0, 1).reshape(n * b, -1), h[: n * b], c[: n * b], u.weight_hh)
            if j >= extra:
                finals.append(h[(n - 1) * b :])  # run n - 1 takes its last step now
        final = torch.stack(finals[::-1], 1)  # (B, S, H)
        context = torch.cat([final, torch.stack(cs, 1)], -1)
        return self.classifier(final), context


class RULSTM(nn.Module):
    """Branches over ``modalities``, fused by MATT (``fusion="matt"``), by the mean of their
    scores (``"late"``), or a single branch (``"single"``)."""

    def __init__(self, problem: MultimodalProblem, config: RULSTMConfig, modalities: tuple[str, ...],
                 fusion: str) -> None:
        super().__init__()
        dims = dict(problem.modalities)
        missing = [m for m in modalities if m not in dims]
        if missing:
            raise ValueError(f"RU-LSTM needs modalities {missing}; the task provides {sorted(dims)}")
        if fusion not in ("matt", "late", "single") or (fusion == "single") != (len(modalities) == 1):
            raise ValueError(f"fusion {fusion!r} does not fit {len(modalities)} modalities")
        self.modalities, self.fusion = modalities, fusion
        self.branches = nn.ModuleList(Branch(dims[m], problem, config) for m in modalities)
        if fusion == "matt":
            size = 2 * len(modalities) * config.hidden
            self.matt = nn.Sequential(
                nn.Linear(size, size // 4), nn.ReLU(), nn.Dropout(config.dropout),
                nn.Linear(size // 4, size // 8), nn.ReLU(), nn.Dropout(config.dropout),
                nn.Linear(size // 8, len(modalities)))
        total = problem.train_steps
        self.scp_steps = round(config.scp * total)
        self.fuse_from = self.scp_steps + (0 if fusion == "single" else round(config.solo * total))
        self.steps_seen = 0  # training calls so far: picks the stage

    def _branches(self, streams: dict[str, torch.Tensor], completion: bool = False) -> list[tuple[torch.Tensor, ...]]:
        return [branch(streams[m], completion) for m, branch in zip(self.modalities, self.branches, strict=True)]

    def _fuse(self, outs: list[tuple[torch.Tensor, ...]]) -> torch.Tensor:
        scores = torch.stack([s for s, _ in outs], -1)  # (B, S, A, M)
        if self.fusion == "single":
            return scores[..., 0]
        if self.fusion == "late":
            return scores.mean(-1)
        weights = torch.softmax(self.matt(torch.cat([c for _, c in outs], -1)), -1)  # (B, S, M)
        return (scores * weights.unsqueeze(2)).sum(-1)

    def forward(self, streams: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._fuse(self._branches(streams))

    def training_logits(self, streams: dict[str, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """The heads to train at this step: branches alone (SCP, then anticipation), then fused."""
        step, self.steps_seen = self.steps_seen, self.steps_seen + 1
        if step < self.fuse_from:
            return tuple(s for s, _ in self._branches(streams, completion=step < self.scp_steps))
        return (self(streams),)


def _spec(name: str, modalities: tuple[str, ...], fusion: str, summary: str) -> ModelSpec:
    def build(problem: MultimodalProblem, preset: Preset) -> nn.Module:
        return RULSTM(problem, SIZES[preset], modalities, fusion)

    return ModelSpec(name, (MULTIMODAL,), build, summary, "Furnari & Farinella, ICCV 2019 / TPAMI 2020",
                     tags=("anticipation", "recurrent"))


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    all3 = ("rgb", "flow", "obj")
    return [
        _spec("rulstm", all3, "matt", "RU-LSTM, RGB + flow + objects, SCP, modality attention"),
        _spec("rulstm-late", all3, "late", "RU-LSTM branches fused by averaging their scores (no MATT)"),
        *(_spec(f"rulstm-{m}", (m,), "single", f"RU-LSTM single {m} branch with SCP") for m in all3),
    ]
