"""Synthetic collective scenes in which relations between people carry the answer.

The classes are those of the Collective Activity dataset (Choi, Shahid & Savarese, "What are
they doing?: Collective activity classification using spatio-temporal relationship among
people", ICCV workshops 2009): crossing, waiting, queueing, walking, talking. Each scene has a
main group doing the collective behaviour (always the majority, so the scene label is the
majority action, as in the dataset's protocol) and a few distractors doing something else:

* crossing: a compact group moving together in one direction;
* walking: individuals moving in independent directions, spread over the scene;
* waiting: still people loosely gathered (keeping about a metre apart), each facing anywhere;
* queueing: still people in a line at small spacing, all facing along it;
* talking: small circles of 2-4 still people facing the circle's centre.

A person alone is ambiguous on purpose: movers (crossing / walking) share one speed
distribution and all headings; still people (waiting / queueing / talking) share every facing
(groups are rotated at random) and the same gathering radius. Only a weak appearance cue
(a noisy class prototype) is individual. What separates the classes is relational: moving
*together*, standing *in a line*, facing *each other* at close range.

Features per person and step (``FEATURES``): position / 2 m, velocity / 1.5 m/s (finite
differences of noisy positions), facing (cos, sin) and ``appearance`` appearance numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

CLASSES = ("crossing", "waiting", "queueing", "walking", "talking")
CROSSING, WAITING, QUEUEING, WALKING, TALKING = range(5)
DISTRACTORS = (WALKING, WAITING, TALKING)  # what a bystander plausibly does on its own
DT = 0.4  # seconds between steps
POSITION_SCALE, SPEED_SCALE = 2.0, 1.5  # metres and m/s per feature unit: conversation distances are O(0.5)


@dataclass(frozen=True)
class SynthConfig:
    scenes: int
    max_persons: int
    steps: int
    min_persons: int = 5
    appearance: int = 6  # appearance numbers per person
    appearance_signal: float = 0.5  # prototype scale against unit noise: a weak individual cue
    position_noise: float = 0.05  # metres, per step
    facing_noise: float = 0.25  # radians, per step


@dataclass(frozen=True)
class Scenes:
    """x (N, T, P, D) float32, mask (N, P) bool, person (N, P) int64 (-1 padding), scene (N,) int64."""

    x: torch.Tensor
    mask: torch.Tensor
    person: torch.Tensor
    scene: torch.Tensor


def feature_size(config: SynthConfig) -> int:
    return 6 + config.appearance


def _prototypes(config: SynthConfig) -> np.ndarray:
    """Fixed appearance prototypes (what a person doing each action looks like): the same for
    every split and data seed, unit norm."""
    proto = np.random.default_rng(20160627).normal(size=(len(CLASSES), config.appearance))
    return proto / np.linalg.norm(proto, axis=1, keepdims=True)


def _group(cls: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start positions (k, 2) m, velocities (k, 2) m/s and facings (k,) rad of a group."""
    theta = rng.uniform(-np.pi, np.pi)
    centre = rng.uniform(-3.0, 3.0, size=2)
    still = np.zeros((k, 2))
    if cls == CROSSING:
        speed = rng.uniform(1.0, 1.6) + rng.normal(0, 0.08, k)
        heading = theta + rng.normal(0, 0.12, k)
        pos = centre + rng.normal(0, 0.8, (k, 2))
        return pos, speed[:, None] * _unit(heading), heading
    if cls == WALKING:
        heading = rng.uniform(-np.pi, np.pi, k)
        speed = rng.uniform(1.0, 1.6, k)
        return rng.uniform(-5.0, 5.0, (k, 2)), speed[:, None] * _unit(heading), heading
    if cls == QUEUEING:
        gaps = np.concatenate([[0.0], np.cumsum(rng.uniform(0.6, 0.9, k - 1))])
        pos = centre + (gaps - gaps.mean())[:, None] * _unit(np.full(k, theta)) + rng.normal(0, 0.08, (k, 2))
        return pos, still, theta + rng.normal(0, 0.15, k)
    if cls == WAITING:
        return centre + _scattered(k, rng), still, rng.uniform(-np.pi, np.pi, k)
    return _talking(k, centre, rng)


