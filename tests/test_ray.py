"""The Ray executor on a real local cluster, loopback only (issue 14).

Skipped without Ray (``pip install 'seqbench[ray]'``; not in the ``dev`` extra, to keep CI
short). Marked slow: every Ray task starts a worker and a job process, seconds each.

    .venv/bin/pip install ray && .venv/bin/python -m pytest tests/test_ray.py -n 0 -m slow
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'seqbench[ray]'")

from seqbench.executors.base import Serial  # noqa: E402
from seqbench.executors.ray import RayExecutor  # noqa: E402
from seqbench.manager import get_registry  # noqa: E402
from seqbench.plan import make_plan  # noqa: E402
from seqbench.runner import run_plan  # noqa: E402
from seqbench.specs import JobConfig, JobResult, RunOptions  # noqa: E402
from seqbench.store import Store  # noqa: E402
from seqbench.train import run_job  # noqa: E402

pytestmark = pytest.mark.slow
OPTIONS = RunOptions(threads=1, measure=False)


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # seen by the Ray workers this test starts
    yield
    ray.shutdown()


def in_process(config: JobConfig, timeout: float | None, artifacts: Path | None, peaks: object) -> JobResult:
    registry = get_registry()
    return run_job(config, registry.model(config.model), registry.task(config.task))


def rows(path: Path) -> dict[tuple[str, int], tuple[str, str]]:
    """(model, seed) -> (status, metrics as sorted JSON) of every attempt in the store."""
    with Store(path) as store:
        frame = store.attempts()
    metrics = [c for c in frame.columns if c.startswith("metric.")]
    return {(str(r["model"]), int(r["seed"])):
            (str(r["status"]), json.dumps({m: r[m] for m in metrics}, sort_keys=True)) for _, r in frame.iterrows()}


def test_ray_rows_match_the_local_executor(tmp_path: Path) -> None:
    registry = get_registry()
    plan = make_plan(registry, ["lstm", "unigram"], ["lm-hmm"], ["cpu"], [0], "smoke", OPTIONS)
    run_plan(registry, plan, tmp_path / "local", None, executor=Serial(in_process), log=lambda _: None)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    executor = RayExecutor()
    run_plan(registry, plan, tmp_path / "ray", 300, executor=executor, log=lambda _: None)
    assert rows(tmp_path / "ray" / "seqbench.sqlite") == rows(tmp_path / "local" / "seqbench.sqlite")
    with Store(tmp_path / "ray" / "seqbench.sqlite") as store:
        env = next(iter(store.environments().values()))
    assert env["executor"]["name"] == "ray" and env["executor"]["cpus"] == 2


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def _descends_from_me(pid: int) -> bool:
    while pid > 1:
        if pid == os.getpid():
            return True
        pid = _parent(pid)
    return False


def _kill_one_ray_worker(killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the Ray worker running the first job process of this test's cluster."""
    while not stop.is_set():
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if b"seqbench.executors.worker import main" not in cmdline.read_bytes():
                    continue
                worker = _parent(int(cmdline.parent.name))
                if _descends_from_me(worker) and b"ray" in Path(f"/proc/{worker}/cmdline").read_bytes():
                    os.kill(worker, signal.SIGKILL)
                    killed.append(worker)
                    return
            except (OSError, ValueError, IndexError):
                continue
        time.sleep(0.05)


def test_a_killed_ray_worker_loses_no_job(tmp_path: Path) -> None:
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        registry = get_registry()
        plan = make_plan(registry, ["lstm"], ["lm-hmm"], ["cpu"], [0, 1], "smoke", OPTIONS)
        killed: list[int] = []
        stop = threading.Event()
        killer = threading.Thread(target=_kill_one_ray_worker, args=(killed, stop))
        killer.start()
        try:
            summary = run_plan(registry, plan, tmp_path, 300, executor=RayExecutor(cluster.address),
                               log=lambda _: None)
        finally:
            stop.set()
            killer.join()
        assert killed, "no Ray worker was killed: the test did not test anything"
        assert (summary.done, summary.failed) == (2, 0)
        with Store(tmp_path / "seqbench.sqlite") as store:
            assert sorted(store.attempts()["status"]) == ["ok", "ok"]  # one row per job: the lost try left none
    finally:
        ray.shutdown()
        cluster.shutdown()
