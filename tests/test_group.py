"""Group activity: synthetic scenes, metrics, the Collective Activity loader, SIM, baselines, masking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from seqbench_plugins.models.group_baselines import MajorityClass
from seqbench_plugins.models.sim import SIZES, SIMConfig, StructureInferenceMachine
from seqbench_plugins.tasks.group import collective
from seqbench_plugins.tasks.group.metrics import GroupMetrics
from seqbench_plugins.tasks.group.synth import CLASSES, QUEUEING, TALKING, WAITING, SynthConfig, generate

from seqbench.manager import get_registry
from seqbench.signatures import PersonsProblem
from seqbench.specs import TaskContext
from seqbench.testing import runnable_pairs

CONFIG = SynthConfig(scenes=300, max_persons=8, steps=5)
PROBLEM = PersonsProblem(feature_size=12, max_persons=8, steps=5, person_classes=5, scene_classes=5)
GROUP_PAIRS = [(m, t) for m, t in runnable_pairs() if t == "group-synthetic"]


def test_synthetic_scenes_are_deterministic_padded_and_majority_labelled() -> None:
    a, b = generate(CONFIG, 3), generate(CONFIG, 3)
    assert torch.equal(a.x, b.x) and torch.equal(a.person, b.person)
    assert not torch.equal(a.x, generate(CONFIG, 4).x)
    assert a.x.shape == (300, 5, 8, 12)
    counts = a.mask.sum(1)
    assert counts.min() >= CONFIG.min_persons and counts.max() <= 8 and len(set(counts.tolist())) > 2
    assert torch.all(a.x[~a.mask[:, None].expand(-1, 5, -1)] == 0)  # padding is zeros
    assert torch.equal(a.person >= 0, a.mask)
    for scene, person, mask in zip(a.scene, a.person, a.mask, strict=True):
        labels = person[mask]
        assert (labels == scene).sum() > len(labels) / 2  # the scene label is the majority action
    assert set(a.scene.tolist()) == set(range(len(CLASSES)))


def test_still_people_look_alike_alone_but_differ_in_relations() -> None:
    s = generate(SynthConfig(scenes=600, max_persons=10, steps=6), 0)
    speed = s.x[..., 2:4].norm(dim=-1).mean(1)  # (N, P)
    own = {c: s.x[:, :, :, 4:6].mean(1)[(s.person == c)] for c in (WAITING, QUEUEING, TALKING)}
    for c in (WAITING, QUEUEING, TALKING):  # every facing, no motion: alone, nothing tells them apart
        assert speed[s.person == c].mean() < 0.2
        assert own[c].mean(0).norm() < 0.15
    # in context they differ: queueing people all face one way, talking people face each other
    def alignment(c: int) -> float:
        rows = [s.x[i, :, (s.person[i] == c)][..., 4:6].mean(0) for i in range(len(s.scene)) if s.scene[i] == c]
        return float(torch.stack([r.mean(0).norm() for r in rows]).mean())
    assert alignment(QUEUEING) > 0.8 and alignment(TALKING) < 0.5


def test_metrics_pool_the_split_and_skip_unlabelled_people() -> None:
    m = GroupMetrics(3)
    person_logits = torch.tensor([[[5.0, 0, 0], [0, 5.0, 0], [0, 0, 5.0]]])  # predicts 0, 1, 2
    m.update(person_logits, torch.tensor([[1.0, 0, 0]]), torch.tensor([[0, 2, -1]]), torch.tensor([0]))
    m.update(person_logits.expand(3, -1, -1), torch.tensor([[0, 1.0, 0]]).expand(3, -1),
             torch.tensor([[0, 1, 2]]).expand(3, -1), torch.tensor([1, 1, 2]))
    out = m.compute()
    assert out["scene_acc"] == pytest.approx(3 / 4)  # a mean of batch means would give 0.83
    assert out["scene_mca"] == pytest.approx((1 + 1 + 0) / 3)
    assert out["person_acc"] == pytest.approx(10 / 11)  # the -1 person is not scored
    with pytest.raises(ValueError, match="expected"):
        m.update(torch.zeros(1, 2, 3), torch.zeros(1, 3), torch.zeros(1, 3, dtype=torch.long), torch.zeros(1))


def test_majority_baseline_predicts_the_training_majority() -> None:
    model = MajorityClass(PROBLEM)
    mask = torch.tensor([[True, True, False]])
    model.fit([(torch.zeros(1, 5, 3, 12), mask, torch.tensor([[3, 3, 1]]), torch.tensor([4]))])
    person, scene = model(torch.zeros(2, 5, 3, 12), torch.ones(2, 3, dtype=torch.bool))
    assert (person.argmax(-1) == 3).all() and (scene.argmax(-1) == 4).all()


@pytest.mark.parametrize(("iterations", "gated"), [(3, True), (1, True), (3, False)])
def test_sim_shapes_iterations_and_gates(iterations: int, gated: bool) -> None:
    torch.manual_seed(0)
    config = SIMConfig(SIZES["smoke"].hidden, SIZES["smoke"].message, iterations, gated)
    sim = StructureInferenceMachine(PROBLEM, config)
    x, mask = torch.randn(2, 5, 8, 12), torch.ones(2, 8, dtype=torch.bool)
    outs = sim.every_iteration(x, mask)
    assert len(outs) == iterations
    person, scene = sim(x, mask)
    assert person.shape == (2, 8, 5) and scene.shape == (2, 5)
    assert torch.equal(person, outs[-1][0])
    gates = [p for n, p in sim.named_parameters() if ".gate." in n]
    assert bool(gates) == gated  # one scalar gate per edge, from a layer per edge type
    person, scene = sim(x, mask)
    (person.sum() + scene.sum()).backward()
    assert all(g.grad is not None and g.grad.abs().sum() > 0 for g in gates)


def test_sim_relations_change_a_persons_prediction() -> None:
    torch.manual_seed(0)
    sim = StructureInferenceMachine(PROBLEM, SIZES["smoke"]).eval()
    x, mask = torch.randn(1, 5, 8, 12), torch.ones(1, 8, dtype=torch.bool)
    before = sim(x, mask)[0][0, 0]
    x[0, :, 5] += 1.0  # someone else moves: person 0's prediction must react (a per-person model would not)
    assert not torch.allclose(sim(x, mask)[0][0, 0], before)


@pytest.mark.parametrize(("model", "task"), GROUP_PAIRS, ids=[m for m, _ in GROUP_PAIRS])
def test_padded_people_never_change_a_prediction(model: str, task: str) -> None:
    registry = get_registry()
    group = registry.task(task).build(TaskContext("smoke"))
    torch.manual_seed(0)
    module = group.build_module(registry.model(model)).eval()
    x, mask, person, scene = next(group.eval_batches("test", 6))
    fit = getattr(module, "fit", None)
    if callable(fit):
        fit([(x, mask, person, scene)])
    with torch.no_grad():
        p1, s1 = group.predict(module, (x, mask))
        # add three padded slots with garbage in them: masked out, they must change nothing
        extra = torch.randn(x.shape[0], x.shape[1], 3, x.shape[3]) * 10
        padded_mask = torch.cat([mask, torch.zeros(len(x), 3, dtype=torch.bool)], 1)
        p2, s2 = group.predict(module, (torch.cat([x, extra], 2), padded_mask))
    assert torch.allclose(s1, s2, atol=1e-5), f"{model}: scene prediction changed by padding"
    assert torch.allclose(p1[mask], p2[:, : x.shape[2]][mask], atol=1e-5), f"{model}: person prediction changed"


# -- Collective Activity annotations ------------------------------------------------------------

def _write_sequence(root: Path, number: int, actions: list[int], frames: int = 5, shift: int = 7) -> None:
    """A tiny seqNN/annotations.txt in the dataset's layout: every 10th frame, one row per person."""
    rows = []
    for f in range(frames):
        for i, action in enumerate(actions):
            x, y = 100 + 80 * i + shift * f, 200 + 5 * i
            rows.append(f"{1 + 10 * f}\t{x}\t{y}\t40\t100\t{action}\t{1 + (i % 8)}")
    (root / f"seq{number:02d}").mkdir(parents=True)
    (root / f"seq{number:02d}" / "annotations.txt").write_text("\n".join(rows) + "\n")


