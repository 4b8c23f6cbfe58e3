"""Tests of the nowcasting family: generators, metrics, the Moving MNIST loader, models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from seqbench_plugins.models.convrnn import (
    CellFactory,
    ConvRNNConfig,
    EncoderForecaster,
    build_convgru,
    build_convlstm,
    convgru_cell,
    convlstm_cell,
)
from seqbench_plugins.models.frame_layout import Resample, level_sides
from seqbench_plugins.models.nowcast_baselines import build_flow, build_last_frame
from seqbench_plugins.models.predrnn import build_predrnn
from seqbench_plugins.models.trajgru import TrajectoryH2H, build_trajgru, trajgru_encoder_forecaster, warp
from seqbench_plugins.tasks.nowcasting import loader as nowcast_loader
from seqbench_plugins.tasks.nowcasting.data import (
    DigitsConfig,
    RadarConfig,
    moving_digits,
    pixel_to_rainrate,
    radar_echoes,
    rainrate_to_pixel,
)
from seqbench_plugins.tasks.nowcasting.metrics import FrameMetrics, balance_weights

from seqbench.manager import get_registry
from seqbench.signatures import FRAMES, FrameProblem
from seqbench.specs import JobConfig, Preset, TaskContext
from seqbench.train import run_job

PROBLEM = FrameProblem(channels=1, height=16, width=16, in_frames=3, out_frames=4)


# ---- data ----------------------------------------------------------------------------

@pytest.mark.parametrize("plus", [False, True])
def test_moving_digits_deterministic_and_in_range(plus: bool) -> None:
    config = DigitsConfig(size=32, digit_size=14, num_digits=3 if plus else 2, frames=6, count=4, max_speed=2.0,
                          plus_plus=plus)
    a, b = moving_digits(config, seed=1), moving_digits(config, seed=1)
    assert a.shape == (4, 6, 1, 32, 32) and a.dtype == torch.uint8
    assert torch.equal(a, b)
    assert not torch.equal(a, moving_digits(config, seed=2))
    assert a.float().amax() > 100  # digits are visible
    assert (a[:, 1:].float() - a[:, :-1].float()).abs().sum() > 0  # and they move


def test_radar_echoes_reach_the_thresholds() -> None:
    frames = radar_echoes(RadarConfig(size=32, frames=8, count=16, max_cells=8, speed=1.0), seed=0)
    assert frames.shape == (16, 8, 1, 32, 32) and frames.dtype == torch.uint8
    rate = pixel_to_rainrate(frames.float() / 255)
    assert (rate >= 0.5).float().mean() > 0.02
    assert (rate >= 10).any()


def test_zr_relation_round_trip() -> None:
    for rate in (0.5, 2.0, 30.0):
        assert pixel_to_rainrate(torch.tensor(rainrate_to_pixel(rate))).item() == pytest.approx(rate, rel=1e-4)


# ---- metrics -------------------------------------------------------------------------

def test_metric_conventions() -> None:
    truth = torch.rand(3, 4, 1, 16, 16)
    metrics = FrameMetrics(radar=True)
    metrics.update(truth.clone(), truth)
    perfect = metrics.compute()
    assert perfect["mse"] == 0 and perfect["ssim"] == pytest.approx(1.0, abs=1e-5)
    assert all(perfect[f"csi_{r}"] == 1.0 for r in ("0.5", "2", "5", "10", "30"))
    metrics = FrameMetrics(radar=False)
    metrics.update((truth + 0.1).clamp(max=1.0), truth.clamp(max=0.9))
    shifted = metrics.compute()
    assert shifted["mse"] == pytest.approx(0.01 * 16 * 16, rel=1e-4)  # summed over the pixels of a frame
    assert shifted["mse_pixel"] == pytest.approx(0.01, rel=1e-4)
    assert shifted["mae"] == pytest.approx(0.1 * 256, rel=1e-4)


def test_metrics_do_not_depend_on_batching() -> None:
    truth, pred = torch.rand(6, 2, 1, 16, 16), torch.rand(6, 2, 1, 16, 16)
    whole, parts = FrameMetrics(radar=True), FrameMetrics(radar=True)
    whole.update(pred, truth)
    for i in range(0, 6, 4):
        parts.update(pred[i : i + 4], truth[i : i + 4])
    a, b = whole.compute(), parts.compute()
    assert a.keys() == b.keys() and all(a[k] == pytest.approx(b[k], rel=1e-6) for k in a)


def test_csi_hss_and_balance_weights_by_hand() -> None:
    low, high = 0.0, rainrate_to_pixel(6.0)
    truth = torch.tensor([high, high, low, low]).view(1, 1, 1, 2, 2)
    pred = torch.tensor([high, low, high, low]).view(1, 1, 1, 2, 2)
    metrics = FrameMetrics(radar=True)
    metrics.update(pred.expand(1, 1, 1, 2, 2), truth)
    out = metrics.compute()
    assert out["csi_5"] == pytest.approx(1 / 3)  # 1 hit, 1 miss, 1 false alarm
    assert out["hss_5"] == pytest.approx(0.0)  # no better than chance
    weights = balance_weights(torch.tensor([0.1, 2.0, 7.0, 12.0, 40.0]))
    assert weights.tolist() == [1.0, 2.0, 5.0, 10.0, 30.0]


# ---- Moving MNIST file ---------------------------------------------------------------

def _write(directory: Path, array: np.ndarray) -> None:
    np.save(directory / nowcast_loader.FILE_NAME, array)


def test_moving_mnist_loader_reads_the_standard_layout(tmp_path: Path) -> None:
    array = np.random.default_rng(0).integers(0, 256, size=(20, 10, 64, 64), dtype=np.uint8)
    _write(tmp_path, array)
    assert nowcast_loader.unavailable_reason(str(tmp_path)) is None
    splits = nowcast_loader.split_sequences(nowcast_loader.load_moving_mnist(tmp_path), 8, 1, 1)
    assert splits["train"].shape == (8, 20, 1, 64, 64)
    assert torch.equal(splits["test"][0, :, 0], torch.from_numpy(array[:, 9]))  # time first -> sequence first
    spec = get_registry().task("moving-mnist")
    task = spec.build(TaskContext("smoke", {"moving-mnist": str(tmp_path)}))
    assert task.problem(FRAMES) == FrameProblem(1, 64, 64, 10, 10)
    model = get_registry().model("last-frame")
    config = JobConfig("last-frame", "moving-mnist", "cpu", 0, "smoke", spec.budgets["smoke"], 1e-3,
                       data=(("moving-mnist", str(tmp_path)),))
    result = run_job(replace(config, options=replace(config.options, measure=False)), model, spec)
    assert result.status == "ok", result.message


def test_moving_mnist_missing_is_unavailable_with_reason(tmp_path: Path) -> None:
    assert "--data moving-mnist" in (nowcast_loader.unavailable_reason(None) or "")
    assert "not found" in (nowcast_loader.unavailable_reason(str(tmp_path)) or "")
    assert get_registry().task("moving-mnist").available({}) is not None


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((20, 4, 64, 64), dtype=np.float32), "got dtype float32"),
        (np.zeros((20, 4, 64), dtype=np.uint8), "got rank 3"),
        (np.zeros((4, 20, 64, 64), dtype=np.uint8), "got shape (4, 20, 64, 64)"),
        (np.zeros((20, 4, 32, 32), dtype=np.uint8), "got shape (20, 4, 32, 32)"),
    ],
)
def test_moving_mnist_rejects_wrong_arrays(tmp_path: Path, array: np.ndarray, message: str) -> None:
    _write(tmp_path, array)
    with pytest.raises(ValueError, match=r"expected uint8 array of shape \(20, N, 64, 64\)") as info:
        nowcast_loader.load_moving_mnist(tmp_path)
    assert message in str(info.value) and nowcast_loader.FILE_NAME in str(info.value)


def test_moving_mnist_rejects_corrupt_and_pickled_files(tmp_path: Path) -> None:
    path = tmp_path / nowcast_loader.FILE_NAME
    path.write_bytes(b"this is not a numpy file")
    with pytest.raises(ValueError, match=r"not a readable \.npy array"):
        nowcast_loader.load_moving_mnist(tmp_path)
    np.save(path, np.zeros((20, 4, 64, 64), dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-1000])  # truncated
    with pytest.raises(ValueError, match=r"not a readable \.npy array"):
        nowcast_loader.load_moving_mnist(tmp_path)
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"not a readable \.npy array"):
        nowcast_loader.load_moving_mnist(tmp_path)


# ---- models --------------------------------------------------------------------------

@pytest.mark.parametrize("build", [build_convgru, build_convlstm, build_trajgru, build_predrnn, build_flow,
                                   build_last_frame])
def test_models_map_frames_to_frames(build: Callable[[FrameProblem, Preset], torch.nn.Module]) -> None:
    module = build(PROBLEM, "smoke")
    out = module(torch.rand(2, 3, 1, 16, 16))
    assert out.shape == (2, 4, 1, 16, 16) and torch.isfinite(out).all()


@pytest.mark.parametrize("build", [build_convgru, build_predrnn])
def test_wrong_frame_shape_is_a_clear_error(build: Callable[[FrameProblem, Preset], torch.nn.Module]) -> None:
    with pytest.raises(ValueError, match=r"expected frames \(B, 3, 1, 16, 16\), got \(2, 3, 1, 8, 8\)"):
        build(PROBLEM, "smoke")(torch.rand(2, 3, 1, 8, 8))


@pytest.mark.parametrize("preset", ["smoke", "quick", "paper"])
def test_trajgru_has_no_more_parameters_than_convgru(preset: Preset) -> None:
    problem = FrameProblem(1, 64, 64, 10, 10)

    def count(m: torch.nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    assert count(build_trajgru(problem, preset)) <= count(build_convgru(problem, preset))


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


# Counts at 64x64, 10 -> 10, taken before per-level links and the strided layout existed
# (paper is the strided layout now: tests/test_moving_digits_pp.py).
@pytest.mark.parametrize(
    ("build", "counts"),
    [(build_convgru, (35_456, 485_360)), (build_convlstm, (59_640, 883_088)), (build_trajgru, (29_764, 408_516))],
)
def test_default_layout_parameter_counts_unchanged(build: Callable[[FrameProblem, Preset], torch.nn.Module],
                                                   counts: tuple[int, int]) -> None:
    problem = FrameProblem(1, 64, 64, 10, 10)
    assert tuple(_count(build(problem, preset)) for preset in ("smoke", "quick")) == counts


def test_per_level_links_are_honoured() -> None:
    config = ConvRNNConfig(hidden=(4, 4, 4), base=8, kernel=3, stem=4, links=(3, 5, 2), forecaster_links=(2, 5, 7),
                           flow_hidden=4)
    model = trajgru_encoder_forecaster(PROBLEM, config)

    def flow_channels(cells: torch.nn.Module) -> list[int]:  # 2 L per level, finest first
        return [m.flows.out_channels for m in cells.modules() if isinstance(m, TrajectoryH2H)]

    assert flow_channels(model.encoder) == [6, 10, 4] and flow_channels(model.forecaster) == [4, 10, 14]
    model = trajgru_encoder_forecaster(PROBLEM, replace(config, links=6, forecaster_links=None))
    assert flow_channels(model.encoder) == flow_channels(model.forecaster) == [12] * 3


@pytest.mark.parametrize("field", ["links", "forecaster_links", "strided"])
def test_per_level_fields_need_one_entry_per_level(field: str) -> None:
    value = (Resample(4, 3, 1, 1), Resample(4, 3, 2, 1, 4)) if field == "strided" else (13, 9)
    with pytest.raises(ValueError, match=rf"ConvRNNConfig\.{field} must have one entry per level \(3 for "):
        ConvRNNConfig(hidden=(4, 4, 4), base=8, kernel=3, stem=4, **{field: value})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"links must be >= 1"):
        ConvRNNConfig(hidden=(4, 4), base=8, kernel=3, stem=4, links=(3, 0))


# HKO-7's resampling (Shi 2017): 7x7/5 stem, 5x5/3 and 3x3/2 convs, deconvs 7/5, 5/3, 4/2.
HKO7 = (Resample(4, 7, 5, 1), Resample(6, 5, 3, 1), Resample(6, 3, 2, 1, up_kernel=4))


def test_strided_sides_follow_the_conv_arithmetic() -> None:
    assert level_sides(FrameProblem(1, 480, 480, 5, 20), 1, HKO7) == [(96, 96), (32, 32), (16, 16)]
    assert level_sides(FrameProblem(1, 240, 240, 5, 20), 1, HKO7) == [(48, 48), (16, 16), (8, 8)]
    with pytest.raises(ValueError, match=r"frames 32x32 do not fit.*level 1 32x32 -> 7x7 conv, stride 5.*-> 6x6, "
                                         r"which the transposed conv maps back to 30x30"):
        level_sides(FrameProblem(1, 32, 32, 5, 20), 1, HKO7)
    with pytest.raises(ValueError, match=r"frames 20x20 do not fit.*level 3 5x5"):  # odd side in the default layout
        build_convgru(FrameProblem(1, 20, 20, 3, 4), "quick")


@pytest.mark.parametrize("kind", ["convgru", "convlstm", "trajgru"])
def test_strided_layout_maps_frames_to_frames(kind: str) -> None:
    problem = FrameProblem(channels=2, height=30, width=60, in_frames=3, out_frames=2)
    config = ConvRNNConfig(hidden=(4, 6, 6), base=0, kernel=3, stem=0, links=(3, 3, 2), flow_hidden=4, strided=HKO7)
    cells: dict[str, CellFactory] = {"convgru": convgru_cell(3), "convlstm": convlstm_cell(3)}
    model = trajgru_encoder_forecaster(problem, config) if kind == "trajgru" else \
        EncoderForecaster(problem, config, cells[kind])
    assert model.sides == [(6, 12), (2, 4), (1, 2)]
    out = model(torch.rand(2, 3, 2, 30, 60))
    assert out.shape == (2, 2, 2, 30, 60) and torch.isfinite(out).all()
    out.square().mean().backward()
    grad = next(model.stem.parameters()).grad  # the strided stem conv is trained through both halves
    assert grad is not None and grad.abs().sum() > 0


def test_warp_zero_flow_is_identity_and_integer_flow_shifts() -> None:
    state = torch.rand(2, 3, 8, 8)
    assert torch.allclose(warp(state, torch.zeros(2, 2, 8, 8)), state, atol=1e-6)
    flow = torch.zeros(2, 2, 8, 8)
    flow[:, 0] = 1.0  # read one pixel to the right
    assert torch.allclose(warp(state, flow)[..., :-1], state[..., 1:], atol=1e-6)


def test_flow_extrapolation_follows_a_translating_blob() -> None:
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")

    def frame(cx: float) -> torch.Tensor:
        return torch.exp(-((xx - cx) ** 2 + (yy - 16) ** 2) / 8.0)

    frames = torch.stack([frame(6 + 2 * t) for t in range(4)]).view(1, 4, 1, 32, 32)
    problem = FrameProblem(1, 32, 32, 4, 3)
    out = build_flow(problem, "quick")(frames)
    truth = torch.stack([frame(6 + 2 * t) for t in range(4, 7)]).view(1, 3, 1, 32, 32)
    persistence = build_last_frame(problem, "quick")(frames)
    assert ((out - truth) ** 2).sum() < 0.1 * ((persistence - truth) ** 2).sum()


def test_flattened_adapter_and_artifacts(tmp_path: Path) -> None:
    registry = get_registry()
    task = registry.task("moving-digits").build(TaskContext("smoke"))
    module = task.build_module(registry.model("lstm"))
    inputs = torch.rand(2, 3, 1, 16, 16)
    assert module(inputs).shape == (2, 3, 1, 16, 16)
    paths = task.save_artifacts(module, tmp_path, "lstm-cpu-s0")
    assert [p.name for p in paths] == ["moving-digits-lstm-cpu-s0.png"]
    assert paths[0].read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["moving-digits-lstm-cpu-s0.png"]  # no temp file left
