"""Synthetic egocentric streams for action anticipation.

A stand-in for EPIC-KITCHENS features (Damen et al., ECCV 2018) as RU-LSTM consumes them
(Furnari & Farinella, ICCV 2019): videos are chains of verb-noun actions drawn from an
action grammar, observed through three modalities that each carry a different part of
what is needed to name the *next* action:

* grammar: a Markov chain over actions whose transition scores are the sum of a verb-to-verb
  and a noun-to-noun score (so "take cup" and "take glass" lead to similar places, and the
  noun tends to carry over, as in "take cup" -> "pour cup"), plus a per-kitchen preference
  for some nouns (each video is recorded in one kitchen);
* ``rgb`` (appearance): a noisy low-rank embedding of the *current* action and the kitchen;
* ``flow`` (motion): the current verb's motion, plus the *next* verb's motion fading in
  during the last 2.5 s before the next action starts (hands move before the action);
* ``obj`` (352 detector classes, as RU-LSTM's object branch): detection confidences of the
  current noun's object, the kitchen's objects, false positives, and the *next* noun's
  object appearing with a probability that grows as the next action approaches.

So appearance alone gives the grammar prior, motion and objects alone half of the next
action each, and only their fusion pins the action down. Seeded and deterministic; the
grammar (the "world") comes from the data seed, each split draws its own videos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

OBJ_DIM = 352  # object classes of RU-LSTM's EPIC-KITCHENS detector
STEP_SECONDS = 0.25
LEAD_IN_STEPS = 14  # a first action long enough that every scored action has 14 past steps


@dataclass(frozen=True)
class SynthConfig:
    verbs: int
    nouns: int  # <= OBJ_DIM: noun n is detector class n
    actions: int  # distinct verb-noun pairs
    rgb_dim: int
    flow_dim: int
    videos: tuple[int, int, int]  # train, val, test
    actions_per_video: int
    kitchens: int = 8
    sharpness: float = 1.6  # grammar temperature: higher = more predictable next action
    rgb_signal: float = 0.6  # amplitude of the action embedding against unit noise, per dim
    flow_signal: float = 0.7
    lead_seconds: float = 2.5  # next verb / object start showing this long before the action

    def __post_init__(self) -> None:
        if self.nouns > OBJ_DIM or self.actions > self.verbs * self.nouns:
            raise ValueError(f"need nouns <= {OBJ_DIM} and actions <= verbs * nouns, got {self}")


@dataclass(frozen=True)
class World:
    """The grammar and embeddings shared by every split."""

    verb: np.ndarray  # (A,) verb of each action
    noun: np.ndarray  # (A,) noun of each action
    logits: np.ndarray  # (K, A, A) transition scores a -> a' in kitchen k
    rgb_action: np.ndarray  # (A, rgb_dim)
    rgb_kitchen: np.ndarray  # (K, rgb_dim)
    flow_verb: np.ndarray  # (V, flow_dim) motion while doing a verb
    flow_lead: np.ndarray  # (V, flow_dim) motion that announces a verb
    kitchen_objects: np.ndarray  # (K, OBJ_DIM) probability an object is in view


@dataclass(frozen=True)
class Streams:
    """One split: feature timelines of all videos and one anticipation sample per scored action."""

    rgb: torch.Tensor  # (steps, rgb_dim)
    flow: torch.Tensor
    obj: torch.Tensor  # (steps, OBJ_DIM)
    end: torch.Tensor  # (S,) timeline index of each action's start (the window ends just before)
    action: torch.Tensor  # (S,) label
    previous: torch.Tensor  # (S,) action in progress at tau_a = 2 s


def _low_rank(rng: np.random.Generator, n: int, dim: int, rank: int = 16) -> np.ndarray:
    """n embeddings that share a rank-``rank`` subspace, ~unit variance per dimension."""
    return (rng.normal(size=(n, rank)) @ rng.normal(size=(rank, dim)) / np.sqrt(rank)).astype(np.float32)


def make_world(config: SynthConfig, seed: int) -> World:
    rng = np.random.default_rng(seed)
    pairs = rng.choice(config.verbs * config.nouns, size=config.actions, replace=False)
    verb, noun = pairs // config.nouns, pairs % config.nouns
    verb_score = rng.normal(0.0, 1.0, (config.verbs, config.verbs))
    noun_score = rng.normal(0.0, 1.0, (config.nouns, config.nouns)) + 1.5 * np.eye(config.nouns)  # nouns carry over
    kitchen_noun = rng.normal(0.0, 0.8, (config.kitchens, config.nouns))
    base = verb_score[verb][:, verb] + noun_score[noun][:, noun]  # (A, A)
    np.fill_diagonal(base, -np.inf)  # an action never follows itself
    logits = config.sharpness * base[None] + kitchen_noun[:, None, noun]
    # Action embedding: verb part + noun part + a little of its own, so similar actions look alike.
    rgb_action = _low_rank(rng, config.verbs, config.rgb_dim)[verb] + _low_rank(rng, config.nouns, config.rgb_dim)[noun]
    rgb_action += 0.5 * _low_rank(rng, config.actions, config.rgb_dim)
    objects = np.zeros((config.kitchens, OBJ_DIM), np.float32)
    for k in range(config.kitchens):  # furniture and appliances always around in that kitchen
        objects[k, rng.choice(OBJ_DIM, size=6, replace=False)] = rng.uniform(0.2, 0.6, 6)
    return World(verb, noun, logits, rgb_action / np.sqrt(2.25), _low_rank(rng, config.kitchens, config.rgb_dim),
                 _low_rank(rng, config.verbs, config.flow_dim), _low_rank(rng, config.verbs, config.flow_dim), objects)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def generate(world: World, config: SynthConfig, videos: int, seed: int) -> Streams:
    """``videos`` videos of ``config.actions_per_video`` scored actions each."""
    rng = np.random.default_rng(seed)
    a_count = len(world.verb)
    cur, nxt, until, kitchen_of, ends, labels, previous = [], [], [], [], [], [], []
    offset = 0
    for _ in range(videos):
        k = int(rng.integers(world.logits.shape[0]))
        chain = [int(rng.integers(a_count))]
        for _ in range(config.actions_per_video):
            chain.append(int(rng.choice(a_count, p=_softmax(world.logits[k, chain[-1]]))))
        lengths = [LEAD_IN_STEPS, *rng.integers(4, 13, config.actions_per_video)]  # 1 to 3 s
        steps = sum(lengths)
        starts = np.cumsum([0, *lengths[:-1]])
        index = np.repeat(np.arange(len(chain)), lengths)  # action in progress at each step
        cur.append(np.array(chain)[index])
        nxt.append(np.array([*chain, chain[-1]])[index + 1])
        until.append((starts[index] + np.array(lengths)[index] - np.arange(steps)) * STEP_SECONDS)
        kitchen_of.append(np.full(steps, k))
        for i in range(1, len(chain)):
            ends.append(offset + starts[i])
            labels.append(chain[i])
            previous.append(chain[index[starts[i] - 8]])  # observed at tau_a = 2 s (8 steps before)
        offset += steps
    c, n, u, k_all = (np.concatenate(v) for v in (cur, nxt, until, kitchen_of))
    lead = np.clip(1.0 - u / config.lead_seconds, 0.0, 1.0)[:, None].astype(np.float32)
    rgb = config.rgb_signal * (world.rgb_action[c] + 0.5 * world.rgb_kitchen[k_all])
    rgb = rgb + rng.normal(size=rgb.shape)
    flow = config.flow_signal * (world.flow_verb[world.verb[c]] + 1.5 * lead * world.flow_lead[world.verb[n]])
    flow = flow + rng.normal(size=flow.shape)
    obj = world.kitchen_objects[k_all] * (rng.random((len(c), OBJ_DIM)) < 0.5)
    obj = obj + 0.15 * rng.random(obj.shape) * (rng.random(obj.shape) < 0.05)  # false positives
    rows = np.arange(len(c))
    obj[rows, world.noun[c]] += rng.uniform(0.4, 1.0, len(c)) * (rng.random(len(c)) < 0.8)
    seen = rng.random(len(c)) < lead[:, 0]  # the next object enters the view as the action nears
    obj[rows, world.noun[n]] += rng.uniform(0.3, 0.9, len(c)) * seen

    def tensor(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    return Streams(tensor(rgb), tensor(flow), tensor(obj), torch.tensor(ends), torch.tensor(labels),
                   torch.tensor(previous))
