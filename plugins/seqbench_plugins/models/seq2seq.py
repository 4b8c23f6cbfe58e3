"""Sequence-to-sequence with additive attention (Bahdanau, Cho & Bengio, "Neural Machine
Translation by Jointly Learning to Align and Translate", ICLR 2015): a bidirectional GRU encoder,
a GRU decoder that attends over every encoder state at each step (:mod:`.seq2seq_layers`).

Where it applies:

* ``TREE`` (tree recovery): the decoder emits the tree's bracketed linearisation; this is the
  sequence-to-sequence baseline of Alvarez-Melis & Jaakkola (ICLR 2017) beside their DRNN
  (:mod:`.seq2seq_tree`). Inference is beam search (``seq2seq``, width 5) or greedy
  (``seq2seq-greedy``, width 1), constrained to well-formed trees (:mod:`.seq2seq_decode`).
* ``GRAPH`` (traffic): applied to each sensor's series on its own (the graph is not used, like
  the per-sensor FC-LSTM baseline of the DCRNN paper), 12 readings in, 12 out; the decoder is fed
  its previous output (regression: there is nothing to search, so ``beam`` does not apply).

Training feeds the decoder the ground truth with the inverse-sigmoid probability of scheduled
sampling (Bengio et al. NeurIPS 2015, :mod:`.scheduled_sampling`), else its own previous output:
a token sampled from its distribution (trees, one coin per token, as Bengio et al.) or its
prediction (traffic, one coin per step for the batch, as DCRNN). Decoding never sees targets.

Not for nowcasting (it does not make sense cheaply): a frame sequence would be read either as
whole flattened frames (the fully connected encoder-decoder, FC-LSTM, that Shi et al. 2015 show
the convolutional recurrent models beat) or pixel by pixel (no spatial context at all, and one
decoder run per pixel would dominate the quick budget); attention over a handful of input
frames adds nothing the convolutional recurrent models lack, and beam search has no tokens to
search over.

The config (beam, length penalty, schedules, and the decoding strategy in words) is recorded in
every job's config through ``ModelSpec.config``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import GRAPH, TREE, GraphProblem, TreeProblem
from seqbench.specs import ModelSpec, Preset
from seqbench.trees import Tree, TreeBatch
from seqbench_plugins.models.scheduled_sampling import InverseSigmoid, feed_truth
from seqbench_plugins.models.seq2seq_decode import Step, beam_search, greedy
from seqbench_plugins.models.seq2seq_layers import AttentionDecoder, Encoder, Memory
from seqbench_plugins.models.seq2seq_tree import BracketGrammar, target_columns
from seqbench_plugins.tasks.trees.batch import JointVocab


@dataclass(frozen=True)
class Seq2SeqConfig:
    embed: int
    hidden: int
    beam: int  # beam width when decoding tokens (trees); 1 = greedy
    length_penalty: float  # alpha of beam search's log P / length**alpha
    tree_schedule: InverseSigmoid  # scheduled sampling, k in steps of the tree tasks' budgets (1200 at quick)
    graph_schedule: InverseSigmoid  # the same for traffic (250 steps at quick; DCRNN's k)
    decoding: str = field(init=False)  # the strategy in words, for the job's config in the store

    def __post_init__(self) -> None:
        if self.beam < 1:
            raise ValueError(f"beam width must be >= 1, got {self.beam}")
        words = "greedy" if self.beam == 1 else f"beam search, width {self.beam}, log P / length^{self.length_penalty}"
        object.__setattr__(self, "decoding", words)


def config(preset: Preset, beam: int) -> Seq2SeqConfig:
    # tree k: truth fed ~90% of the time halfway through quick's 1200 steps, ~33% at the end.
    # quick hidden 64: traffic decodes 1656 sensor series a step (hidden 128 cost 1.6 s a step niced, 64: 0.66 s).
    embed, hidden, tree_k, graph_k = {"smoke": (16, 16, 2.0, 2.0), "quick": (64, 64, 200.0, 30.0),
                                      "paper": (128, 256, 3500.0, 2000.0)}[preset]
    return Seq2SeqConfig(embed, hidden, beam, 1.0, InverseSigmoid(tree_k), InverseSigmoid(graph_k))


class Seq2SeqTree(nn.Module):
    """TREE model (the contract of :mod:`seqbench_plugins.tasks.trees`)."""

    steps_seen: torch.Tensor

    def __init__(self, problem: TreeProblem, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = config
        self.vocab = JointVocab(problem.input_vocab, problem.label_vocab)
        self.grammar = BracketGrammar(self.vocab, problem)
        self.src_embed = nn.Embedding(problem.input_vocab, config.embed, padding_idx=0)
        self.encoder = Encoder(config.embed, config.hidden)
        self.tgt_embed = nn.Embedding(self.vocab.size, config.embed)
        self.decoder = AttentionDecoder(config.embed, config.hidden, config.hidden)
        self.head = nn.Linear(config.hidden, self.vocab.size)
        self.register_buffer("steps_seen", torch.zeros((), dtype=torch.long))

    def encode(self, src: torch.Tensor, src_len: torch.Tensor) -> tuple[Memory, torch.Tensor]:
        annotations, state, mask = self.encoder(self.src_embed(src), src_len)
        return self.decoder.memory(annotations, mask), state

    def logits(self, prev: torch.Tensor, state: torch.Tensor, memory: Memory) -> tuple[torch.Tensor, torch.Tensor]:
        readout, state, _ = self.decoder(self.tgt_embed(prev), state, memory)
        return self.head(readout), state

    def forward(self, batch: TreeBatch) -> torch.Tensor:
        memory, state = self.encode(batch.src, batch.src_len)
        inputs, gold = target_columns(batch.src, batch.lm_in), target_columns(batch.src, batch.lm_out)
        p_truth = 1.0  # evaluation: the teacher-forced NLL of the contract
        if self.training:
            p_truth = self.config.tree_schedule.truth_probability(int(self.steps_seen))
            self.steps_seen += 1
        prev, nll = inputs[:, 0], []
        for t in range(gold.shape[1]):
            logits, state = self.logits(prev, state, memory)
            nll.append(F.cross_entropy(logits, gold[:, t], reduction="none"))
            if t + 1 < gold.shape[1]:
                prev = inputs[:, t + 1]
                if p_truth < 1.0:  # one coin per token: the truth, or a token sampled from the model
                    sampled = torch.multinomial(F.softmax(logits.detach(), -1), 1).squeeze(1)
                    prev = torch.where(torch.rand(prev.shape, device=prev.device) < p_truth, prev, sampled)
        return (torch.stack(nll, 1) * target_columns(batch.src, batch.lm_mask)).sum(1)

    def stepper(self, memory: Memory, one_source: bool) -> Step:
        def step(tokens: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            rows = memory.take(torch.zeros_like(tokens)) if one_source else memory
            logits, state = self.logits(tokens, state, rows)
            return F.log_softmax(logits, -1), state
        return step

    @torch.no_grad()
    def decode(self, src: torch.Tensor, src_len: torch.Tensor) -> list[Tree]:
        memory, state = self.encode(src, src_len)
        v, width, limit = self.vocab, self.config.beam, self.grammar.max_len()
        if width == 1:
            seqs = greedy(self.stepper(memory, False), state, v.SEP, v.EOS, limit, self.grammar)
        else:
            seqs = [beam_search(self.stepper(memory.take(torch.tensor([i], device=src.device)), True),
                                state[i : i + 1], v.SEP, v.EOS, width, limit, self.config.length_penalty,
                                self.grammar) for i in range(len(src))]
        return [v.decode(s) for s in seqs]


class Seq2SeqGraph(nn.Module):
    """GRAPH model applied per sensor: (B, T_in, N, F_in) -> (B, T_out, N, F_out)."""

    steps_seen: torch.Tensor

    def __init__(self, problem: GraphProblem, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.problem, self.config = problem, config
        self.inp = nn.Linear(problem.in_features, config.embed)
        self.encoder = Encoder(config.embed, config.hidden)
        self.prev = nn.Linear(problem.out_features, config.embed)
        self.decoder = AttentionDecoder(config.embed, config.hidden, config.hidden)
        self.head = nn.Linear(config.hidden, problem.out_features)
        self.register_buffer("steps_seen", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        b, t, n, f = x.shape
        p = self.problem
        if (t, n, f) != (p.in_steps, p.num_nodes, p.in_features):
            raise ValueError(f"seq2seq input {tuple(x.shape)}, expected (B, {p.in_steps}, {p.num_nodes}, "
                             f"{p.in_features})")
        series = x.permute(0, 2, 1, 3).reshape(b * n, t, f)  # one sequence per (window, sensor)
        annotations, state, mask = self.encoder(self.inp(series), torch.full((b * n,), t, dtype=torch.long))
        memory = self.decoder.memory(annotations, mask)
        truth = None
        if targets is not None and self.training:
            truth = targets.permute(0, 2, 1, 3).reshape(b * n, p.out_steps, p.out_features)
            p_truth = self.config.graph_schedule.truth_probability(int(self.steps_seen))
            self.steps_seen += 1
        prev = x.new_zeros(b * n, p.out_features)  # GO symbol
        outputs = []
        for step in range(p.out_steps):
            readout, state, _ = self.decoder(self.prev(prev), state, memory)
            outputs.append(self.head(readout))
            prev = truth[:, step] if truth is not None and feed_truth(p_truth) else outputs[-1]
        return torch.stack(outputs, 1).reshape(b, n, p.out_steps, p.out_features).permute(0, 2, 1, 3)


def build(problem: TreeProblem | GraphProblem, preset: Preset, beam: int) -> nn.Module:
    if isinstance(problem, TreeProblem):
        return Seq2SeqTree(problem, config(preset, beam))
    if isinstance(problem, GraphProblem):
        return Seq2SeqGraph(problem, config(preset, beam))
    raise TypeError(f"seq2seq needs a TreeProblem or a GraphProblem, got {type(problem).__name__}")


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    paper = "Bahdanau et al. ICLR 2015; scheduled sampling: Bengio et al. NeurIPS 2015"
    tags = ("recurrent", "attention", "encoder-decoder")
    # Greedy differs from beam search only when decoding tokens: on traffic it would repeat seq2seq's jobs.
    return [ModelSpec(name, signatures, partial(build, beam=beam), f"BiGRU encoder, additive-attention GRU "
                      f"decoder, {how}, scheduled sampling", paper, tags=tags, config=partial(config, beam=beam))
            for name, signatures, beam, how in (("seq2seq", (TREE, GRAPH), 5, "beam search (5)"),
                                                ("seq2seq-greedy", (TREE,), 1, "greedy decoding"))]
