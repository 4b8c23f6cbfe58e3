"""The RU-LSTM EPIC-KITCHENS-55 loader, on tiny LMDB databases written here in the release's layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from seqbench_plugins.tasks.anticipation import epic

from seqbench.manager import get_registry
from seqbench.signatures import PREVIOUS_ACTION
from seqbench.specs import JobConfig, RunOptions
from seqbench.train import run_job

lmdb = pytest.importorskip("lmdb", reason="the EPIC loader reads LMDB: pip install 'seqbench[lmdb]'")

DIMS = dict(epic.MODALITIES)
# (id, video, start_frame, end_frame, verb, noun, action); 30 fps, so 3.5 s = 105 frames of history
TRAINING = [
    (0, "P01_01", 200, 260, 0, 1, 0),
    (1, "P01_01", 300, 350, 1, 0, 2),
    (2, "P01_01", 420, 500, 0, 0, 1),
    (3, "P01_01", 30, 60, 1, 1, 3),  # only a few frames before it: padded with the first valid frame
]
VALIDATION = [(10, "P02_01", 150, 200, 1, 1, 3), (11, "P02_01", 260, 300, 0, 1, 0)]
ACTIONS = "id,action,verb,noun\n0, take_cup,0,1\n1, take_pan,0,0\n2, wash_pan,1,0\n3, wash_cup,1,1\n"


def feature(modality: str, video: str, frame: int) -> np.ndarray:
    """A vector that names its modality, video and frame, so windows can be checked exactly."""
    v = np.zeros(DIMS[modality], np.float32)
    v[0], v[1], v[2] = frame, len(video) + int(video[-1]), len(modality)
    return v


def write_lmdb(path: Path, modality: str, frames: dict[str, range], dim: int | None = None,
               skip: str | None = None) -> None:
    env = lmdb.open(str(path), map_size=1 << 26)
    with env.begin(write=True) as txn:
        for video, rng in frames.items():
            for f in rng:
                key = f"{video}_frame_{f:010d}.jpg"
                if key == skip:
                    continue
                v = feature(modality, video, f)
                txn.put(key.encode(), (v if dim is None else v[:dim]).tobytes())
    env.close()


def write_release(root: Path, **broken: object) -> Path:
    frames = {"P01_01": range(1, 501), "P02_01": range(1, 301)}
    for m, _ in epic.MODALITIES:
        write_lmdb(root / m, m, frames, dim=broken.get("dim") if m == "obj" else None,
                   skip=broken.get("skip") if m == "flow" else None)  # type: ignore[arg-type]
    rows = broken.get("training", TRAINING)
    (root / "training.csv").write_text("".join(",".join(map(str, r)) + "\n" for r in rows))  # type: ignore[attr-defined]
    (root / "validation.csv").write_text("".join(",".join(map(str, r)) + "\n" for r in VALIDATION))
    (root / "actions.csv").write_text(ACTIONS)
    return root


def test_windows_follow_the_reference_sampling(tmp_path: Path) -> None:
    data = epic.load(write_release(tmp_path), (None, None, None))
    assert data.dims == (("rgb", 1024), ("flow", 1024), ("obj", 352))
    assert data.verb_of.tolist() == [0, 0, 1, 1] and data.noun_of.tolist() == [1, 0, 0, 1]
    train, val, test = (data.splits[s] for s in ("train", "val", "test"))
    assert len(train) == 4 and len(test) == 2 and len(val) == 4  # one training video: validation reuses it
    streams, action = test.batch(torch.arange(2))
    # Action at frame 150 (5 s): samples at 1.5, 1.75, ..., 4.75 s -> frames 45, 52, ..., 142
    expected = np.floor((150 / 30 - 0.25 * np.arange(14, 0, -1)) * 30).astype(int)
    assert streams["rgb"][0, :, 0].tolist() == expected.tolist()
    assert streams["obj"][0, 0, 2] == 3 and streams["flow"].shape == (2, 14, 1024)
    assert action.tolist() == [3, 0]
    # P02_01 at 260: its tau_a = 2 s frame is 202, after segment 10 started (150)
    assert streams[PREVIOUS_ACTION].tolist() == [-1, 3]
    streams, _ = train.batch(torch.arange(4))
    first = streams["rgb"][3, :, 0]  # start 30: frames before 1 become the first valid frame
    assert first.min() >= 1 and first[0] == first[-3]
    assert streams[PREVIOUS_ACTION].tolist() == [3, 0, 2, -1]


def test_missing_key_names_the_database(tmp_path: Path) -> None:
    write_release(tmp_path, skip="P02_01_frame_0000000142.jpg")
    with pytest.raises(KeyError, match=r"flow.*P02_01_frame_0000000142\.jpg"):
        epic.load(tmp_path, (None, None, None))


def test_wrong_vector_size_names_the_database(tmp_path: Path) -> None:
    write_release(tmp_path, dim=300)
    with pytest.raises(ValueError, match=r"obj.*1200 bytes, expected 352 float32"):
        epic.load(tmp_path, (None, None, None))


def test_csv_with_wrong_columns_names_the_file(tmp_path: Path) -> None:
    write_release(tmp_path, training=[("P01_01", 200, 260, 0, 1, 0)])
    with pytest.raises(ValueError, match=r"training\.csv, line 1: 6 columns, expected 7"):
        epic.load(tmp_path, (None, None, None))
    (tmp_path / "training.csv").write_text("".join(",".join(map(str, r)) + "\n" for r in TRAINING))
    (tmp_path / "actions.csv").write_text("id,action\n0,take\n")
    with pytest.raises(ValueError, match=r"actions\.csv: missing columns \['noun', 'verb'\]"):
        epic.load(tmp_path, (None, None, None))


def test_unknown_action_and_missing_directory(tmp_path: Path) -> None:
    write_release(tmp_path, training=[*TRAINING, (5, "P01_01", 400, 410, 0, 0, 9)])
    with pytest.raises(ValueError, match=r"training\.csv: action ids \[9\] not in actions\.csv"):
        epic.load(tmp_path, (None, None, None))
    assert "needs data key 'epic'" in (epic.unavailable_reason(None) or "")
    assert "does not exist" in (epic.unavailable_reason(str(tmp_path / "nope")) or "")
    assert epic.unavailable_reason(str(tmp_path)) is None


@pytest.mark.parametrize("model", ["rulstm", "grammar-prior", "gru"])
def test_task_runs_on_the_release_at_smoke(tmp_path: Path, model: str) -> None:
    registry = get_registry()
    task, spec = registry.task("anticipation-epic"), registry.model(model)
    budget = task.budgets["smoke"]
    config = JobConfig(model, task.name, "cpu", 0, "smoke", budget, budget.lr, RunOptions(measure=False),
                       (("epic", str(write_release(tmp_path))),))
    result = run_job(config, spec, task)
    assert result.status == "ok", result.message
    assert all(np.isfinite(v) for v in result.metrics.values()) and "top5@1s" in result.metrics
