"""The measurement window: a job asks its scheduler for the machine before timing anything.

Throughput and latency must never be measured while another job computes on the same machine
(issue 14). The job process (see :mod:`seqbench.executors.worker`) registers the channel to its
scheduler here; :func:`measurement_window` then sends ``("measure", None)``, blocks until the
scheduler answers ``("go", None)`` (it has paused every other job process and holds back new
ones) and sends ``("measured", None)`` when the timing is over, whatever happened inside.
In-process runs (tests, ``seqbench validate``) have no scheduler: the window is a no-op.
:func:`announce` reports progress points (the first optimizer step) on the same channel.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection

_channel: Connection | None = None


def attach(channel: Connection | None) -> None:
    """Route this process's measurement windows through ``channel`` (``None``: no scheduler)."""
    global _channel
    _channel = channel


@contextmanager
def measurement_window() -> Iterator[None]:
    """Hold the machine alone for the duration of the block (no-op without a scheduler)."""
    channel = _channel
    if channel is None:
        yield
        return
    channel.send(("measure", None))
    kind, _ = channel.recv()
    if kind != "go":
        raise RuntimeError(f"scheduler answered {kind!r} to a measurement request, expected 'go'")
    try:
        yield
    finally:
        channel.send(("measured", None))


def announce(kind: str) -> None:
    """Tell the scheduler (if any) that the job reached a point, with the wall clock: ``first_step``
    after its first optimizer step (what :mod:`benchmarks.startup` times). The scheduler ignores it."""
    if _channel is not None:
        _channel.send((kind, time.time()))
