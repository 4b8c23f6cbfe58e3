"""Tree recovery (string -> labelled ordered tree): ``tree-synthetic`` and ``tree-python``.

Alvarez-Melis & Jaakkola, "Tree-structured decoding with doubly-recurrent neural networks",
ICLR 2017: an encoder reads a string and a decoder generates the whole labelled tree, top-down,
without being told how many children a node has. Data: :mod:`.tree_synth` (the paper's synthetic
trees, input = pre-order labels) and :mod:`.tree_python` (expressions of real Python source).

**TREE call contract.** A TREE model is built from a :class:`~seqbench.signatures.TreeProblem`
(vocabularies and size limits) and implements two methods on :class:`seqbench.trees.TreeBatch`:

* ``module(batch) -> (B,) float``: the negative log-likelihood (nats) of each gold tree given its
  source, teacher-forced. The task trains on their sum divided by the number of gold nodes.
* ``module.decode(batch.src, batch.src_len) -> list[Tree]``: one predicted tree per example
  (``src``: (B, L) input ids right-padded with 0, ``src_len``: (B,)), within the problem's
  max_nodes / max_depth / max_children. Metrics are computed on these (``tree_data.Tree``).

A third-party model reads whatever fields it needs: flat pre-order node arrays (labels, parent,
previous sibling, depth, sibling rank, has_children, has_next) or the bracketed linearisation
(``lm_in`` / ``lm_out`` / ``lm_mask``). Generic CAUSAL_SEQ backbones pair through
:class:`.tree_lm.TreeLM` (greedy decoding for the metrics; ``TreeLM.beam = k`` switches to beam
search). Throughput units are **nodes** (gold nodes per batch). Examples outside the size limits
never reach a model: they are skipped while the data is built and counted in ``task.data.skipped``
(logged); malformed tree strings and empty inputs raise clear errors (``TreeFormatError`` / ``ValueError``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, cast

import torch
from torch import nn

from seqbench import hookimpl
from seqbench.files import atomic_write
from seqbench.signatures import CAUSAL_SEQ, TREE, SeqProblem, Signature
from seqbench.specs import Budget, MetricSpec, Preset, TaskContext, TaskSpec
from seqbench.task import Metric, PairMetric, Task, to_device
from seqbench.trees import Tree, TreeBatch
from seqbench_plugins.tasks.trees.batch import Example, JointVocab, collate
from seqbench_plugins.tasks.trees.lm import TreeLM
from seqbench_plugins.tasks.trees.metrics import TreeScores
from seqbench_plugins.tasks.trees.pictures import side_by_side
from seqbench_plugins.tasks.trees.sources import PY, SYNTH, TreeData, load_python, load_synthetic

log = logging.getLogger(__name__)
EMBED = {"smoke": 16, "quick": 64, "paper": 128}  # adapter embedding width per preset


class TreeModel(Protocol):
    """What a TREE model implements (see the module docstring)."""

    def __call__(self, batch: TreeBatch) -> torch.Tensor: ...

    def decode(self, src: torch.Tensor, src_len: torch.Tensor) -> list[Tree]: ...


ARTIFACT_TREES = 3  # recovered trees shown in the report, per model


class TreeTask(Task):
    def __init__(self, spec: TaskSpec, context: TaskContext, data: TreeData) -> None:
        super().__init__(spec, context)
        self.data = data
        self.vocab = JointVocab(data.problem.input_vocab, data.problem.label_vocab)
        if data.skipped:
            log.info("%s: examples skipped while building the data: %s", spec.name, data.skipped)

    def problem(self, signature: Signature) -> object:
        if signature == TREE:
            return self.data.problem
        p = self.data.problem
        return SeqProblem(EMBED[self.context.preset], p.max_input_len + 1 + 3 * p.max_nodes + 1)

    def adapter(self, backbone: nn.Module) -> nn.Module:
        return TreeLM(backbone, self.vocab, self.data.problem, EMBED[self.context.preset])

    def _batch(self, examples: list[Example]) -> TreeBatch:
        return collate(examples, self.vocab)

    def train_batches(self, batch_size: int, generator: torch.Generator) -> Iterator[TreeBatch]:
        data = self.data.splits["train"]
        while True:
            order = torch.randperm(len(data), generator=generator).tolist()
            for start in range(0, max(1, len(data) - batch_size + 1), batch_size):
                yield self._batch([data[i] for i in order[start : start + batch_size]])

    def eval_batches(self, split: str, batch_size: int) -> Iterator[TreeBatch]:
        data = self.data.splits[split]
        for start in range(0, len(data), batch_size):  # never drop the last batch
            yield self._batch(data[start : start + batch_size])

    def count(self, batch: TreeBatch) -> tuple[int, int]:
        return len(batch.golds), batch.labels.numel()

    def loss(self, module: nn.Module, batch: TreeBatch) -> torch.Tensor:
        nll = cast(TreeModel, module)(batch)
        if nll.shape != (len(batch.golds),):
            raise ValueError(f"a TREE model must return one NLL per tree: expected shape ({len(batch.golds)},), "
                             f"got {tuple(nll.shape)}")
        return nll.sum() / batch.labels.numel()

    def predict(self, module: nn.Module, batch: TreeBatch) -> Any:
        return cast(TreeModel, module).decode(batch.src, batch.src_len)

    def metric(self, split: str) -> Metric:
        return PairMetric(TreeScores(), lambda trees, batch: (trees, batch.golds))

    def save_artifacts(self, module: nn.Module, directory: Path, label: str) -> list[Path]:
        """The first test trees, recovered beside gold (the same examples every run)."""
        device = next((t.device for t in module.parameters()), torch.device("cpu"))
        batch = self._batch(self.data.splits["test"][:ARTIFACT_TREES])
        was_training = module.training
        module.eval()
        with torch.no_grad():
            predicted = self.predict(module, to_device(batch, device))
        module.train(was_training)
        text = "\n\n".join(side_by_side(gold, tree, self.data.names, f"test tree {i}")
                             for i, (gold, tree) in enumerate(zip(batch.golds, predicted, strict=True)))
        path = directory / f"{self.spec.name}-{label}.txt"
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            handle.write(text + "\n")
        return [path]


METRICS = (
    MetricSpec("node_f1", "max", "F1 of predicted vs gold node labels (multisets; paper: node retrieval)"),
    MetricSpec("edge_f1", "max", "F1 of (parent label -> child label) pairs (paper: edge retrieval)"),
    MetricSpec("node_macro_f1", "max", "node retrieval as the authors' code averages it: F1 of the per-tree "
               "precision and recall, each averaged over trees (the paper's 75%)"),
    MetricSpec("edge_macro_f1", "max", "edge_f1's (parent, child) pairs, averaged per tree as node_macro_f1"),
    MetricSpec("edge_parent_macro_f1", "max", "edge retrieval exactly as the authors' code: only the parent's label "
               "is matched, averaged per tree (the paper's 71%)"),
    MetricSpec("exact_match", "max", "fraction of trees predicted exactly"),
    MetricSpec("tree_edit_distance", "min", "mean Zhang-Shasha edit distance to the gold tree", unit="edits"),
    MetricSpec("size_error", "min", "mean |predicted nodes - gold nodes|", unit="nodes"),
    MetricSpec("node_precision", "max"), MetricSpec("node_recall", "max"),
    MetricSpec("edge_precision", "max"), MetricSpec("edge_recall", "max"),
)

BUDGETS: dict[str, dict[Preset, Budget]] = {
    "tree-synthetic": {
        "smoke": Budget(steps=8, batch_size=16, lr=3e-3, eval_batch_size=64),
        "quick": Budget(steps=1200, batch_size=32, lr=2e-3, eval_batch_size=250, eval_every=300),
        # The released synth run (dmelis/drnn train_vanilla.sh): batch 20, gradient clipping 5;
        # 4000 steps = 20 epochs of the 4000 training trees.
        "paper": Budget(steps=4000, batch_size=20, lr=1e-3, clip=5.0, eval_batch_size=500, eval_every=1000),
    },
    "tree-python": {
        "smoke": Budget(steps=8, batch_size=16, lr=3e-3, eval_batch_size=64),
        "quick": Budget(steps=1200, batch_size=32, lr=2e-3, eval_batch_size=250, eval_every=300),
        "paper": Budget(steps=30000, batch_size=64, lr=1e-3, eval_batch_size=500, eval_every=2000),
    },
}


def _build_synthetic(context: TaskContext) -> Task:
    return TreeTask(_SPECS["tree-synthetic"], context, load_synthetic(SYNTH[context.preset], context.data_seed))


def _build_python(context: TaskContext) -> Task:
    root = context.data.get("python_src")
    return TreeTask(_SPECS["tree-python"], context, load_python(PY[context.preset], context.data_seed, root))


PAPER = "Alvarez-Melis & Jaakkola, ICLR 2017"
_SPECS = {
    "tree-synthetic": TaskSpec(
        "tree-synthetic", (TREE, CAUSAL_SEQ), _build_synthetic,
        "recover a labelled tree (26 letters; labels from ancestors and siblings) from its pre-order string",
        METRICS, "nodes", BUDGETS["tree-synthetic"], family="trees", paper=PAPER),
    "tree-python": TaskSpec(
        "tree-python", (TREE, CAUSAL_SEQ), _build_python,
        "recover the ast node-type tree of a Python expression from its source text (stdlib, or data python_src)",
        METRICS, "nodes", BUDGETS["tree-python"], family="trees", paper=PAPER, data_keys=("python_src",)),
}


@hookimpl
def seqbench_register_tasks() -> list[TaskSpec]:
    return list(_SPECS.values())



