"""Language-modelling tasks: a synthetic HMM language with its exact oracle, CPython's docs
at character level, Penn Treebank, WikiText-2 and any plain text file.

Mikolov et al., "Recurrent neural network based language model", Interspeech 2010 (PTB
setup); Merity et al., ICLR 2017 (WikiText-2); Rabiner 1989 (HMM forward algorithm).
Accepts ``TOKENS`` models directly and ``CAUSAL_SEQ`` backbones through embedding -> backbone
-> linear head. Perplexity (or bits per character) over the whole test split.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from seqbench import hookimpl
from seqbench.signatures import CAUSAL_SEQ, TOKENS
from seqbench.specs import Budget, MetricSpec, Preset, TaskContext, TaskSpec
from seqbench_plugins.tasks.language import corpus as lm_corpus
from seqbench_plugins.tasks.language.data import make_hmm, oracle_nll, sample_hmm, sequences_to_pairs, stream_to_windows
from seqbench_plugins.tasks.language.task import LanguageTask, LMConfig


@dataclass(frozen=True)
class HMMTaskConfig:
    """The synthetic language (fixed across presets) and how much of it each split holds."""

    lm: LMConfig
    train: int  # sequences
    val: int
    test: int
    states: int = 32
    vocab: int = 32
    stickiness: float = 0.5
    sparsity: float = 0.05
    language_seed: int = 2026  # the HMM's parameters; samples use TaskContext.data_seed


HMM_SIZES: dict[Preset, HMMTaskConfig] = {
    "smoke": HMMTaskConfig(LMConfig(length=32, embedding=16), train=256, val=64, test=64),
    "quick": HMMTaskConfig(LMConfig(length=64, embedding=64), train=16000, val=400, test=1000),
    "paper": HMMTaskConfig(LMConfig(length=128, embedding=128), train=100000, val=2000, test=5000),
}
CHAR_SIZES: dict[Preset, LMConfig] = {
    "smoke": LMConfig(length=32, embedding=16),
    "quick": LMConfig(length=64, embedding=64, dropout=0.1),
    "paper": LMConfig(length=256, embedding=128, dropout=0.1),
}
WORD_SIZES: dict[Preset, LMConfig] = {
    "smoke": LMConfig(length=16, embedding=16),
    "quick": LMConfig(length=35, embedding=128, dropout=0.2),
    "paper": LMConfig(length=35, embedding=650, dropout=0.5),  # Zaremba et al. 2014, medium
}
SMOKE_WINDOWS = 64  # at smoke, each split is cut to its first windows so every pair runs in seconds

HMM_BUDGETS: dict[Preset, Budget] = {
    "smoke": Budget(steps=20, batch_size=16, lr=3e-3, eval_batch_size=64),
    "quick": Budget(steps=800, batch_size=32, lr=3e-3, eval_every=200),
    "paper": Budget(steps=30000, batch_size=64, lr=1e-3, eval_every=2000),
}
CHAR_BUDGETS: dict[Preset, Budget] = {
    "smoke": Budget(steps=20, batch_size=16, lr=3e-3, eval_batch_size=64),
    "quick": Budget(steps=800, batch_size=32, lr=3e-3, eval_every=200, eval_batch_size=128),
    "paper": Budget(steps=50000, batch_size=64, lr=1e-3, eval_every=2000, eval_batch_size=128),
}
WORD_BUDGETS: dict[Preset, Budget] = {  # eval batches small: n-gram baselines return (B, T, V) dense logits
    "smoke": Budget(steps=20, batch_size=16, lr=3e-3, eval_batch_size=32),
    "quick": Budget(steps=1000, batch_size=32, lr=3e-3, eval_every=250, eval_batch_size=32),
    "paper": Budget(steps=40000, batch_size=20, lr=1e-3, eval_every=2000, eval_batch_size=32),
}

CE = MetricSpec("cross_entropy", "min", "mean next-token negative log-likelihood", "nats")
PPL = MetricSpec("perplexity", "min", "exp(cross_entropy) over the whole test split")
BPC = MetricSpec("bits_per_char", "min", "cross_entropy / ln 2 per character", "bits/char")
RATIO = MetricSpec("oracle_ratio", "min", "perplexity / the true HMM's perplexity on the same test set")


def build_hmm(spec: TaskSpec, context: TaskContext) -> LanguageTask:
    config = HMM_SIZES[context.preset]
    hmm = make_hmm(config.states, config.vocab, config.language_seed, config.stickiness, config.sparsity)
    rng = np.random.default_rng(context.data_seed)
    sizes = {"train": config.train, "val": config.val, "test": config.test}
    data = {k: sample_hmm(hmm, n, config.lm.length + 1, rng) for k, n in sizes.items()}
    nll, count = oracle_nll(hmm, data["test"])
    oracle = {"cross_entropy": nll / count, "perplexity": math.exp(nll / count)}
    splits = {k: sequences_to_pairs(torch.from_numpy(v)) for k, v in data.items()}
    return LanguageTask(spec, context, config.lm, splits, hmm.vocab_size, oracle)


def _corpus_task(
    load: Callable[[TaskContext], lm_corpus.Corpus], sizes: Mapping[Preset, LMConfig], spec: TaskSpec,
    context: TaskContext,
) -> LanguageTask:
    corpus = load(context)
    config = sizes[context.preset]
    splits = {k: stream_to_windows(s, config.length) for k, s in corpus.streams.items()}
    if context.preset == "smoke":
        splits = {k: (x[:SMOKE_WINDOWS], y[:SMOKE_WINDOWS]) for k, (x, y) in splits.items()}
    return LanguageTask(spec, context, config, splits, len(corpus.vocab))


def _user_dir(key: str, context: TaskContext) -> Path:
    if key not in context.data:
        raise lm_corpus.CorpusError(f"no data path given: run with --data {key}=PATH")
    return Path(context.data[key]).expanduser()


def _spec(name: str, build: Callable[[TaskSpec, TaskContext], LanguageTask], summary: str,
          metrics: tuple[MetricSpec, ...], budgets: Mapping[Preset, Budget], paper: str,
          available: Callable[[Mapping[str, str]], str | None] | None = None, data_keys: tuple[str, ...] = ()
          ) -> TaskSpec:
    def builder(context: TaskContext) -> LanguageTask:
        return build(spec, context)

    extra = {"available": available} if available else {}
    spec = TaskSpec(name, (TOKENS, CAUSAL_SEQ), builder, summary, metrics, "tokens", budgets, "language", paper,
                    data_keys=data_keys, **extra)
    return spec


@hookimpl
def seqbench_register_tasks() -> list[TaskSpec]:
    chars = partial(_corpus_task, lambda c: lm_corpus.pydoc_corpus(), CHAR_SIZES)
    text = partial(_corpus_task, lambda c: lm_corpus.read_char_corpus(_user_dir("text", c)), CHAR_SIZES)
    ptb = partial(_corpus_task, lambda c: lm_corpus.read_word_corpus(_user_dir("ptb", c), "ptb"), WORD_SIZES)
    wt2 = partial(_corpus_task, lambda c: lm_corpus.read_word_corpus(_user_dir("wikitext2", c), "wikitext2"),
                  WORD_SIZES)
    return [
        _spec("lm-hmm", build_hmm, "synthetic HMM language (32 states, 32 symbols), exact oracle perplexity",
              (PPL, CE, RATIO), HMM_BUDGETS, "Rabiner 1989"),
        _spec("lm-chars", chars, "character-level English: CPython's pydoc_data topics, 90/5/5 split",
              (BPC, CE, PPL), CHAR_BUDGETS, "Graves 2013 (char-level LM)"),
        _spec("lm-ptb", ptb, "Penn Treebank, word level (10k vocabulary)", (PPL, CE), WORD_BUDGETS,
              "Mikolov et al. 2010", partial(lm_corpus.word_available, "ptb"), ("ptb",)),
        _spec("lm-wikitext2", wt2, "WikiText-2, word level", (PPL, CE), WORD_BUDGETS, "Merity et al. 2017",
              partial(lm_corpus.word_available, "wikitext2"), ("wikitext2",)),
        _spec("lm-text", text, "character level on any UTF-8 text file or directory of .txt files",
              (BPC, CE, PPL), CHAR_BUDGETS, "", lm_corpus.text_available, ("text",)),
    ]
