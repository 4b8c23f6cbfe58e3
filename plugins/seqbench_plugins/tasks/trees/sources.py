"""Preset sizes and loaders of the two tree-recovery data sets (Alvarez-Melis & Jaakkola,
ICLR 2017): encoded examples, the TreeProblem, and what was skipped while building them.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from seqbench.signatures import TreeProblem
from seqbench.specs import Preset
from seqbench.trees import Tree, from_brackets
from seqbench_plugins.tasks.trees.batch import Example, JointVocab, encode
from seqbench_plugins.tasks.trees.python import INPUT_VOCAB, PythonConfig, char_ids, extract, stdlib_root
from seqbench_plugins.tasks.trees.synth import Grammar, SynthConfig, label_names, preorder_ids, sample_split


@dataclass(frozen=True)
class SynthSizes:
    config: SynthConfig
    n_train: int
    n_val: int
    n_test: int


# Difficulty knobs (depth, branching, vocabulary, size) per preset; quick trees average ~11 nodes.
# ``paper`` follows the authors' released data (dmelis/drnn, data/synth): 4000 / 500 / 500 trees
# under a fixed ROOT, ~4.9 nodes on average (ROOT included), three in four only ROOT and its
# children (2.6 on average), about one non-root node in ten with children, up to 6 levels, and
# labels nearly uniform (first 98 test trees: 4.65 bits over their labels, 4.34 over their first
# labels; log2 26 = 4.70), hence the low sharpness: at the default 3.0 the first label took 1.3 bits.
SYNTH: dict[Preset, SynthSizes] = {
    "smoke": SynthSizes(SynthConfig(vocab=26, max_depth=3, max_children=3, max_nodes=12), 64, 16, 32),
    "quick": SynthSizes(SynthConfig(vocab=26, max_depth=6, max_children=5, max_nodes=50), 4000, 300, 500),
    "paper": SynthSizes(SynthConfig(vocab=26, max_depth=7, max_children=12, max_nodes=40, min_nodes=2,
                                    p_child=(0.0, 0.3), p_next=(0.45, 0.9), sharpness=0.3, root_label=True),
                       4000, 500, 500),
}

PY: dict[Preset, PythonConfig] = {
    "smoke": PythonConfig(min_nodes=3, max_nodes=12, max_depth=5, max_children=4, max_input_len=40,
                          n_train=64, n_val=8, n_test=16),
    "quick": PythonConfig(min_nodes=3, max_nodes=40, max_depth=8, max_children=6, max_input_len=80,
                          n_train=3000, n_val=300, n_test=500),
    "paper": PythonConfig(min_nodes=3, max_nodes=60, max_depth=10, max_children=8, max_input_len=160,
                          n_train=20000, n_val=1000, n_test=2000),
}


@dataclass
class TreeData:
    problem: TreeProblem
    names: list[str]  # label id -> name
    splits: dict[str, list[Example]]
    skipped: dict[str, int]  # reason -> count (examples outside the limits, unparseable files, ...)


def load_synthetic(sizes: SynthSizes, seed: int) -> TreeData:
    c = sizes.config
    grammar = Grammar(c, np.random.default_rng([seed, 0]))  # one grammar, shared by every split
    problem = TreeProblem(c.vocab + 1, c.vocab + c.root_label, c.max_nodes, c.max_nodes, c.max_depth, c.max_children)
    vocab = JointVocab(problem.input_vocab, problem.label_vocab)
    splits: dict[str, list[Example]] = {}
    rejected = 0
    for code, (split, n) in enumerate((("train", sizes.n_train), ("val", sizes.n_val), ("test", sizes.n_test)), 1):
        trees, r = sample_split(grammar, n, np.random.default_rng([seed, code]))
        rejected += r
        splits[split] = [encode(preorder_ids(t, c.root_label), t, vocab) for t in trees]
    return TreeData(problem, label_names(c), splits, {"sampled_outside_size_limits": rejected})


def _atomic_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(value, f)
    os.replace(tmp, path)


def _extract_cached(root: Path, config: PythonConfig, seed: int, cache: bool) -> dict[str, object]:
    key = json.dumps([sys.version, str(root), asdict(config), seed], sort_keys=True)
    path = Path.home() / ".cache" / "seqbench" / f"tree-python-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    if cache and path.exists():
        try:
            return dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            pass  # a damaged cache entry is rebuilt below
    splits, skipped = extract(root, config, seed)
    value = {"splits": splits, "skipped": skipped}
    if cache:
        _atomic_json(path, value)
    return value


def load_python(config: PythonConfig, seed: int, root: str | None = None) -> TreeData:
    """Expressions of the standard library (cached by config), or of the ``.py`` files under ``root``."""
    data = _extract_cached(Path(root) if root else stdlib_root(), config, seed, cache=root is None)
    raw: dict[str, list[list[str]]] = data["splits"]  # type: ignore[assignment]
    names = sorted({tok for pairs in raw.values() for _, b in pairs for tok in b.split() if tok not in "()"})
    problem = TreeProblem(INPUT_VOCAB, len(names), config.max_input_len, config.max_nodes, config.max_depth,
                          config.max_children)
    vocab = JointVocab(problem.input_vocab, problem.label_vocab)
    splits = {k: [encode(char_ids(text), from_brackets(b, names), vocab) for text, b in pairs]
              for k, pairs in raw.items()}
    return TreeData(problem, names, splits, data["skipped"])  # type: ignore[arg-type]


__all__ = ["PY", "SYNTH", "Tree", "TreeData", "load_python", "load_synthetic"]
