"""Language-modelling family: HMM oracle, n-gram baselines, corpus loaders, backbones."""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from seqbench_plugins.models.hmm import HMMConfig, HMMLanguageModel
from seqbench_plugins.models.ngram import KneserNey, NGramConfig, Unigram
from seqbench_plugins.models.tcn import TCN, TCNConfig
from seqbench_plugins.models.transformer import CausalTransformer, TransformerConfig
from seqbench_plugins.tasks.language.corpus import CorpusError, read_char_corpus, read_text, word_tokens
from seqbench_plugins.tasks.language.data import (
    IGNORE,
    forward_log_likelihood,
    make_hmm,
    oracle_nll,
    sample_hmm,
    stream_to_windows,
)

from seqbench.manager import get_registry
from seqbench.signatures import SeqProblem, TokenProblem
from seqbench.specs import TaskContext


# -- HMM language and its oracle ----------------------------------------------------------
def test_forward_algorithm_matches_brute_force_enumeration() -> None:
    hmm = make_hmm(states=3, vocab=4, seed=1, stickiness=0.3, sparsity=0.5)
    tokens = sample_hmm(hmm, 5, 5, np.random.default_rng(0))
    for seq, prefixes in zip(tokens, forward_log_likelihood(hmm, tokens), strict=True):
        for t in range(1, len(seq) + 1):
            total = 0.0
            for path in itertools.product(range(3), repeat=t):  # sum over every hidden path
                p = hmm.initial[path[0]] * hmm.emission[path[0], seq[0]]
                for i in range(1, t):
                    p *= hmm.transition[path[i - 1], path[i]] * hmm.emission[path[i], seq[i]]
                total += p
            assert prefixes[t - 1] == pytest.approx(math.log(total), rel=1e-9)
    nll, count = oracle_nll(hmm, tokens)
    assert count == 5 * 4
    logp = forward_log_likelihood(hmm, tokens)
    assert nll == pytest.approx(-(logp[:, -1] - logp[:, 0]).sum())


def test_hmm_model_with_true_parameters_reaches_the_oracle() -> None:
    hmm = make_hmm(states=4, vocab=6, seed=2)
    tokens = torch.from_numpy(sample_hmm(hmm, 8, 12, np.random.default_rng(3)))
    model = HMMLanguageModel(TokenProblem(6, 11), HMMConfig(states=4))
    with torch.no_grad():  # softmax(log p) = p: load the generating HMM
        model.initial.copy_(torch.from_numpy(np.log(hmm.initial)))
        model.transition.copy_(torch.from_numpy(np.log(hmm.transition)))
        model.emission.copy_(torch.from_numpy(np.log(hmm.emission)))
    logits = model(tokens[:, :-1]).double()
    nll = -logits.gather(2, tokens[:, 1:, None]).sum().item()
    assert nll == pytest.approx(oracle_nll(hmm, tokens.numpy())[0], rel=1e-4)


def test_hmm_task_is_deterministic_and_reports_the_oracle() -> None:
    spec = get_registry().task("lm-hmm")
    a, b = spec.build(TaskContext("smoke")), spec.build(TaskContext("smoke"))
    assert torch.equal(a.splits["test"][0], b.splits["test"][0])  # type: ignore[attr-defined]
    ref = a.reference()
    assert ref["perplexity"] == pytest.approx(math.exp(ref["cross_entropy"])) and ref["oracle_ratio"] == 1.0


# -- windows and whole-split metrics ------------------------------------------------------
def test_windows_predict_every_token_once_and_pad_the_last() -> None:
    inputs, targets = stream_to_windows(torch.arange(10), 4)
    assert inputs.shape == (3, 4)
    assert targets[targets != IGNORE].tolist() == list(range(1, 10))
    assert (inputs.flatten()[:9] == torch.arange(9)).all()


def test_evaluate_is_total_nll_over_all_tokens() -> None:
    task = get_registry().task("lm-chars").build(TaskContext("smoke"))
    model = Unigram(TokenProblem(task.vocab_size, 32))  # type: ignore[attr-defined]
    model.fit(task.eval_batches("train", 7))
    metrics = task.evaluate(model, "test", torch.device("cpu"))
    _, targets = task.splits["test"]  # type: ignore[attr-defined]
    valid = targets[targets != IGNORE]
    assert model.log_prob is not None
    expected = -model.log_prob[valid].double().mean().item()
    assert metrics["cross_entropy"] == pytest.approx(expected, rel=1e-5)
    assert metrics["bits_per_char"] == pytest.approx(expected / math.log(2), rel=1e-5)


