"""Traffic speeds simulated on a directed road-sensor graph.

Stands in for METR-LA / PEMS-BAY (Li et al., "Diffusion Convolutional Recurrent Neural
Network", ICLR 2018) with the phenomena that make the real data hard: a daily and weekly
demand cycle with morning and evening rush hours whose strength varies from day to day,
congestion that spills back *upstream* along directed edges (the reason a graph model
beats a per-sensor model), random incidents, slowly varying local fluctuations, sensor
noise and missing readings recorded as zeros (outages of one sensor, isolated drops and
whole-network gaps, as in the real files). Deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STEPS_PER_DAY = 288  # 5-minute readings


@dataclass(frozen=True)
class SimConfig:
    days: float
    incidents_per_node_day: float = 0.08
    incident_mean_steps: float = 9.0  # ~45 minutes
    spillback: float = 0.92  # fraction of downstream congestion passed one hop upstream per step
    noise_mph: float = 1.5
    outages_per_node_day: float = 0.15
    drop_rate: float = 0.01
    network_gaps_per_day: float = 0.1


@dataclass(frozen=True)
class Simulation:
    speed: np.ndarray  # (T, N) float32 mph, 0 = missing reading
    time_of_day: np.ndarray  # (T,) fraction of the day in [0, 1)
    day_of_week: np.ndarray  # (T,) int, 0 = Monday


def synthetic_graph(num_nodes: int, seed: int) -> np.ndarray:
    """A small road-like directed graph: a few two-way corridors with ramps between them,
    weighted by a Gaussian kernel of distance as in DCRNN, self-loops on the diagonal."""
    rng = np.random.default_rng(seed)
    pos = np.cumsum(rng.uniform(0.5, 1.5, num_nodes))
    corridor = np.arange(num_nodes) % 3  # three corridors interleaved along the road
    dist = np.full((num_nodes, num_nodes), np.inf)
    for i in range(num_nodes):
        for j in range(num_nodes):
            same = corridor[i] == corridor[j]
            if i != j and (same or rng.random() < 0.15):
                dist[i, j] = abs(pos[j] - pos[i]) + (0.0 if same else 1.0)
    finite = dist[np.isfinite(dist)]
    adj = np.exp(-((dist / finite.std()) ** 2))
    adj[adj < 0.1] = 0.0
    np.fill_diagonal(adj, 1.0)
    return adj.astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate(adjacency: np.ndarray, config: SimConfig, seed: int) -> Simulation:
    """Speeds (T, N) on ``adjacency`` (``adjacency[i, j]``: edge i -> j, i.e. j is downstream)."""
    rng = np.random.default_rng(seed)
    n = adjacency.shape[0]
    steps = round(config.days * STEPS_PER_DAY)
    w = adjacency.astype(np.float64).copy()
    np.fill_diagonal(w, 0.0)
    out_deg = w.sum(1, keepdims=True)
    downstream = np.divide(w, out_deg, out=np.zeros_like(w), where=out_deg > 0)  # row-stochastic

    free = rng.uniform(58.0, 70.0, n)
    # Exposure to the morning / evening peak (commute direction); smoothed over the graph so
    # neighbouring sensors share a corridor's pattern.
    am, pm, weekend = (rng.uniform(0.1, 1.0, n) for _ in range(3))
    for _ in range(2):
        am, pm = 0.5 * am + 0.5 * downstream @ am, 0.5 * pm + 0.5 * downstream @ pm
    threshold = rng.uniform(0.45, 0.75, n)
    day_scale = rng.lognormal(0.0, 0.2, int(np.ceil(config.days)) + 1)  # weather, events
    day_shift = rng.normal(0.0, 0.4, int(np.ceil(config.days)) + 1)  # hours the peaks move

    t = np.arange(steps)
    day = t // STEPS_PER_DAY
    hour = (t % STEPS_PER_DAY) / 12.0
    dow = day % 7
    congestion = np.zeros(n)
    incident = np.zeros(n)
    incident_left = np.zeros(n, dtype=np.int64)
    wobble = np.zeros(n)
    speed = np.empty((steps, n))
    p_incident = config.incidents_per_node_day / STEPS_PER_DAY
    for k in range(steps):
        g, h = day_scale[day[k]], hour[k] - day_shift[day[k]]
        if dow[k] < 5:
            demand = g * (am * np.exp(-0.5 * ((h - 8.0) / 1.0) ** 2) + pm * np.exp(-0.5 * ((h - 17.5) / 1.3) ** 2))
        else:
            demand = 0.6 * g * weekend * np.exp(-0.5 * ((h - 14.0) / 2.5) ** 2)
        local = _sigmoid((demand - threshold) / 0.06)
        start = (incident_left == 0) & (rng.random(n) < p_incident)
        incident_left[start] = 2 + rng.geometric(1.0 / config.incident_mean_steps, int(start.sum()))
        incident[start] = rng.uniform(0.5, 1.0, int(start.sum()))
        incident[incident_left == 0] = 0.0
        incident_left = np.maximum(incident_left - 1, 0)
        # Queues spill back: a node is pushed towards the congestion of its downstream neighbours.
        target = np.maximum.reduce([local, config.spillback * (downstream @ congestion), incident])
        rate = np.where(target > congestion, 0.35, 0.12)  # jams form fast and clear slowly
        congestion = np.clip(congestion + rate * (target - congestion), 0.0, 1.0)
        wobble = 0.97 * wobble + rng.normal(0.0, 0.35, n)
        speed[k] = free * (1.0 - 0.75 * congestion) + wobble
    speed += rng.normal(0.0, config.noise_mph, speed.shape)
    speed = np.clip(speed, 3.0, 80.0)

    missing = rng.random(speed.shape) < config.drop_rate
    for node in range(n):  # single-sensor outages of 1 to 8 hours
        for _ in range(rng.poisson(config.outages_per_node_day * config.days)):
            s = rng.integers(steps)
            missing[s : s + rng.integers(12, 96), node] = True
    for _ in range(rng.poisson(config.network_gaps_per_day * config.days)):  # whole-network gaps
        s = rng.integers(steps)
        missing[s : s + rng.integers(3, 12)] = True
    speed[missing] = 0.0
    return Simulation(speed.astype(np.float32), ((t % STEPS_PER_DAY) / STEPS_PER_DAY).astype(np.float32), dow)
