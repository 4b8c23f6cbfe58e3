"""MovingMNIST++ as Shi et al. 2017 generate it, the paper's MovingMNIST++ networks, and the
longer-trained task used to compare TrajGRU with ConvGRU (docs/findings.md, section 4)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from seqbench_plugins.models.convrnn import EncoderForecaster, build_convgru
from seqbench_plugins.models.trajgru import build_trajgru
from seqbench_plugins.tasks.nowcasting import data
from seqbench_plugins.tasks.nowcasting.data import DigitsConfig, digit_motion, moving_digits, plus_plus_exponent

from seqbench.manager import get_registry
from seqbench.signatures import FrameProblem
from seqbench.specs import JobConfig, Preset, TaskContext
from seqbench.train import run_job

PP = DigitsConfig(size=64, digit_size=28, num_digits=3, frames=20, count=200, max_speed=3.6, plus_plus=True)


def test_scale_and_light_reverse_every_five_frames() -> None:
    # The authors' iterator: frames 1-4 one way, 5-9 the other, 10-14 back, ...
    assert plus_plus_exponent(20).tolist() == [0, -1, -2, -3, -4, -3, -2, -1, 0, 1, 0, -1, -2, -3, -4, -3, -2, -1, 0, 1]


def test_drawn_motion_covers_the_papers_ranges() -> None:
    m = digit_motion(PP, seed=0)
    assert m.which.shape == (200 * 3,) and m.angle.shape == m.scale.shape == m.light.shape == (200, 3, 20)
    omega = torch.rad2deg(m.angle[..., 1] - m.angle[..., 0])
    assert torch.allclose(m.angle, torch.deg2rad(omega).unsqueeze(-1) * torch.arange(20.0), atol=1e-4)
    assert omega.abs().max() <= 30 and omega.abs().max() > 28 and omega.min() < 0 < omega.max()  # +-30 deg/frame
    factor = m.scale[..., 1] / m.scale[..., 0]  # frame 1 divides by the per-digit factor
    assert factor.min() >= 1 / 1.1 - 1e-5 and factor.max() <= 1.1 + 1e-5
    assert factor.min() < 0.92 and factor.max() > 1.08
    ratio = m.scale[..., 1:] / m.scale[..., :-1]
    assert torch.allclose(ratio.log().abs(), factor.log().abs().unsqueeze(-1).expand_as(ratio), atol=1e-4)
    light = m.light[..., 1]  # frame 1 multiplies the brightness by the per-sequence factor
    assert torch.equal(m.light[:, :1].expand_as(m.light), m.light)  # one illumination per sequence
    assert light.min() >= 0.6 - 1e-6 and light.max() <= 1.0 and light.max() - light.min() > 0.3
    assert torch.equal(m.angle[..., 0], torch.zeros(200, 3)) and torch.equal(m.scale[..., 0], torch.ones(200, 3))
    speed = (m.centre[:, :, 1] - m.centre[:, :, 0]).norm(dim=-1)
    assert speed.max() <= 3.6 + 1e-4 and speed.min() < 0.3 and speed.max() > 3.3  # uniform in [0, 3.6]
    assert m.centre.min() >= 10 - 1e-4 and m.centre.max() <= 54 + 1e-4  # centres bounce 10 px from the border


def _moments(image: torch.Tensor) -> tuple[float, float, float]:
    """Mass, orientation of the principal axis (radians) and spread of one digit's image."""
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    mass = image.sum()
    mx, my = (image * xs).sum() / mass, (image * ys).sum() / mass
    cxx = (image * (xs - mx) ** 2).sum() / mass
    cyy = (image * (ys - my) ** 2).sum() / mass
    cxy = (image * (xs - mx) * (ys - my)).sum() / mass
    return float(mass), 0.5 * math.atan2(float(2 * cxy), float(cxx - cyy)), float(cxx + cyy)


