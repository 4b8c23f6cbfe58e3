"""Loader for RU-LSTM's EPIC-KITCHENS-55 feature release (Furnari & Farinella, ICCV 2019).

Layout of the directory given as data key ``epic`` (as ``RULSTM/data/ek55`` after the
release's download script):

* ``rgb/``, ``flow/``, ``obj/``: LMDB databases; key ``"{video}_frame_{frame:010d}.jpg"``,
  value the raw float32 vector (1024 values for rgb and flow, 352 for obj);
* ``training.csv``, ``validation.csv``: action segments without header, columns
  ``id, video, start_frame, end_frame, verb, noun, action`` (frames at 30 fps);
* ``actions.csv``: header ``id,action,verb,noun``, one row per action class.

As the reference ``SequenceDataset`` does: 14 frames every 0.25 s ending 0.25 s before the
action (floor of the time stamp, so never a frame after it); frames before frame 1 are
replaced by the first valid one, and a segment with no valid frame is left out. Train and
validation come from ``training.csv`` (every tenth video, by sorted id, is validation);
the test split is ``validation.csv``. The previous action of a segment is the latest
segment of the same video that started by the tau_a = 2 s observation frame.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqbench.specs import Preset
from seqbench_plugins.tasks.anticipation.task import OBSERVED_STEPS, STEP_SECONDS, AnticipationData, Split

FPS = 30
MODALITIES = (("rgb", 1024), ("flow", 1024), ("obj", 352))
COLUMNS = ("id", "video", "start_frame", "end_frame", "verb", "noun", "action")
# Segments per split (train, val, test) read at each preset; None: all. Features are held
# in memory as 14 x 2400 floats per segment (134 kB), hence the caps below paper.
CAPS: dict[Preset, tuple[int | None, int | None, int | None]] = {
    "smoke": (64, 32, 32),
    "quick": (4000, 500, 1000),
    "paper": (None, None, None),
}


@dataclass(frozen=True)
class Segment:
    id: int
    video: str
    start: int
    verb: int
    noun: int
    action: int


def unavailable_reason(directory: str | None) -> str | None:
    if not directory:
        return "needs data key 'epic': a directory with rgb/ flow/ obj/ LMDB features and the EPIC-55 CSVs"
    if not Path(directory).is_dir():
        return f"EPIC data directory {directory!r} does not exist"
    try:
        import lmdb  # noqa: F401
    except ImportError:
        return "reading the RU-LSTM LMDB features needs lmdb: pip install 'seqbench[lmdb]'"
    return None


def read_segments(path: Path) -> list[Segment]:
    """An annotation CSV without header: id, video, start_frame, end_frame, verb, noun, action."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: annotation file not found (expected columns {', '.join(COLUMNS)})")
    out = []
    with path.open(newline="") as f:
        for line, row in enumerate(csv.reader(f), 1):
            if len(row) != len(COLUMNS):
                raise ValueError(f"{path}, line {line}: {len(row)} columns, expected {len(COLUMNS)}: "
                                 f"{', '.join(COLUMNS)} (no header)")
            try:
                i, start, _, verb, noun, action = (int(row[k]) for k in (0, 2, 3, 4, 5, 6))
            except ValueError as exc:
                raise ValueError(f"{path}, line {line}: expected integers in every column but video: {row}") from exc
            out.append(Segment(i, row[1].strip(), start, verb, noun, action))
    if not out:
        raise ValueError(f"{path}: no annotation rows")
    return out


