"""The plugin author's kit catches broken plugins with a clear message (tests/fixtures/broken_kit.py):
a future-peeking backbone, a wrong output width, wrong metric names, a bad goal, a misspelled or
unmarked hook and an incompatible plugin API; `seqbench validate` gives the verdict and exit status."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch import nn

from seqbench import PLUGIN_API
from seqbench.checks import CheckFailed, check_backbone, check_masking, check_metrics, check_output_shape
from seqbench.cli import main
from seqbench.manager import PluginRecord, Registry, load_registry
from seqbench.plugin_api import api_problem
from seqbench.signatures import PersonsProblem
from seqbench.task_checks import check_task
from seqbench.testing import assert_pair_runs

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def kit(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(FIXTURES))
    yield importlib.import_module("broken_kit")
    sys.modules.pop("broken_kit", None)


def _registry(kit: ModuleType, *names: str) -> Registry:
    extra = [(getattr(kit, n), PluginRecord(f"kit-{n}", "module", entry_point=f"broken_kit:{n}")) for n in names]
    return load_registry(include_entry_points=False, extra=extra)


def _record(registry: Registry, name: str) -> PluginRecord:
    return next(p for p in registry.plugins if p.name == name)


def test_future_peeking_backbone_is_caught(kit: ModuleType) -> None:
    registry = _registry(kit, "models")
    with pytest.raises(CheckFailed, match=r"peeking is not causal: its output at t=0 changed .* \(it sees the future"):
        check_backbone(registry.model("peeking"))


def test_wrong_output_width_is_caught(kit: ModuleType) -> None:
    registry = _registry(kit, "models")
    with pytest.raises(CheckFailed, match=r"too-wide: output .* must be \(B, T, output_size\) = \(3, 12, 8\), "
                                          r"got \(3, 12, 16\)"):
        check_backbone(registry.model("too-wide"))
    with pytest.raises(CheckFailed, match="int attribute output_size"):
        check_output_shape(nn.Linear(5, 3), 5, "no-width")


def test_undeclared_and_missing_metric_names_are_caught(kit: ModuleType) -> None:
    registry = _registry(kit, "tasks")
    with pytest.raises(CheckFailed, match=r"'sign-undeclared': evaluate returned metrics \['acc', 'error'\]; "
                                          r"missing declared \['accuracy'\] and undeclared \['acc'\]"):
        check_task(registry.task("sign-undeclared"))
    with pytest.raises(CheckFailed, match=r"missing declared \['error'\] \(declared: \['accuracy', 'error'\]\)"):
        check_task(registry.task("sign-missing"))
    check_task(registry.task("sign-fine"))  # the same task reporting the declared names passes
    with pytest.raises(CheckFailed, match="non-finite"):
        check_metrics(registry.task("sign-fine"), {"accuracy": float("nan"), "error": 0.5})


def test_a_job_with_wrong_metric_names_fails_the_pair_check(kit: ModuleType) -> None:
    registry = _registry(kit, "tasks")
    with pytest.raises(CheckFailed, match="did not report metrics"):  # the job itself ends with an error
        assert_pair_runs("gru", "sign-missing", registry=registry)
    assert_pair_runs("gru", "sign-fine", registry=registry)


def test_bad_goal_is_a_clear_error_at_registration(kit: ModuleType) -> None:
    registry = _registry(kit, "bad_goal")
    assert "sign-lower" not in registry.tasks
    error = _record(registry, "kit-bad_goal").errors[0]
    assert "metric 'accuracy' has goal 'lower'; expected \"min\" (lower is better) or \"max\"" in error


def test_misspelled_and_unmarked_hooks_are_explained(kit: ModuleType) -> None:
    registry = _registry(kit, "misspelled", "unmarked", "empty")
    assert _record(registry, "kit-empty").warnings == [
        "registers nothing: seqbench_register_tasks returned no spec"]
    misspelled = _record(registry, "kit-misspelled")
    assert misspelled.errors == [
        "unknown hook 'seqbench_register_model': did you mean 'seqbench_register_models'?"]
    unmarked = _record(registry, "kit-unmarked")
    assert not unmarked.errors and "registers nothing" in unmarked.warnings[0]
    assert "seqbench_register_models is not marked @seqbench.hookimpl" in unmarked.warnings[0]
    assert "never-seen" not in registry.models and "never-seen-either" not in registry.models


def test_plugin_api_version_is_checked(kit: ModuleType) -> None:
    assert PLUGIN_API[0] == 1
    registry = _registry(kit, "future_api", "newer_minor_api", "current_api")
    assert "incompatible plugin API: the plugin declares SEQBENCH_API = '2' (major 2), this seqbench provides 1." \
        in _record(registry, "kit-future_api").errors[0]
    assert "needs plugin API 1.9" in _record(registry, "kit-newer_minor_api").errors[0]
    assert "api-ok" in registry.models and not _record(registry, "kit-current_api").errors
    assert "is not a version" in str(api_problem(type("P", (), {"SEQBENCH_API": "one"})))


def test_specs_record_the_plugin_that_registered_them(kit: ModuleType) -> None:
    registry = _registry(kit, "models")
    assert registry.plugin_name("model", "peeking") == "kit-models"
    assert registry.plugin_name("model", "lstm") == "seqbench_plugins.models.rnn"
    impls = registry.pm.hook.seqbench_register_models.get_hookimpls()
    assert {"kit-models", "seqbench_plugins.models.rnn"} <= {i.plugin_name for i in impls}


def test_masking_check_catches_a_model_that_reads_absent_persons() -> None:
    problem = PersonsProblem(feature_size=3, max_persons=4, steps=5, person_classes=2, scene_classes=3)

    class Pooled(nn.Module):
        def __init__(self, masked: bool) -> None:
            super().__init__()
            self.person, self.scene, self.masked = nn.Linear(3, 2), nn.Linear(3, 3), masked

        def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h = x.mean(1)  # (B, P, D)
            weights = mask.float().unsqueeze(-1) if self.masked else torch.ones_like(h[..., :1])
            pooled = (h * weights).sum(1) / weights.sum(1)
            return self.person(h), self.scene(pooled)

    check_masking(Pooled(masked=True), problem, "masked-pool")
    with pytest.raises(CheckFailed, match=r"unmasked-pool: the scene logits changed .* only masked-out persons"):
        check_masking(Pooled(masked=False), problem, "unmasked-pool")


def test_validate_verdicts_and_exit_status(kit: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "broken_kit:models", "--no-jobs"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  model peeking: peeking is not causal" in out and "FAIL  model too-wide" in out
    assert "verdict: FAIL (2 of 3 checks failed)" in out
    assert main(["validate", "broken_kit:tasks", "--no-jobs"]) == 1
    out = capsys.readouterr().out
    assert "ok    task sign-fine" in out and "undeclared ['acc']" in out
    assert main(["validate", "broken_kit:bad_goal", "--no-jobs"]) == 1
    assert "goal 'lower'" in capsys.readouterr().out
    assert main(["validate", "broken_kit:current_api"]) == 1  # too-wide again, now under another name
    assert main(["validate", "no_such_plugin_anywhere"]) == 2
    assert "neither an installed distribution nor an importable module" in capsys.readouterr().err


def test_list_and_run_name_broken_plugins_and_list_honours_filters(
        faulty_site: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "models", "--models", "l*"]) == 0
    listed = capsys.readouterr()
    names = [line.split()[0] for line in listed.out.splitlines()[2:]]
    assert names and all(n.startswith("l") for n in names) and "gru" not in names
    assert "seqbench: error: plugin faulty-raises: seqbench_register_models raised RuntimeError" in listed.err
    assert "plugin faulty-missing: failed to import no_such_module_anywhere" in listed.err
    assert main(["list", "tasks", "--tasks", "lm-hmm"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()[2:]] == ["lm-hmm"]
    assert main(["run", "--models", "faulty-z*", "--preset", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "plugin faulty-raises" in err and "matches nothing" in err
    assert "plugins that failed to load: faulty-raises" in err