def _scattered(k: int, rng: np.random.Generator, spacing: float = 1.2) -> np.ndarray:
    """``k`` points loosely gathered in a disc: strangers keep about ``spacing`` metres apart
    (rejection sampling; a point that finds no room after 30 tries is kept anyway)."""
    radius = max(1.5, 0.8 * spacing * np.sqrt(k))
    points: list[np.ndarray] = []
    for _ in range(k):
        for _ in range(30):
            point = radius * np.sqrt(rng.uniform()) * _unit(rng.uniform(-np.pi, np.pi))
            if all(np.linalg.norm(point - q) >= spacing for q in points):
                break
        points.append(point)
    return np.array(points)


def _talking(k: int, centre: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sizes: list[int] = []
    while sum(sizes) < k:
        sizes.append(min(int(rng.integers(2, 5)), k - sum(sizes)))
    if sizes[-1] == 1:  # nobody talks alone: join the last circle
        sizes[-2] += 1
        sizes.pop()
    pos, facing = [], []
    for n in sizes:
        # circles spread over the same radius as a waiting crowd, so the overall extent is alike
        middle = centre + max(1.5, 0.9 * np.sqrt(k)) * np.sqrt(rng.uniform()) * _unit(rng.uniform(-np.pi, np.pi))
        angle = rng.uniform(-np.pi, np.pi) + 2 * np.pi * np.arange(n) / n + rng.normal(0, 0.2, n)
        radius = rng.uniform(0.35, 0.5)  # conversation distance: closer than strangers stand
        pos.append(middle + radius * _unit(angle))
        facing.append(angle + np.pi + rng.normal(0, 0.2, n))  # towards the circle's centre
    return np.concatenate(pos), np.zeros((k, 2)), np.concatenate(facing)


def _unit(angle: np.ndarray | float) -> np.ndarray:
    return np.stack([np.cos(angle), np.sin(angle)], -1)


def _scene(config: SynthConfig, cls: int, rng: np.random.Generator, proto: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Features (T, n, D) and person labels (n,) of one scene of class ``cls``."""
    n = int(rng.integers(config.min_persons, config.max_persons + 1))
    bystanders = int(rng.integers(0, (n - 1) // 3 + 1))  # the group stays a clear majority
    parts = [(_group(cls, n - bystanders, rng), np.full(n - bystanders, cls))]
    choices = [a for a in DISTRACTORS if a != cls]
    left = bystanders
    while left:
        action = int(rng.choice(choices))
        size = 2 if action == TALKING and left >= 2 else 1  # bystanders talk in pairs
        action = WAITING if action == TALKING and size == 1 else action
        parts.append((_group(action, size, rng), np.full(size, action)))
        left -= size
    pos0 = np.concatenate([p[0][0] for p in parts])
    vel = np.concatenate([p[0][1] for p in parts])
    facing0 = np.concatenate([p[0][2] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    t = np.arange(config.steps)[:, None, None] * DT
    sway = np.cumsum(rng.normal(0, 0.03, (config.steps, n, 2)), 0)  # nobody stands perfectly still
    pos = pos0 + vel * t + sway + rng.normal(0, config.position_noise, (config.steps, n, 2))
    velocity = np.diff(pos, axis=0, prepend=pos[:1] - vel * DT) / DT
    facing = facing0 + rng.normal(0, config.facing_noise, (config.steps, n))
    look = proto[labels] * config.appearance_signal + rng.normal(0, 1.0, (n, config.appearance))
    look = look + rng.normal(0, 0.3, (config.steps, n, config.appearance))
    x = np.concatenate([pos / POSITION_SCALE, velocity / SPEED_SCALE, _unit(facing), look], -1)
    order = rng.permutation(n)  # group members are never contiguous or first
    return x[:, order], labels[order]


def generate(config: SynthConfig, seed: int) -> Scenes:
    """``config.scenes`` scenes, classes balanced in expectation, deterministic in ``seed``."""
    if config.min_persons < 3 or config.max_persons < config.min_persons or config.steps < 2:
        raise ValueError(f"synthetic scenes need 3 <= min_persons <= max_persons and steps >= 2; got {config}")
    rng = np.random.default_rng(seed)
    proto = _prototypes(config)
    n, t, p = config.scenes, config.steps, config.max_persons
    x = np.zeros((n, t, p, feature_size(config)), np.float32)
    person = np.full((n, p), -1, np.int64)
    scene = rng.integers(0, len(CLASSES), n)
    for i in range(n):
        feats, labels = _scene(config, int(scene[i]), rng, proto)
        x[i, :, : len(labels)] = feats
        person[i, : len(labels)] = labels
    return Scenes(torch.from_numpy(x), torch.from_numpy(person >= 0), torch.from_numpy(person),
                  torch.from_numpy(scene))