def test_rendered_frames_rotate_scale_and_dim_as_drawn() -> None:
    # One digit, standing still, small enough never to touch the border.
    config = replace(PP, digit_size=14, num_digits=1, frames=2, count=40, max_speed=0.0)
    frames, m = moving_digits(config, seed=3).float() / 255, digit_motion(config, seed=3)
    checked = 0
    for i in range(config.count):
        (mass0, theta0, spread0), (mass1, theta1, spread1) = _moments(frames[i, 0, 0]), _moments(frames[i, 1, 0])
        scale, light, omega = m.scale[i, 0, 1].item(), m.light[i, 0, 1].item(), m.angle[i, 0, 1].item()
        assert spread1 / spread0 == pytest.approx(scale**2, rel=0.08)  # second moments grow with scale^2
        assert mass1 / mass0 == pytest.approx(scale**2 * light, rel=0.08)  # area x brightness
        turned = (theta1 - theta0 + math.pi / 2) % math.pi - math.pi / 2
        if abs(omega) > math.radians(5):  # the principal axis turns by the drawn angle (either sign convention)
            assert min(abs(turned - omega), abs(turned + omega)) < math.radians(6)
            checked += 1
    assert checked > 20


def test_generator_is_deterministic_and_has_its_own_cache_version() -> None:
    small = replace(PP, count=4, frames=6)
    assert torch.equal(moving_digits(small, seed=1), moving_digits(small, seed=1))
    assert not torch.equal(moving_digits(small, seed=1), moving_digits(small, seed=2))
    assert data.PLUS_PLUS_VERSION == 3 and data.PLUS_PLUS_VERSION > data.GENERATOR_VERSION


def test_plus_plus_cache_key_changes_with_its_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQBENCH_CACHE", str(tmp_path))
    config = replace(PP, count=50, frames=2, size=16, digit_size=8)
    data.cached("digits", config, 0, lambda: moving_digits(config, 0))
    first = {p.name for p in tmp_path.iterdir()}
    monkeypatch.setattr(data, "PLUS_PLUS_VERSION", data.PLUS_PLUS_VERSION + 1)
    data.cached("digits", config, 0, lambda: moving_digits(config, 0))
    assert len(first) == 1 and len({p.name for p in tmp_path.iterdir()} - first) == 1


# Shi 2017, Table 1 (MovingMNIST++): TrajGRU-L13 4.00 M, ConvGRU-K5-D1 4.77 M parameters.
@pytest.mark.parametrize(("build", "count", "millions"), [(build_trajgru, 4_000_173, 4.00),
                                                          (build_convgru, 4_767_281, 4.77)])
def test_paper_networks_have_the_papers_parameter_counts(build: Callable[[FrameProblem, Preset], torch.nn.Module],
                                                        count: int, millions: float) -> None:
    model = build(FrameProblem(1, 64, 64, 10, 10), "paper")
    assert isinstance(model, EncoderForecaster)
    assert sum(p.numel() for p in model.parameters()) == count and round(count / 1e6, 2) == millions
    assert model.sides == [(64, 64), (32, 32), (16, 16)]
    # The forecaster's deconvs keep the channels of the level they leave (96), as the authors' code.
    assert [up[0].out_channels for up in model.up] == [96, 96]
    assert [cell.i2h.in_channels for cell in model.forecaster[:2]] == [96, 96]


def test_long_task_trains_longer_on_the_same_data() -> None:
    registry = get_registry()
    long, short = registry.task("moving-digits-pp-long"), registry.task("moving-digits-pp")
    assert long.budgets["quick"].steps == 1500 and long.budgets["quick"].batch_size == 8
    assert long.budgets["smoke"] == short.budgets["smoke"] and long.budgets["paper"] == short.budgets["paper"]
    a, b = long.build(TaskContext("smoke")), short.build(TaskContext("smoke"))
    assert all(torch.equal(a.splits[s][0], b.splits[s][0]) for s in ("train", "val", "test"))
    config = JobConfig("trajgru", "moving-digits-pp-long", "cpu", 0, "smoke", long.budgets["smoke"], 1e-3)
    result = run_job(replace(config, options=replace(config.options, measure=False)), registry.model("trajgru"), long)
    assert result.status == "ok", result.message