def read_actions(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """``actions.csv`` -> (verb of each action id, noun of each action id)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: actions list not found (expected header id,action,verb,noun)")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f, skipinitialspace=True))
    missing = {"id", "verb", "noun"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}; expected header id,action,verb,noun")
    ids = [int(r["id"]) for r in rows]
    if sorted(ids) != list(range(len(ids))):
        raise ValueError(f"{path}: action ids must be 0..{len(ids) - 1} once each")
    verb, noun = torch.zeros(len(ids), dtype=torch.long), torch.zeros(len(ids), dtype=torch.long)
    for i, r in zip(ids, rows, strict=True):
        verb[i], noun[i] = int(r["verb"]), int(r["noun"])
    return verb, noun


def past_frames(start_frame: int) -> np.ndarray | None:
    """The 14 frames observed before an action starting at ``start_frame``, None if none is valid."""
    stamps = start_frame / FPS - STEP_SECONDS * np.arange(OBSERVED_STEPS, 0, -1)
    frames = np.floor(stamps * FPS).astype(np.int64)
    if frames.max() < 1:
        return None
    frames[frames < 1] = frames[frames >= 1].min()
    return frames


def previous_actions(segments: Sequence[Segment], frames: Sequence[np.ndarray]) -> list[int]:
    """Latest other segment of the same video started by the tau_a = 2 s frame, -1 if none."""
    by_video: dict[str, list[Segment]] = {}
    for s in segments:
        by_video.setdefault(s.video, []).append(s)
    out = []
    for s, f in zip(segments, frames, strict=True):
        seen = [o for o in by_video[s.video] if o.id != s.id and o.start <= f[6]]  # step 6: tau_a = 2 s
        out.append(max(seen, key=lambda o: (o.start, o.id)).action if seen else -1)
    return out


def read_windows(path: Path, dim: int, keys: list[list[str]]) -> torch.Tensor:
    """(S, 14, dim) features of the frame keys from the LMDB database at ``path``."""
    import lmdb

    if not (path / "data.mdb").is_file():
        raise FileNotFoundError(f"{path}: no LMDB database (data.mdb) for this modality")
    out = np.empty((len(keys), OBSERVED_STEPS, dim), np.float32)
    cache: dict[str, np.ndarray] = {}
    env = lmdb.open(str(path), readonly=True, lock=False, readahead=False)
    try:
        with env.begin() as txn:
            for i, window in enumerate(keys):
                for t, key in enumerate(window):
                    if key not in cache:
                        value = txn.get(key.encode())
                        if value is None:
                            raise KeyError(f"{path}: no features for key {key!r}")
                        if len(value) != 4 * dim:
                            raise ValueError(f"{path}: key {key!r} holds {len(value)} bytes, expected {dim} "
                                             f"float32 ({4 * dim} bytes)")
                        cache[key] = np.frombuffer(value, np.float32)
                    out[i, t] = cache[key]
    finally:
        env.close()
    return torch.from_numpy(out)


def _split(directory: Path, segments: list[Segment], cap: int | None) -> Split:
    frames = [past_frames(s.start) for s in segments]
    kept = [(s, f) for s, f in zip(segments, frames, strict=True) if f is not None]
    previous = previous_actions([s for s, _ in kept], [f for _, f in kept])
    kept_prev = list(zip(kept, previous, strict=True))[:cap]
    keys = [[f"{s.video}_frame_{int(x):010d}.jpg" for x in f] for (s, f), _ in kept_prev]
    features = {m: read_windows(directory / m, d, keys) for m, d in MODALITIES}
    return Split(features, torch.tensor([s.action for (s, _), _ in kept_prev]),
                 torch.tensor([p for _, p in kept_prev]))


def load(directory: str | Path, caps: tuple[int | None, int | None, int | None]) -> AnticipationData:
    directory = Path(directory)
    verb_of, noun_of = read_actions(directory / "actions.csv")
    training = read_segments(directory / "training.csv")
    test = read_segments(directory / "validation.csv")
    for path, segs in ((directory / "training.csv", training), (directory / "validation.csv", test)):
        bad = [s.action for s in segs if not 0 <= s.action < len(verb_of)]
        if bad:
            raise ValueError(f"{path}: action ids {bad[:5]} not in actions.csv (0..{len(verb_of) - 1})")
    videos = sorted({s.video for s in training})
    val_videos = set(videos[9::10]) if len(videos) >= 2 else set()
    parts = {"train": [s for s in training if s.video not in val_videos],
             "val": [s for s in training if s.video in val_videos] or training, "test": test}
    names = ("train", "val", "test")
    splits = {name: _split(directory, parts[name], cap) for name, cap in zip(names, caps, strict=True)}
    return AnticipationData(splits, MODALITIES, verb_of, noun_of)
