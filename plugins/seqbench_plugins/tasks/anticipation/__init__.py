"""Egocentric action anticipation: multi-modal feature streams -> the next action, named
0.25 to 2 s before it starts (Furnari & Farinella, "What Would You Expect? Anticipating
Egocentric Actions with Rolling-Unrolling LSTMs and Modality Attention", ICCV 2019).

Tasks: ``anticipation-synth`` (default; synthetic kitchens, see :mod:`.synth`) and
``anticipation-epic`` (RU-LSTM's EPIC-KITCHENS-55 feature release: data key ``epic`` = a
directory with ``rgb/``, ``flow/``, ``obj/`` LMDB databases, ``training.csv``,
``validation.csv`` and ``actions.csv``; needs ``pip install 'seqbench[lmdb]'``; see
:mod:`.epic`). Models receive ``MULTIMODAL`` streams (RU-LSTM, the baselines) or the
modalities concatenated per step through a causal backbone (every ``CAUSAL_SEQ`` model).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from seqbench import hookimpl
from seqbench.signatures import CAUSAL_SEQ, MULTIMODAL
from seqbench.specs import Budget, Preset, TaskContext, TaskSpec
from seqbench.task import Task
from seqbench_plugins.tasks.anticipation import epic
from seqbench_plugins.tasks.anticipation.metrics import metric_specs
from seqbench_plugins.tasks.anticipation.synth import OBJ_DIM, SynthConfig, generate, make_world
from seqbench_plugins.tasks.anticipation.task import (
    ANTICIPATION_STEPS,
    STEP_SECONDS,
    AnticipationData,
    AnticipationTask,
    Split,
)

PAPER = "Furnari & Farinella, ICCV 2019 / TPAMI 2020 (RU-LSTM); Damen et al., ECCV 2018 (EPIC-KITCHENS)"

SYNTH: dict[Preset, SynthConfig] = {
    "smoke": SynthConfig(verbs=4, nouns=6, actions=12, rgb_dim=16, flow_dim=16, videos=(6, 2, 2), actions_per_video=6),
    "quick": SynthConfig(verbs=12, nouns=24, actions=96, rgb_dim=128, flow_dim=128, videos=(300, 40, 80),
                         actions_per_video=16),
    # EPIC-KITCHENS-55 sizes: 125 verbs, 352 nouns, 2513 actions, 1024-d RGB and flow features.
    "paper": SynthConfig(verbs=125, nouns=352, actions=2513, rgb_dim=1024, flow_dim=1024, videos=(2400, 300, 600),
                         actions_per_video=12, kitchens=32),
}

BUDGETS: dict[Preset, Budget] = {
    "smoke": Budget(steps=6, batch_size=8, lr=2e-3, eval_batch_size=32),
    "quick": Budget(steps=300, batch_size=64, lr=2e-3, eval_batch_size=256),
    "paper": Budget(steps=20_000, batch_size=128, lr=1e-3, eval_batch_size=256, eval_every=1000),
}


def synth_data(config: SynthConfig, seed: int) -> AnticipationData:
    world = make_world(config, seed)
    splits = {}
    for i, name in enumerate(("train", "val", "test")):
        s = generate(world, config, config.videos[i], 1000 * seed + i + 1)
        splits[name] = Split({"rgb": s.rgb, "flow": s.flow, "obj": s.obj}, s.action, s.previous, s.end)
    dims = (("rgb", config.rgb_dim), ("flow", config.flow_dim), ("obj", OBJ_DIM))
    return AnticipationData(splits, dims, torch.from_numpy(world.verb), torch.from_numpy(world.noun))


def _synth_spec() -> TaskSpec:
    def build(context: TaskContext) -> Task:
        return AnticipationTask(spec, context, synth_data(SYNTH[context.preset], context.data_seed))

    spec = TaskSpec("anticipation-synth", (MULTIMODAL, CAUSAL_SEQ), build,
                    "next action 0.25-2 s ahead from RGB / flow / object streams of synthetic kitchens",
                    metric_specs(ANTICIPATION_STEPS, STEP_SECONDS), "anticipations", BUDGETS,
                    family="anticipation", paper=PAPER)
    return spec


def _epic_available(data: Mapping[str, str]) -> str | None:
    return epic.unavailable_reason(data.get("epic"))


def _epic_spec() -> TaskSpec:
    def build(context: TaskContext) -> Task:
        loaded = epic.load(context.data["epic"], epic.CAPS[context.preset])
        return AnticipationTask(spec, context, loaded)

    spec = TaskSpec("anticipation-epic", (MULTIMODAL, CAUSAL_SEQ), build,
                    "EPIC-KITCHENS-55 action anticipation on RU-LSTM's LMDB features (data key epic)",
                    metric_specs(ANTICIPATION_STEPS, STEP_SECONDS), "anticipations", BUDGETS,
                    family="anticipation", paper=PAPER, available=_epic_available, data_keys=("epic",))
    return spec


@hookimpl
def seqbench_register_tasks() -> list[TaskSpec]:
    return [_synth_spec(), _epic_spec()]