def test_collective_loader_builds_features_labels_and_sequence_splits(tmp_path: Path) -> None:
    _write_sequence(tmp_path, 1, [2, 2, 3])  # crossing x2, waiting -> scene crossing
    _write_sequence(tmp_path, 2, [6, 6, 1, 5])  # talking x2, NA, walking -> talking
    _write_sequence(tmp_path, 3, [4, 4, 4])  # queueing
    _write_sequence(tmp_path, 5, [3, 1])  # a standard test sequence: waiting
    splits, classes = collective.load(tmp_path, steps=3)
    assert classes == 5
    x, mask, person, scene = splits["test"]
    assert x.shape == (3, 3, 4, collective.FEATURES)  # 5 frames -> 3 windows of 3; padded to 4 people
    assert scene.tolist() == [1, 1, 1] and person[0].tolist() == [1, -1, -1, -1] and mask[0].tolist() == [1, 1, 0, 0]
    xt, _, pt, st = splits["train"]
    assert set(st.tolist()) == {2, 4} and splits["val"][3].tolist() == [0, 0, 0]
    assert (pt == -1).any()  # NA people are kept in the scene, unlabelled
    # motion: everyone moves 7 px per annotated frame, so steps after the first have dx > 0
    assert torch.all(xt[:, 1:, :3, 4] > 0) and torch.all(xt[:, 0, :, 4] == 0)
    assert torch.allclose(xt[..., 6:].sum(-1)[:, :, :3], torch.ones(3))  # pose one-hot for real people