# -- n-gram baselines ----------------------------------------------------------------------
def _reference_kn(seqs: list[list[int]], order: int, v: int) -> Callable[[int, list[int]], float]:
    """Modified Kneser-Ney written directly from Chen & Goodman's definitions, with dicts."""
    counts: list[Counter[tuple[int, ...]]] = [Counter() for _ in range(order + 1)]
    for s in seqs:
        counts[order].update(tuple(s[i : i + order]) for i in range(len(s) - order + 1))
    for k in range(1, order):
        longer = {tuple(s[i : i + k + 1]) for s in seqs for i in range(len(s) - k)}
        counts[k].update(g[1:] for g in longer)
    disc: list[list[float]] = []
    total: list[defaultdict[tuple[int, ...], float]] = [defaultdict(float) for _ in counts]
    removed: list[defaultdict[tuple[int, ...], float]] = [defaultdict(float) for _ in counts]
    for k in range(order + 1):
        n = [list(counts[k].values()).count(i) for i in range(1, 5)]
        y = n[0] / (n[0] + 2 * n[1]) if min(n) else 0
        disc.append([min(max(i - (i + 1) * y * n[i] / n[i - 1], 0), i) for i in (1, 2, 3)] if min(n) else [0.75] * 3)
        for g, c in counts[k].items():
            total[k][g[:-1]] += c
            removed[k][g[:-1]] += min(c, disc[k][min(c, 3) - 1])

    def prob(w: int, history: list[int]) -> float:
        p = 1.0 / v
        for k in range(1, min(order, len(history) + 1) + 1):
            h = tuple(history[len(history) - k + 1 :]) if k > 1 else ()
            if total[k][h]:
                c = counts[k][(*h, w)]
                p = max(c - (disc[k][min(c, 3) - 1] if c else 0), 0) / total[k][h] + removed[k][h] / total[k][h] * p
        return p

    return prob


def test_kneser_ney_matches_reference_and_is_normalised() -> None:
    rng = np.random.default_rng(0)
    v, order = 5, 3
    train, test = torch.from_numpy(rng.integers(0, v, (200, 9))), torch.from_numpy(rng.integers(0, v, (3, 9)))
    model = KneserNey(TokenProblem(v, 8), NGramConfig(order))
    model.fit([(train[:, :-1], train[:, 1:])])
    logp = model(test[:, :-1])
    assert torch.allclose(logp.exp().sum(-1), torch.ones(3, 8), atol=1e-5)
    prob = _reference_kn(train.tolist(), order, v)
    for b, t, w in itertools.product(range(3), range(8), range(v)):
        assert logp[b, t, w].item() == pytest.approx(math.log(prob(w, test[b, : t + 1].tolist())), abs=1e-5)


def test_unigram_is_normalised_and_smoothed() -> None:
    model = Unigram(TokenProblem(4, 3))
    model.fit([(torch.tensor([[0, 0, 1]]), torch.tensor([[0, 1, IGNORE]]))])
    logp = model(torch.zeros(2, 3, dtype=torch.long))
    assert logp.shape == (2, 3, 4) and torch.allclose(logp.exp().sum(-1), torch.ones(2, 3))
    assert torch.allclose(logp[0, 0].exp(), torch.tensor([3.0, 2.0, 1.0, 1.0]) / 7)  # tokens 0 0 1: add-one counts


# -- corpus loaders ------------------------------------------------------------------------
def _write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_ptb_loader_and_task(tmp_path: Path) -> None:
    d = _write(tmp_path / "ptb", {"ptb.train.txt": " the cat sat \n the <unk> ran \n", "ptb.valid.txt": " the cat \n",
                                  "ptb.test.txt": " a dog sat \n"})
    spec = get_registry().task("lm-ptb")
    assert spec.available({"ptb": str(d)}) is None
    task = spec.build(TaskContext("smoke", {"ptb": str(d)}))
    assert task.vocab_size == 6  # type: ignore[attr-defined]  # <eos> <unk> cat ran sat the
    inputs, targets = task.splits["test"]  # type: ignore[attr-defined]
    # "a dog sat <eos>": unseen words map to <unk> (index 1 in the sorted vocabulary)
    assert [inputs[0, 0].item(), *targets[targets != IGNORE].tolist()] == [1, 1, 4, 0]


