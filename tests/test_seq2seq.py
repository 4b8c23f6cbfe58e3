"""The attention sequence-to-sequence model (Bahdanau et al. 2015) and its decoding, and the
scheduled-sampling schedule it shares with DCRNN (Bengio et al. 2015)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest
import torch
from seqbench_plugins.models.dcrnn import SIZES as DCRNN_SIZES
from seqbench_plugins.models.scheduled_sampling import InverseSigmoid
from seqbench_plugins.models.seq2seq import Seq2SeqGraph, Seq2SeqTree, config
from seqbench_plugins.models.seq2seq_decode import beam_search, greedy
from seqbench_plugins.models.seq2seq_layers import AdditiveAttention, Encoder
from seqbench_plugins.tasks.trees.batch import JointVocab, collate, encode

from seqbench.manager import get_registry, validate_model
from seqbench.plan import make_plan
from seqbench.signatures import GraphProblem, TreeProblem
from seqbench.trees import Tree

LIMITS = TreeProblem(input_vocab=9, label_vocab=8, max_input_len=10, max_nodes=6, max_depth=3, max_children=2)


def _sources(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, LIMITS.max_input_len + 1, (n,), generator=g)
    src = torch.randint(1, LIMITS.input_vocab, (n, int(lengths.max())), generator=g)
    src[torch.arange(src.shape[1])[None, :] >= lengths[:, None]] = 0
    return src, lengths


def test_attention_weights_sum_to_one_skip_padding_and_follow_the_encoder_states() -> None:
    torch.manual_seed(0)
    attention = AdditiveAttention(state=6, annotation=8, width=5)
    annotations, state = torch.randn(3, 7, 8), torch.randn(3, 6)
    mask = torch.arange(7)[None, :] < torch.tensor([7, 4, 1])[:, None]
    context, weights = attention(state, attention.keys(annotations), annotations, mask)
    assert torch.allclose(weights.sum(-1), torch.ones(3))
    assert (weights[~mask] == 0).all() and (weights[mask] > 0).all()
    assert torch.allclose(weights[2, 0], torch.tensor(1.0)) and torch.allclose(context[2], annotations[2, 0])
    moved = annotations.clone()
    moved[0, 3] += 2.0
    _, other = attention(state, attention.keys(moved), moved, mask)
    assert not torch.allclose(other[0], weights[0]) and torch.allclose(other[1:], weights[1:])


def test_encoder_ignores_padding() -> None:
    torch.manual_seed(0)
    encoder = Encoder(4, 5)
    x, lengths = torch.randn(2, 6, 4), torch.tensor([6, 3])
    padded = x.clone()
    padded[1, 3:] = 100.0
    a, s0, mask = encoder(x, lengths)
    b, t0, _ = encoder(padded, lengths)
    assert torch.allclose(a[1, :3], b[1, :3]) and torch.allclose(s0, t0)
    assert mask.tolist() == [[True] * 6, [True] * 3 + [False] * 3]


def _model(beam: int, seed: int = 0) -> Seq2SeqTree:
    torch.manual_seed(seed)
    return Seq2SeqTree(LIMITS, config("smoke", beam)).eval()


def test_beam_width_one_is_greedy() -> None:
    model = _model(beam=1)
    src, lengths = _sources(12)
    memory, state = model.encode(src, lengths)
    v, limit = model.vocab, model.grammar.max_len()
    batched = greedy(model.stepper(memory, False), state, v.SEP, v.EOS, limit, model.grammar)
    for i in range(len(src)):
        one = memory.take(torch.tensor([i]))
        beam = beam_search(model.stepper(one, True), state[i : i + 1], v.SEP, v.EOS, 1, limit, 1.0, model.grammar)
        assert beam == batched[i]
    assert [str(t) for t in model.decode(src, lengths)] == [str(v.decode(s)) for s in batched]


def _table_step(table: torch.Tensor):
    """A step function whose next-token distribution depends only on the previous token."""
    def step(tokens: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return table[tokens].log(), state
    return step


def test_beam_search_finds_a_sequence_greedy_misses() -> None:
    # tokens: 0 BOS, 1 EOS, 2 "likely first", 3 "unlikely first". After 2 the mass is spread
    # over 5 tokens (EOS 0.24, four others 0.19); after 3, EOS is certain.
    table = torch.full((8, 8), 1e-9)
    table[0, 2], table[0, 3] = 0.6, 0.4
    table[2, 1], table[2, [4, 5, 6, 7]] = 0.24, 0.19
    table[3, 1] = 1.0
    table[4:, 1] = 1.0
    table = table / table.sum(1, keepdim=True)
    step, state = _table_step(table), torch.zeros(1, 1)
    found_greedy = greedy(step, state, 0, 1, 5)[0]
    found_beam = beam_search(step, state, 0, 1, width=2, max_len=5, alpha=0.0)
    assert found_greedy == [2, 1] and found_beam == [3, 1]

    def logp(seq: list[int]) -> float:
        return sum(math.log(table[a, b]) for a, b in zip([0, *seq], seq, strict=False))
    assert logp(found_beam) > logp(found_greedy)
    assert beam_search(step, state, 0, 1, width=1, max_len=5) == found_greedy


def test_length_normalisation_and_unfinished_hypotheses() -> None:
    # EOS now (p 0.6) or the only continuation 2 3 4 EOS (p 0.4): raw log P prefers stopping,
    # log P per token prefers the longer output. Zero entries are impossible tokens (log 0 = -inf).
    table = torch.zeros(6, 6)
    table[0, 1], table[0, 2] = 0.6, 0.4
    table[2, 3] = table[3, 4] = table[4, 1] = table[1, 1] = table[5, 1] = 1.0
    step, state = _table_step(table), torch.zeros(1, 1)
    assert beam_search(step, state, 0, 1, width=2, max_len=6, alpha=0.0) == [1]
    assert beam_search(step, state, 0, 1, width=2, max_len=6, alpha=1.0) == [2, 3, 4, 1]
    assert beam_search(step, state, 0, 1, width=2, max_len=2, alpha=1.0) == [1]  # a finished one beats a cut one
    only_long = table.clone()
    only_long[0] = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    assert beam_search(_table_step(only_long), state, 0, 1, width=2, max_len=2) == [2, 3]  # none finished: cut
    with pytest.raises(ValueError, match="beam width"):
        beam_search(step, state, 0, 1, width=0, max_len=2)


@pytest.mark.parametrize("beam", [1, 3])
def test_decoded_trees_respect_the_limits(beam: int) -> None:
    model = _model(beam)
    v = model.vocab
    with torch.no_grad():  # a model that wants to grow forever: only the grammar stops it
        model.head.bias.fill_(0.0)
        model.head.bias[v.OPEN] = 8.0
        model.head.bias[v.first_label :] = 6.0
        model.head.bias[[v.CLOSE, v.EOS]] = -8.0
    src, lengths = _sources(10)
    trees = model.decode(src, lengths)
    assert len(trees) == 10 and all(isinstance(t, Tree) for t in trees)
    assert all(t.size() <= LIMITS.max_nodes and t.depth() <= LIMITS.max_depth
               and t.max_children() <= LIMITS.max_children for t in trees)
    assert max(t.size() for t in trees) == LIMITS.max_nodes  # it did grow up to the limit


def _batch() -> object:
    vocab = JointVocab(LIMITS.input_vocab, LIMITS.label_vocab)
    trees = [Tree(1, [Tree(2), Tree(3, [Tree(4)])]), Tree(5), Tree(6, [Tree(7)])]
    return collate([encode([1, 2, 3], trees[0], vocab), encode([4], trees[1], vocab),
                    encode([5, 6, 7, 8, 1], trees[2], vocab)], vocab)


def test_tree_nll_is_teacher_forced_in_eval_and_scheduled_in_training() -> None:
    model, batch = _model(beam=1), _batch()
    nll = model(batch)
    assert nll.shape == (3,) and (nll > 0).all() and torch.equal(nll, model(batch))
    assert int(model.steps_seen) == 0  # evaluation does not advance the schedule
    model.train()
    torch.manual_seed(1)
    model(batch).sum().backward()
    assert int(model.steps_seen) == 1
    assert all(p.grad is not None for p in (model.head.weight, model.decoder.attention.key.weight))
    model.steps_seen.fill_(1000)  # late in the schedule (k = 2 at smoke): the model is fed its own samples
    with torch.no_grad():
        assert not torch.allclose(model(batch), model.eval()(batch))


def test_schedule_values() -> None:
    k = 30.0
    s = InverseSigmoid(k)
    assert s.truth_probability(0) == pytest.approx(k / (k + 1))
    assert s.truth_probability(round(k * math.log(k))) == pytest.approx(0.5, abs=0.02)  # eps = 1/2 at i = k ln k
    values = [s.truth_probability(i) for i in range(0, 1000, 50)]
    assert all(a > b for a, b in itertools.pairwise(values))
    assert InverseSigmoid(2.0).truth_probability(10**6) == 0.0  # exp would overflow: the limit is 0
    with pytest.raises(ValueError, match=">= 1"):
        InverseSigmoid(0.5)
    assert DCRNN_SIZES["quick"].decay == 30.0  # DCRNN uses the same schedule (bit-identical outputs)


def _graph() -> GraphProblem:
    adj = np.random.default_rng(0).random((4, 4))
    return GraphProblem(num_nodes=4, in_features=3, out_features=1, in_steps=5, out_steps=4, adjacency=adj)


def test_traffic_path_sees_only_the_past_and_one_sensor() -> None:
    torch.manual_seed(0)
    model = Seq2SeqGraph(_graph(), config("smoke", 1)).eval()
    x, y = torch.randn(2, 5, 4, 3), torch.randn(2, 4, 4, 1)
    out = model(x)
    assert out.shape == (2, 4, 4, 1)
    assert torch.equal(model(x, targets=y), out)  # evaluation ignores the future
    other = x.clone()
    other[:, :, 2] += 1.0  # another sensor's history changes its forecast only
    moved = model(other)
    assert torch.allclose(moved[:, :, [0, 1, 3]], out[:, :, [0, 1, 3]]) and not torch.allclose(moved[:, :, 2],
                                                                                              out[:, :, 2])
    # Teacher forcing (k huge: truth fed with probability ~1): the forecast of horizon h may use
    # the targets before h, never those at or after it.
    forced = Seq2SeqGraph(_graph(), config("smoke", 1)).train()
    object.__setattr__(forced.config, "graph_schedule", InverseSigmoid(1e9))
    torch.manual_seed(3)
    a = forced(x, targets=y)
    later = y.clone()
    later[:, 2:] += 5.0
    torch.manual_seed(3)
    b = forced(x, targets=later)
    assert torch.equal(a[:, :3], b[:, :3]) and not torch.allclose(a[:, 3], b[:, 3])


def test_graph_input_shape_is_checked() -> None:
    model = Seq2SeqGraph(_graph(), config("smoke", 1))
    with pytest.raises(ValueError, match="expected"):
        model(torch.randn(2, 6, 4, 3))


def test_decoding_strategy_lands_in_the_job_config() -> None:
    registry = get_registry()
    plan = make_plan(registry, ["seq2seq", "seq2seq-greedy", "drnn"], ["tree-synthetic"], ["cpu"], [0], "quick")
    configs = {job.model: job.to_dict() for job in plan.jobs}
    beam, greedy_, drnn = configs["seq2seq"], configs["seq2seq-greedy"], configs["drnn"]
    assert beam["model_config"]["beam"] == 5 and beam["model_config"]["decoding"].startswith("beam search")
    assert greedy_["model_config"]["beam"] == 1 and greedy_["model_config"]["decoding"] == "greedy"
    assert beam["model_config"]["tree_schedule"] == {"decay": 200.0}
    assert "model_config" not in drnn  # models without a config keep their config hashes
    assert json.loads(registry.model("seq2seq").config_json("smoke"))["beam"] == 5
    skipped = {s.task for s in plan.skipped}
    assert not skipped
    traffic = make_plan(registry, ["seq2seq-greedy"], ["traffic-metr-la"], ["cpu"], [0], "smoke")
    assert not traffic.jobs  # greedy = beam search on real-valued outputs: never a duplicate job


def test_a_model_config_that_does_not_serialise_is_refused() -> None:
    good = get_registry().model("seq2seq")
    validate_model(good)
    with pytest.raises(TypeError, match="config"):
        validate_model(dataclasses.replace(good, config=lambda preset: {"beam": object()}))
