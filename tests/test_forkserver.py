"""The fork server (issue 14): CPU jobs forked from one warm server per run keep the spawned
job process's isolation, give the same metrics, and CUDA jobs are never forked.

``fork-probe`` (tests/fixtures/fork_plugins.py, installed through an entry point so the
server loads it as any plugin) crashes, kills itself, hangs or records the module state it
saw, by seed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import install_fake_distribution

from seqbench.executors import local
from seqbench.executors.base import Finished
from seqbench.executors.local import LocalExecutor, _Schedule
from seqbench.manager import get_registry
from seqbench.plan import make_plan
from seqbench.specs import Budget, JobConfig, JobResult, RunOptions

FIXTURE = Path(__file__).parent / "fixtures" / "fork_plugins.py"
OPTIONS = RunOptions(threads=1, measure=False)


@pytest.fixture
def probe_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """fork_plugins installed as a distribution with a ``seqbench`` entry point, seen by this
    process and by the job server it starts; the probe writes into the returned folder."""
    site = tmp_path / "site"
    install_fake_distribution(site, "fork-plugins", {"fork": "fork_plugins:plugin"}, FIXTURE)
    seen = tmp_path / "seen"
    seen.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("SEQBENCH_FORK_DIR", str(seen))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    get_registry.cache_clear()
    yield seen
    sys.modules.pop("fork_plugins", None)
    get_registry.cache_clear()


def _jobs(models: list[str], seeds: list[int]) -> list[JobConfig]:
    return list(make_plan(get_registry(), models, ["lm-hmm"], ["cpu"], seeds, "smoke", OPTIONS).jobs)


def _run(schedule: _Schedule, jobs: list[JobConfig]) -> dict[int, JobResult]:
    return {e.job.seed: e.result for e in schedule.run(jobs) if isinstance(e, Finished)}


def _seen(folder: Path, seed: int) -> tuple[int, int, int]:
    state, pid, parent = (int(v) for v in (folder / f"seen-{seed}").read_text().split())
    return state, pid, parent


def test_crash_and_kill_end_one_forked_job_and_no_state_leaks(probe_dir: Path) -> None:
    schedule = _Schedule(1, None, lambda _: None, {}, fork=True)
    server_pid: list[int] = []
    results: dict[int, JobResult] = {}
    for event in schedule.run(_jobs(["fork-probe"], [1, 2, 0, 4])):  # one at a time: each forks after the last ended
        assert schedule.server is not None
        server_pid.append(schedule.server.process.pid)
        if isinstance(event, Finished):
            results[event.job.seed] = event.result
    assert results[1] == JobResult("crashed", "worker exited with code 3 without a result")
    assert results[2].status in ("killed", "oom"), results[2]  # oom only if the kernel OOM-killed anything meanwhile
    assert results[0].status == "ok" and results[4].status == "ok", results
    for seed in (1, 2, 0, 4):
        state, _, parent = _seen(probe_dir, seed)
        assert parent == server_pid[0] != os.getpid()  # forked by the server, not spawned by us
        assert state == 0, f"seed {seed} saw the state an earlier job left"
    assert len({_seen(probe_dir, s)[1] for s in (1, 2, 0, 4)}) == 4  # a process per job


def test_a_hung_forked_job_is_timed_out(probe_dir: Path) -> None:
    results = _run(_Schedule(1, 3.0, lambda _: None, {}, fork=True), _jobs(["fork-probe"], [3]))
    assert results[3] == JobResult("timeout", "job exceeded its time limit of 3 s")


def test_same_metrics_forked_and_spawned() -> None:
    jobs = _jobs(["lstm", "unigram"], [0])
    forked = {e.job.model: e.result for e in LocalExecutor(2).run(jobs, None, lambda _: None, {})
              if isinstance(e, Finished)}
    spawned = {e.job.model: e.result for e in LocalExecutor(2, fork=False).run(jobs, None, lambda _: None, {})
               if isinstance(e, Finished)}
    assert all(r.status == "ok" for r in [*forked.values(), *spawned.values()]), (forked, spawned)
    assert {m: r.metrics for m, r in forked.items()} == {m: r.metrics for m, r in spawned.items()}


def test_a_dead_server_falls_back_to_spawned_processes(probe_dir: Path) -> None:
    schedule = _Schedule(1, None, lambda _: None, {}, fork=True)
    results: dict[int, JobResult] = {}
    with pytest.warns(RuntimeWarning, match="job server died"):
        for event in schedule.run(_jobs(["fork-probe"], [0, 4])):
            if isinstance(event, Finished):
                results[event.job.seed] = event.result
                assert schedule.server is not None
                schedule.server.process.kill()  # after the first job: the second cannot be forked
                schedule.server.process.wait()
    assert results[0].status == "ok" and results[4].status == "ok", results
    assert _seen(probe_dir, 4)[2] == os.getpid()  # spawned by this process


class FakeServer:
    alive = True


def test_cuda_jobs_are_never_forked(monkeypatch: pytest.MonkeyPatch) -> None:
    spawned: list[object] = []
    monkeypatch.setattr(local, "JobProcess", lambda: spawned.append(1) or object())
    schedule = _Schedule(2, None, lambda _: None, {}, fork=True)
    schedule.server = FakeServer()  # type: ignore[assignment]
    budget = Budget(steps=1, batch_size=2)
    cpu, gpu = (JobConfig("lstm", "lm-hmm", d, 0, "smoke", budget, 1e-3) for d in ("cpu", "cuda"))
    assert schedule._forks(cpu) and not schedule._forks(gpu)
    schedule._top_up([cpu, cpu, cpu])
    assert not spawned  # the server forks CPU jobs: no spawned spares
    schedule._top_up([cpu, gpu])
    assert len(spawned) == 1  # one spare for the CUDA job
    FakeServer.alive = False  # the server is gone: every job spawns
    try:
        assert not schedule._forks(cpu)
    finally:
        FakeServer.alive = True