def test_wikitext2_keeps_blank_lines_as_eos(tmp_path: Path) -> None:
    tokens = ["=", "Title", "=", "<eos>", "<eos>", "words", "here", "<eos>"]
    assert word_tokens(" = Title = \n\n words here \n") == tokens
    files = {"wiki.train.tokens": " a b \n\n b c \n", "wiki.valid.tokens": " a \n", "wiki.test.tokens": " c \n"}
    d = _write(tmp_path, files)
    task = get_registry().task("lm-wikitext2").build(TaskContext("smoke", {"wikitext2": str(d)}))
    assert task.vocab_size == 5  # type: ignore[attr-defined]


def test_text_loader_file_and_directories(tmp_path: Path) -> None:
    text = "hello world, " * 20
    corpus = read_char_corpus(_write(tmp_path / "one", {"a.txt": text}) / "a.txt")
    assert sum(len(s) for s in corpus.streams.values()) == len(text)
    split_dir = _write(tmp_path / "splits", {"train.txt": "abcabc", "valid.txt": "abz", "test.txt": "cab"})
    corpus = read_char_corpus(split_dir)
    assert corpus.streams["val"][-1].item() == corpus.vocab.index("<unk>")  # 'z' never seen in training
    many = _write(tmp_path / "many", {"b.txt": text, "a.txt": text})
    task = get_registry().task("lm-text").build(TaskContext("smoke", {"text": str(many)}))
    assert task.vocab_size == len(set(text + "\n")) + 1  # type: ignore[attr-defined]  # files joined by newlines


def test_unavailable_with_reason(tmp_path: Path) -> None:
    registry = get_registry()
    for name, key in (("lm-ptb", "ptb"), ("lm-wikitext2", "wikitext2"), ("lm-text", "text")):
        reason = registry.task(name).available({})
        assert reason is not None and f"--data {key}=" in reason
    _write(tmp_path, {"ptb.train.txt": "a\n"})
    reason = registry.task("lm-ptb").available({"ptb": str(tmp_path)})
    assert reason is not None and "ptb.valid.txt" in reason and "ptb.test.txt" in reason
    assert "does not exist" in (registry.task("lm-text").available({"text": str(tmp_path / "nope")}) or "")


@pytest.mark.parametrize(("content", "message"), [(b"", "empty"), (b"ab\x00cd", "binary"), (b"ab\xffcd", "not UTF-8")])
def test_corrupt_files_give_clear_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        read_text(path)


def test_too_small_split_is_an_error(tmp_path: Path) -> None:
    d = _write(tmp_path, {"train.txt": "abc", "valid.txt": "ab", "test.txt": "a"})
    with pytest.raises(CorpusError, match=r"test.txt: test split has 1 tokens, need at least 2"):
        get_registry().task("lm-text").build(TaskContext("smoke", {"text": str(d)}))


# -- backbones -----------------------------------------------------------------------------
def _causal(module: torch.nn.Module) -> None:
    module.eval()
    x = torch.randn(2, 20, 5)
    y = x.clone()
    y[:, 11:] = torch.randn(2, 9, 5)
    with torch.no_grad():
        a, b = module(x), module(y)
    assert torch.allclose(a[:, :11], b[:, :11], atol=1e-6)
    assert not torch.allclose(a[:, 11:], b[:, 11:])


def test_tcn_is_causal() -> None:
    _causal(TCN(SeqProblem(5, 20), TCNConfig(channels=8, levels=3, kernel=3, dropout=0.0)))


@pytest.mark.parametrize("positions", ["learned", "sinusoidal"])
def test_transformer_is_causal_and_step_equals_forward(positions: str) -> None:
    config = TransformerConfig(d_model=16, layers=2, heads=2, d_ff=32, dropout=0.1, positions=positions)  # type: ignore[arg-type]
    model = CausalTransformer(SeqProblem(5, 20), config)
    _causal(model)
    x = torch.randn(3, 20, 5)
    with torch.no_grad():
        full = model(x)
        state = None
        for t in range(20):
            out, state = model.step(x[:, t], state)
            assert torch.allclose(out, full[:, t], atol=1e-5)
