"""Action anticipation: synthetic streams, metrics, RU-LSTM and the baselines."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from seqbench_plugins.models.anticipation_baselines import GrammarPrior
from seqbench_plugins.models.rulstm import RULSTM, SIZES, Branch, RULSTMConfig
from seqbench_plugins.tasks.anticipation import SYNTH, synth_data
from seqbench_plugins.tasks.anticipation.metrics import AnticipationMetrics, metric_specs
from seqbench_plugins.tasks.anticipation.synth import make_world
from seqbench_plugins.tasks.anticipation.task import ConcatAdapter

from seqbench.signatures import PREVIOUS_ACTION, MultimodalProblem

DIMS = (("rgb", 6), ("flow", 5), ("obj", 7))


def _problem(train_steps: int = 0, actions: int = 9) -> MultimodalProblem:
    return MultimodalProblem(DIMS, actions, 14, 8, 0.25, train_steps)


def _streams(b: int = 3) -> dict[str, torch.Tensor]:
    out = {m: torch.randn(b, 14, d) for m, d in DIMS}
    out[PREVIOUS_ACTION] = torch.tensor([-1, 0, 4][:b])
    return out


def test_synthetic_streams_are_deterministic_and_split_by_video() -> None:
    a, b = synth_data(SYNTH["smoke"], 3), synth_data(SYNTH["smoke"], 3)
    for split in ("train", "val", "test"):
        for m in ("rgb", "flow", "obj"):
            assert torch.equal(a.splits[split].features[m], b.splits[split].features[m])
        assert torch.equal(a.splits[split].action, b.splits[split].action)
    assert not torch.equal(a.splits["val"].features["rgb"][:50], a.splits["test"].features["rgb"][:50])
    streams, action = a.splits["train"].batch(torch.arange(4))
    assert streams["rgb"].shape == (4, 14, 16) and streams["obj"].shape == (4, 14, 352)
    assert action.shape == (4,) and streams[PREVIOUS_ACTION].min() >= 0
    other = synth_data(SYNTH["smoke"], 4)
    assert not torch.equal(other.splits["train"].action, a.splits["train"].action)


def test_grammar_never_repeats_an_action_and_objects_announce_the_next_noun() -> None:
    config = SYNTH["smoke"]
    world = make_world(config, 0)
    assert torch.isinf(torch.from_numpy(world.logits).diagonal(dim1=1, dim2=2)).all()
    data = synth_data(replace(config, videos=(40, 2, 2)), 0)
    train = data.splits["train"]
    streams, action = train.batch(torch.arange(len(train)))
    noun = data.noun_of[action]
    obj = streams["obj"]
    last = obj[torch.arange(len(noun)), -1, noun]  # 0.25 s before the action
    first = obj[torch.arange(len(noun)), 0, noun]  # 3.5 s before
    assert last.mean() > first.mean() + 0.2  # the next object shows up as the action nears


def test_metrics_by_hand() -> None:
    verb_of, noun_of = torch.tensor([0, 0, 1, 1, 2, 2]), torch.tensor([0, 1, 0, 1, 0, 1])
    metrics = AnticipationMetrics(verb_of, noun_of, steps=8, step_seconds=0.25)
    logits = torch.zeros(2, 8, 6)
    logits[0, :, 5] = 10.0  # sample 0 (label 5): right at every step
    logits[1, :, 0] = 10.0  # sample 1 (label 3): top-1 wrong
    logits[1, :4, 3] = -10.0  # ... and last of 6 at the first four steps (tau_a 2 .. 1.25 s)
    metrics.update(logits, torch.tensor([5, 3]))
    out = metrics.compute()
    assert out["top1@1s"] == 50.0
    assert out["top5@1s"] == 100.0 and out["top5@2s"] == 50.0 and out["top5@1.25s"] == 50.0
    assert out["mean_top5_recall@1s"] == 100.0
    assert out["verb_top5@1s"] == 100.0  # only 3 verbs: always in the top 5
    names = [m.name for m in metric_specs(8, 0.25)]
    assert names[0] == "top5@1s" and len(names) == len(set(names)) == 5 + 7
    with pytest.raises(ValueError, match="expected"):
        metrics.update(torch.zeros(2, 7, 6), torch.tensor([0, 1]))


def test_mean_recall_weighs_classes_equally() -> None:
    metrics = AnticipationMetrics(torch.arange(8), torch.arange(8), steps=8, step_seconds=0.25)
    logits = torch.zeros(4, 8, 8)
    logits[:, :, :5] = torch.arange(5, 0, -1).float()  # top 5 = classes 0..4 for everyone
    metrics.update(logits, torch.tensor([0, 0, 0, 7]))  # class 0 always right, class 7 never
    out = metrics.compute()
    assert out["top5@1s"] == 75.0 and out["mean_top5_recall@1s"] == 50.0


@pytest.mark.parametrize("fusion", ["matt", "late"])
def test_rulstm_is_causal_per_anticipation_step(fusion: str) -> None:
    torch.manual_seed(0)
    model = RULSTM(_problem(), replace(SIZES["smoke"], dropout=0.0), ("rgb", "flow", "obj"), fusion).eval()
    x = _streams()
    y = model(x)
    assert y.shape == (3, 8, 9)
    for s in range(8):  # output s sees steps <= 6 + s only
        changed = {k: v.clone() for k, v in x.items()}
        for m, _ in DIMS:
            changed[m][:, 7 + s :] = torch.randn_like(changed[m][:, 7 + s :])
        z = model(changed)
        assert torch.allclose(z[:, : s + 1], y[:, : s + 1], atol=1e-5)
        if s < 7:
            assert not torch.allclose(z[:, s + 1 :], y[:, s + 1 :])


def test_unrolling_matches_pytorch_lstms_run_from_each_state() -> None:
    """The step-by-step branch equals the reference recipe run with PyTorch's own LSTM: roll,
    then from each anticipation step's state unroll the repeated input (or the future)."""
    torch.manual_seed(0)
    branch = Branch(6, _problem(), RULSTMConfig(hidden=5, dropout=0.0)).eval()
    x = torch.randn(2, 14, 6)
    logits, context = branch(x)
    future_logits, _ = branch(x, completion=True)
    rolling, unrolling = torch.nn.LSTM(6, 5, batch_first=True), torch.nn.LSTM(6, 5, batch_first=True)
    for lstm, cell in ((rolling, branch.rolling), (unrolling, branch.unrolling)):
        lstm.load_state_dict({k + "_l0": v for k, v in cell.state_dict().items()})
    for t in range(6, 14):
        s = t - 6
        _, (h, c) = rolling(x[:, : t + 1])
        out, _ = unrolling(x[:, t : t + 1].expand(-1, 14 - t + 1, -1), (h, c))  # steps left + 1
        assert torch.allclose(logits[:, s], branch.classifier(out[:, -1]), atol=1e-5)
        assert torch.allclose(context[:, s, 5:], c[0], atol=1e-5)
        out, _ = unrolling(x[:, t:], (h, c))  # SCP: the real future features
        assert torch.allclose(future_logits[:, s], branch.classifier(out[:, -1]), atol=1e-5)


