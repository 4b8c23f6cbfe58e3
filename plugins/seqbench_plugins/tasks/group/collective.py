"""Loader for the Collective Activity dataset's annotations (Choi, Shahid & Savarese, ICCV-W 2009;
the extended set: Choi, Shahid & Savarese, CVPR 2011), without the images.

Layout: one folder per sequence, ``seqNN/annotations.txt``, one tab-separated row per person
and annotated frame (every 10th frame): ``frame x y w h action pose``. Action codes follow the
dataset (and the public loaders of Wu et al., CVPR 2019, and Deng et al.): 1 = NA (unlabelled),
2-6 = crossing, waiting, queueing, walking, talking; the extended set adds 7 = dancing,
8 = jogging. Pose codes 1-8 are eight viewing directions.

The rows carry no track id, so a person is followed back through the previous annotated
frames by greedy one-to-one nearest-centre matching. An example is a window of ``steps``
consecutive annotated frames; its people are those of the last frame, with features per step:
centre and size relative to the sequence's extent, motion since the previous step, pose
one-hot. The scene label is the majority labelled action of the last frame (ties: the lower
class), as in the dataset's protocol; NA people stay in the scene but are not scored.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ACTIONS = ("crossing", "waiting", "queueing", "walking", "talking", "dancing", "jogging")
POSES = 8
FEATURES = 6 + POSES
# The split of the group-activity literature (Deng et al. 2016; Wu et al. 2019): these sequences test.
STANDARD_TEST = frozenset({5, 6, 7, 8, 9, 10, 11, 15, 16, 25, 28, 29})
SEQUENCE = re.compile(r"^seq(\d+)$")


class CollectiveFormatError(ValueError):
    """A file that does not follow the Collective Activity annotation layout."""


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    action: int  # class index, -1 for NA
    pose: int  # 0..7


def read_annotations(path: Path) -> dict[int, list[Box]]:
    """Boxes per annotated frame of one ``annotations.txt``; a malformed row raises naming the line."""
    frames: dict[int, list[Box]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        values = _integers(line.strip().split("\t"))
        if values is None:
            raise CollectiveFormatError(f"{path}:{number}: expected 7 tab-separated integers "
                                        f"'frame x y w h action pose', got {line!r}")
        frame, x, y, w, h, action, pose = values
        if w <= 0 or h <= 0 or not 1 <= action <= 1 + len(ACTIONS) or not 1 <= pose <= POSES:
            raise CollectiveFormatError(f"{path}:{number}: expected w, h > 0, action in 1..{1 + len(ACTIONS)} "
                                        f"and pose in 1..{POSES}, got {line!r}")
        frames.setdefault(frame, []).append(Box(x, y, w, h, action - 2, pose - 1))
    if not frames:
        raise CollectiveFormatError(f"{path}: no annotation rows")
    return frames


def _integers(fields: list[str]) -> list[int] | None:
    if len(fields) != 7:
        return None
    try:
        return [int(f) for f in fields]
    except ValueError:
        return None


def _match(current: list[Box], previous: list[Box]) -> list[Box]:
    """For each box of ``current``, its box in the previous annotated frame (greedy nearest
    centre, one to one, within two box heights; unmatched people keep their current box)."""
    if not previous:
        return list(current)
    a = np.array([[b.x + b.w / 2, b.y + b.h / 2] for b in current])
    p = np.array([[b.x + b.w / 2, b.y + b.h / 2] for b in previous])
    dist = np.linalg.norm(a[:, None] - p[None], axis=-1)
    out: list[Box | None] = [None] * len(current)
    used: set[int] = set()
    for flat in np.argsort(dist, axis=None, kind="stable"):
        i, j = divmod(int(flat), len(previous))
        if out[i] is None and j not in used and dist[i, j] <= 2 * current[i].h:
            out[i] = previous[j]
            used.add(j)
    return [m if m is not None else c for m, c in zip(out, current, strict=True)]


def sequence_examples(frames: dict[int, list[Box]], steps: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """(features (steps, n, FEATURES), person labels (n,), scene label) per window of a sequence."""
    keys = sorted(frames)
    all_boxes = [b for f in keys for b in frames[f]]
    width = max(b.x + b.w for b in all_boxes) or 1.0  # the images are absent: the boxes' extent stands in
    height = max(b.y + b.h for b in all_boxes) or 1.0
    out = []
    for end in range(steps - 1, len(keys)):
        people = frames[keys[end]]
        labels = np.array([b.action for b in people])
        known = [a for a in labels.tolist() if a >= 0]
        if not known:
            continue  # nobody labelled: no scene label
        counts = Counter(known)
        scene = min(counts, key=lambda a: (-counts[a], a))
        track = [people]
        for k in range(end - 1, end - steps, -1):
            track.append(_match(track[-1], frames[keys[k]]))
        track.reverse()
        x = np.zeros((steps, len(people), FEATURES), np.float32)
        for t, boxes in enumerate(track):
            for i, b in enumerate(boxes):
                x[t, i, :4] = ((b.x + b.w / 2) / width, (b.y + b.h / 2) / height, b.w / width, b.h / height)
                x[t, i, 6 + b.pose] = 1.0
            if t:
                x[t, :, 4:6] = x[t, :, :2] - x[t - 1, :, :2]
        out.append((x, labels, scene))
    return out


def sequence_dirs(directory: Path) -> dict[int, Path]:
    found = {int(m.group(1)): p for p in directory.iterdir() if (m := SEQUENCE.match(p.name)) and p.is_dir()}
    if not found:
        raise CollectiveFormatError(f"{directory}: no sequence folder 'seqNN/' (expected seqNN/annotations.txt)")
    for p in found.values():
        if not (p / "annotations.txt").is_file():
            raise CollectiveFormatError(f"{p}: missing annotations.txt")
    return found


def split_sequences(ids: list[int]) -> dict[str, list[int]]:
    """The standard test sequences where present (else every third), every fifth other one validates."""
    ids = sorted(ids)
    if len(ids) < 3:
        raise CollectiveFormatError(f"need at least 3 sequences for train / val / test, found {len(ids)}")
    test = [s for s in ids if s in STANDARD_TEST] or ids[2::3]
    rest = [s for s in ids if s not in test]
    if len(rest) < 2:
        test, rest = ids[2::3], [s for s in ids if s not in ids[2::3]]
    val = rest[::5]
    return {"train": [s for s in rest if s not in val], "val": val, "test": test}


def load(directory: str | Path, steps: int
         ) -> tuple[dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]], int]:
    """Splits ``(x, mask, person, scene)`` by sequence, and the number of classes (5, or 7 when
    the extended set's dancing / jogging appear)."""
    root = Path(directory)
    if not root.is_dir():
        raise CollectiveFormatError(f"Collective Activity directory {str(root)!r} does not exist")
    dirs = sequence_dirs(root)
    annotations = {s: read_annotations(p / "annotations.txt") for s, p in dirs.items()}
    extended = any(b.action >= 5 for frames in annotations.values() for boxes in frames.values() for b in boxes)
    examples = {s: sequence_examples(a, steps) for s, a in annotations.items()}
    persons = max((len(lab) for ex in examples.values() for _, lab, _ in ex), default=0)
    splits = {}
    for name, seqs in split_sequences(list(dirs)).items():
        rows = [e for s in seqs for e in examples[s]]
        if not rows:
            raise CollectiveFormatError(f"{root}: the {name} split (sequences {seqs}) has no window of {steps} "
                                        "annotated frames with a labelled person")
        x = torch.zeros(len(rows), steps, persons, FEATURES)
        person = torch.full((len(rows), persons), -1, dtype=torch.long)
        for i, (feats, labels, _) in enumerate(rows):
            x[i, :, : len(labels)] = torch.from_numpy(feats)
            person[i, : len(labels)] = torch.from_numpy(labels)
        mask = torch.zeros(len(rows), persons, dtype=torch.bool)
        for i, (_, labels, _) in enumerate(rows):
            mask[i, : len(labels)] = True
        splits[name] = (x, mask, person, torch.tensor([r[2] for r in rows]))
    return splits, 7 if extended else 5
