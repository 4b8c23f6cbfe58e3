"""Group activity recognition: per-person feature sequences -> each person's action and the scene's
collective activity (Deng, Vahdat, Hu & Mori, "Structure Inference Machines: Recurrent Neural
Networks for Analyzing Relations in Group Activity Recognition", CVPR 2016).

Tasks: ``group-synthetic`` (default; synthetic collective scenes in which only relations
between people resolve the labels, see :mod:`.synth`) and ``group-collective`` (the user's
Collective Activity annotations, data key ``collective`` = the directory holding
``seqNN/annotations.txt``, see :mod:`.collective`). Metrics: scene accuracy (primary), mean
per-class scene accuracy, person accuracy. Throughput unit: real (unpadded) people.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from seqbench import hookimpl
from seqbench.signatures import CAUSAL_SEQ, PERSONS
from seqbench.specs import Budget, Preset, TaskContext, TaskSpec
from seqbench_plugins.tasks.group import collective
from seqbench_plugins.tasks.group.metrics import METRICS
from seqbench_plugins.tasks.group.synth import CLASSES, SynthConfig, generate
from seqbench_plugins.tasks.group.task import GroupTask

PAPER = "Deng et al. CVPR 2016 (Structure Inference Machines); Choi et al. ICCV-W 2009 (Collective Activity)"
SPLITS = ("train", "val", "test")
# (train, val, test) scenes. quick: sized so the slowest pair (a 2 x 128 LSTM per person) takes
# about a minute on one CPU thread; paper: 12 people at most, as in Collective Activity frames.
SYNTH_SIZES: dict[Preset, tuple[SynthConfig, tuple[int, int, int]]] = {
    "smoke": (SynthConfig(scenes=0, max_persons=6, steps=4, min_persons=3), (48, 16, 16)),
    "quick": (SynthConfig(scenes=0, max_persons=12, steps=8), (3000, 500, 1000)),
    "paper": (SynthConfig(scenes=0, max_persons=12, steps=10), (30000, 3000, 5000)),
}
BUDGETS: dict[Preset, Budget] = {
    "smoke": Budget(steps=3, batch_size=8, lr=3e-3, eval_batch_size=16),
    "quick": Budget(steps=500, batch_size=32, lr=3e-3, eval_batch_size=250),
    "paper": Budget(steps=20000, batch_size=64, lr=1e-3, eval_batch_size=250, eval_every=1000),
}
COLLECTIVE_STEPS = 4  # annotated frames (every 10th video frame) per example: 30 frames of motion


def _synthetic(context: TaskContext) -> GroupTask:
    base, counts = SYNTH_SIZES[context.preset]
    splits = {}
    for i, (split, n) in enumerate(zip(SPLITS, counts, strict=True)):
        s = generate(SynthConfig(n, base.max_persons, base.steps, base.min_persons), 1000 * context.data_seed + i)
        splits[split] = (s.x, s.mask, s.person, s.scene)
    return GroupTask(SYNTHETIC, context, splits, len(CLASSES), len(CLASSES))


def _collective(context: TaskContext) -> GroupTask:
    reason = _collective_available(context.data)
    if reason:
        raise collective.CollectiveFormatError(reason)
    splits, classes = collective.load(context.data["collective"], COLLECTIVE_STEPS)
    return GroupTask(COLLECTIVE, context, splits, classes, classes)


def _collective_available(data: Mapping[str, str]) -> str | None:
    if "collective" not in data:
        return "needs data key 'collective': the Collective Activity directory holding seqNN/annotations.txt"
    return None if Path(data["collective"]).is_dir() else f"Collective Activity directory {data['collective']!r} " \
                                                            "does not exist"


SYNTHETIC = TaskSpec("group-synthetic", (PERSONS, CAUSAL_SEQ), _synthetic,
                     "person actions and collective activity of synthetic scenes where relations decide",
                     METRICS, "people", BUDGETS, family="group-activity", paper=PAPER)
COLLECTIVE = TaskSpec("group-collective", (PERSONS, CAUSAL_SEQ), _collective,
                      "Collective Activity annotations (boxes, poses; no images): person and scene labels",
                      METRICS, "people", BUDGETS, family="group-activity", paper=PAPER,
                      available=_collective_available, data_keys=("collective",))


@hookimpl
def seqbench_register_tasks() -> list[TaskSpec]:
    return [SYNTHETIC, COLLECTIVE]