def test_training_stages_follow_the_budget() -> None:
    model = RULSTM(_problem(train_steps=9), SIZES["smoke"], ("rgb", "flow", "obj"), "matt")
    heads = [len(model.training_logits(_streams())) for _ in range(9)]
    assert heads == [3, 3, 3, 3, 3, 3, 1, 1, 1]  # SCP, branches alone, fused
    single = RULSTM(_problem(train_steps=9), SIZES["smoke"], ("rgb",), "single")
    assert single.scp_steps == 3 and single.fuse_from == 3
    with pytest.raises(ValueError, match="modalities"):
        RULSTM(_problem(), SIZES["smoke"], ("audio",), "single")


def test_reference_branch_has_19_4_million_parameters() -> None:
    """One RGB branch at the reference configuration (1024-d features, hidden 1024, 2513 actions)."""
    problem = MultimodalProblem((("rgb", 1024),), 2513, 14)
    model = RULSTM(problem, SIZES["paper"], ("rgb",), "single")
    lstm = 4 * 1024 * (1024 + 1024) + 2 * 4 * 1024
    assert sum(p.numel() for p in model.parameters()) == 2 * lstm + 1024 * 2513 + 2513 == 19_369_425


def test_concat_adapter_is_causal() -> None:
    from seqbench_plugins.models.rnn import SIZES as RNN_SIZES
    from seqbench_plugins.models.rnn import RecurrentBackbone

    from seqbench.signatures import SeqProblem

    torch.manual_seed(0)
    adapter = ConcatAdapter(RecurrentBackbone("gru", SeqProblem(18, 14), RNN_SIZES["smoke"]), ("rgb", "flow", "obj"), 9)
    x = _streams()
    y = adapter(x)
    assert y.shape == (3, 8, 9)
    x["rgb"][:, 10:] = 0.0
    assert torch.allclose(adapter(x)[:, :4], y[:, :4])


def test_grammar_prior_ranks_the_most_frequent_successor_first() -> None:
    model = GrammarPrior(_problem(actions=4))
    prev = torch.tensor([0, 0, 0, 1, -1, 1])
    nxt = torch.tensor([2, 2, 3, 3, 1, 3])
    model.fit([({PREVIOUS_ACTION: prev}, nxt)])
    out = model({PREVIOUS_ACTION: torch.tensor([0, 1, -1, 2])})
    assert out.shape == (4, 8, 4)
    assert out[0, 0].argmax() == 2 and out[1, 0].argmax() == 3 and out[2, 0].argmax() == 1
    assert out[3, 0].argmax() == 3  # never seen after 2: the class prior (3 is most frequent)
    prior = GrammarPrior(_problem(actions=4), conditional=False)
    prior.fit([({PREVIOUS_ACTION: prev}, nxt)])
    assert (prior({PREVIOUS_ACTION: torch.tensor([0, 1])})[:, 0].argmax(-1) == 3).all()