def test_collective_extended_set_and_matching(tmp_path: Path) -> None:
    for n, acts in ((1, [7, 7, 2]), (2, [8, 8]), (3, [3, 3])):
        _write_sequence(tmp_path, n, acts, shift=0)
    splits, classes = collective.load(tmp_path, steps=2)
    assert classes == 7 and splits["train"][3].tolist()[0] == 6  # jogging
    people = [collective.Box(10, 10, 10, 20, 0, 0), collective.Box(100, 10, 10, 20, 1, 0)]
    previous = [collective.Box(98, 12, 10, 20, 1, 0), collective.Box(12, 9, 10, 20, 0, 0)]
    assert collective._match(people, previous) == [previous[1], previous[0]]


@pytest.mark.parametrize(("row", "message"), [
    ("1\t10\t10\t5\t5\t2", "expected 7 tab-separated integers"),
    ("1 10 10 5 5 2 1", "expected 7 tab-separated integers"),
    ("1\t10\t10\tfive\t5\t2\t1", "expected 7 tab-separated integers"),
    ("1\t10\t10\t5\t5\t12\t1", "action in 1..8"),
    ("1\t10\t10\t0\t5\t2\t1", "w, h > 0"),
])
def test_malformed_collective_rows_name_file_and_line(tmp_path: Path, row: str, message: str) -> None:
    path = tmp_path / "annotations.txt"
    path.write_text(f"1\t10\t10\t5\t5\t2\t1\n{row}\n")
    with pytest.raises(collective.CollectiveFormatError, match=message) as info:
        collective.read_annotations(path)
    assert f"{path}:2:" in str(info.value)


def test_collective_directory_errors(tmp_path: Path) -> None:
    with pytest.raises(collective.CollectiveFormatError, match="does not exist"):
        collective.load(tmp_path / "nowhere", 3)
    with pytest.raises(collective.CollectiveFormatError, match="no sequence folder"):
        collective.load(tmp_path, 3)
    (tmp_path / "seq01").mkdir()
    with pytest.raises(collective.CollectiveFormatError, match=r"missing annotations\.txt"):
        collective.load(tmp_path, 3)
    spec = get_registry().task("group-collective")
    assert "needs data key 'collective'" in (spec.available({}) or "")
    assert spec.available({"collective": str(tmp_path)}) is None
    with pytest.raises(collective.CollectiveFormatError, match="needs data key 'collective'"):
        spec.build(TaskContext("smoke"))  # never silently reads the working directory


def test_collective_task_runs_end_to_end(tmp_path: Path) -> None:
    from seqbench.specs import JobConfig, RunOptions
    from seqbench.train import run_job

    for n, acts in ((1, [2, 2, 3]), (2, [6, 6, 5]), (3, [4, 4]), (4, [3, 3, 3]), (5, [5, 5, 2])):
        _write_sequence(tmp_path, n, acts)
    registry = get_registry()
    spec = registry.task("group-collective")
    config = JobConfig("sim", spec.name, "cpu", 0, "smoke", spec.budgets["smoke"], 1e-3,
                       RunOptions(measure=False), (("collective", str(tmp_path)),))
    result = run_job(config, registry.model("sim"), spec)
    assert result.status == "ok", result.message
    assert np.isfinite(list(result.metrics.values())).all()


def test_group_task_rejects_misshapen_splits() -> None:
    from seqbench_plugins.tasks.group import SYNTHETIC
    from seqbench_plugins.tasks.group.task import GroupTask

    good = (torch.zeros(4, 3, 5, 2), torch.ones(4, 5, dtype=torch.bool), torch.zeros(4, 5, dtype=torch.long),
            torch.zeros(4, dtype=torch.long))
    GroupTask(SYNTHETIC, TaskContext("smoke"), {"train": good, "val": good, "test": good}, 5, 5)
    bad = (torch.zeros(4, 3, 5), *good[1:])
    with pytest.raises(ValueError, match=r"expected x \(N, T, P, D\)"):
        GroupTask(SYNTHETIC, TaskContext("smoke"), {"train": good, "val": bad, "test": good}, 5, 5)
