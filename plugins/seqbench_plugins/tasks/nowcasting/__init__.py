"""Precipitation nowcasting as frames -> frames: given J observed frames, predict the next K.

Shi et al., "Convolutional LSTM network: a machine learning approach for precipitation
nowcasting", NIPS 2015; Shi et al., "Deep learning for precipitation nowcasting: a
benchmark and a new model", NIPS 2017. Tasks: ``moving-digits`` (Moving MNIST-style),
``moving-digits-pp`` (MovingMNIST++; ``moving-digits-pp-long``: the same, trained longer),
``radar-echoes`` (HKO-7-style, 5 in / 20 out, with CSI / HSS / B-MSE) and ``moving-mnist``
(the real ``mnist_test_seq.npy``). Frames are stored as uint8 and scored in [0, 1]; see
``nowcasting.metrics`` for the metric conventions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import CAUSAL_SEQ, FRAMES, FrameProblem, SeqProblem, Signature
from seqbench.specs import Budget, MetricSpec, Preset, TaskContext, TaskSpec
from seqbench.task import Batch, Metric, PairMetric, TensorTask
from seqbench_plugins.tasks.nowcasting import loader as nowcast_loader
from seqbench_plugins.tasks.nowcasting.data import (
    PP_SPEED,
    DigitsConfig,
    RadarConfig,
    cached,
    moving_digits,
    radar_echoes,
)
from seqbench_plugins.tasks.nowcasting.metrics import THRESHOLDS, FrameMetrics, threshold_name
from seqbench_plugins.tasks.nowcasting.views import FlattenedFrames, save_sequence_png


@dataclass(frozen=True)
class NowcastConfig:
    size: int  # frame side (pixels)
    in_frames: int
    out_frames: int
    train: int  # sequences per split
    val: int
    test: int


class NowcastTask(TensorTask):
    """Splits are ``(frames,)`` with frames (N, J + K, C, H, W) uint8."""

    def __init__(self, spec: TaskSpec, context: TaskContext, config: NowcastConfig,
                 splits: dict[str, torch.Tensor], radar: bool) -> None:
        super().__init__(spec, context)
        self.config, self.radar = config, radar
        total = config.in_frames + config.out_frames
        for name, frames in splits.items():
            if frames.dtype != torch.uint8 or frames.dim() != 5 or frames.shape[1] != total:
                raise ValueError(f"{spec.name} {name} split: expected uint8 (N, {total}, C, H, W), "
                                 f"got {frames.dtype} {tuple(frames.shape)}")
        self.splits = {name: (frames,) for name, frames in splits.items()}
        _, _, c, h, w = splits["test"].shape
        self.frame_problem = FrameProblem(c, h, w, config.in_frames, config.out_frames)

    def problem(self, signature: Signature) -> object:
        p = self.frame_problem
        if signature == CAUSAL_SEQ:
            return SeqProblem(p.channels * p.height * p.width + 1, p.in_frames + p.out_frames - 1)
        return p

    def adapter(self, backbone: nn.Module) -> nn.Module:
        return FlattenedFrames(backbone, self.frame_problem)

    def _split(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        frames = batch[0].float() / 255.0
        return frames[:, : self.config.in_frames], frames[:, self.config.in_frames :]

    def count(self, batch: Batch) -> tuple[int, int]:
        return len(batch[0]), len(batch[0]) * self.config.out_frames  # units: predicted frames

    def loss(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        inputs, targets = self._split(batch)
        return torch.mean((module(inputs) - targets) ** 2)

    def predict(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        return module(self._split(batch)[0])

    def metric(self, split: str) -> Metric:
        return PairMetric(FrameMetrics(self.radar), lambda output, batch: (output.cpu(), self._split(batch)[1].cpu()))

    @torch.no_grad()
    def save_artifacts(self, module: nn.Module, directory: Path, label: str) -> list[Path]:
        """PNG of input / ground truth / prediction for test sequence 0 (the same every run)."""
        device = next((t.device for t in module.parameters()), torch.device("cpu"))
        inputs, targets = self._split((self.splits["test"][0][:1].to(device),))
        was_training = module.training
        module.eval()
        prediction = module(inputs).clamp(0, 1).cpu()
        module.train(was_training)
        rows = [("input", inputs[0].cpu()), ("truth", targets[0].cpu()), ("prediction", prediction[0])]
        path = directory / f"{self.spec.name}-{label}.png"
        save_sequence_png(rows, path, f"{self.spec.name}: {label}", "viridis" if self.radar else "gray")
        return [path]


# ---- task definitions ------------------------------------------------------------------

SPLITS = ("train", "val", "test")
IMAGE_METRICS = (
    MetricSpec("mse", "min", "squared error summed over a frame's pixels, mean over frames", "per frame"),
    MetricSpec("mae", "min", "absolute error summed over a frame's pixels, mean over frames", "per frame"),
    MetricSpec("ssim", "max", "structural similarity per frame (torchmetrics)"),
    MetricSpec("mse_pixel", "min", "squared error per pixel", "per pixel"),
    MetricSpec("mae_pixel", "min", "absolute error per pixel", "per pixel"),
)
RADAR_METRICS = (
    MetricSpec("b_mse", "min", "HKO-7 balanced MSE (weights 1..30 by true rain rate)", "per frame"),
    MetricSpec("b_mae", "min", "HKO-7 balanced MAE", "per frame"),
    *(MetricSpec(f"csi_{threshold_name(r)}", "max", f"critical success index at {r:g} mm/h") for r in THRESHOLDS),
    *(MetricSpec(f"hss_{threshold_name(r)}", "max", f"Heidke skill score at {r:g} mm/h") for r in THRESHOLDS),
    *IMAGE_METRICS,
)
DIGIT_SIZES: dict[Preset, NowcastConfig] = {
    "smoke": NowcastConfig(16, 3, 3, 16, 8, 8),
    "quick": NowcastConfig(64, 10, 10, 1000, 100, 200),
    "paper": NowcastConfig(64, 10, 10, 10000, 2000, 3000),  # Shi 2015 Moving MNIST splits
}
RADAR_SIZES: dict[Preset, NowcastConfig] = {
    "smoke": NowcastConfig(16, 3, 3, 16, 8, 8),
    "quick": NowcastConfig(64, 5, 20, 800, 100, 200),
    "paper": NowcastConfig(128, 5, 20, 8000, 1000, 2000),  # HKO-7: 5 in, 20 out
}
MNIST_FILE_SIZES: dict[Preset, NowcastConfig] = {  # the file fixes 64x64 and 10 + 10 frames
    "smoke": NowcastConfig(64, 10, 10, 8, 4, 4),
    "quick": NowcastConfig(64, 10, 10, 1000, 100, 200),
    "paper": NowcastConfig(64, 10, 10, 8000, 1000, 1000),
}
# quick: about 2-4 minutes per recurrent convolutional model on one CPU thread (TrajGRU
# the slowest); enough for the orderings of Shi 2015 / 2017 to show, far from convergence.
# paper: Shi 2017 trains with Adam at 1e-4 (for a GPU); validation picks the checkpoint.
BUDGETS: dict[Preset, Budget] = {
    "smoke": Budget(steps=2, batch_size=4, lr=1e-3, eval_batch_size=16),
    "quick": Budget(steps=200, batch_size=8, lr=2e-3, eval_batch_size=50),
    "paper": Budget(steps=80000, batch_size=16, lr=1e-4, eval_batch_size=64, eval_every=5000),
}
# moving-digits-pp-long: the quick data and models trained 7.5x longer, the smallest setting
# in which TrajGRU vs ConvGRU on MovingMNIST++ (Shi 2017, Table 1) may resolve beyond the seed
# spread at CPU scale (docs/findings.md, section 4); smoke and paper as the other tasks.
LONG_BUDGETS: dict[Preset, Budget] = {
    **BUDGETS, "quick": Budget(steps=1500, batch_size=8, lr=2e-3, eval_batch_size=50, eval_every=500),
}
Generator = Callable[[NowcastConfig, int], torch.Tensor]  # (config with count, seed) -> uint8 frames


def _digits(num: int, plus: bool) -> Generator:
    def make(config: NowcastConfig, seed: int) -> torch.Tensor:
        digit = max(8, round(config.size * 28 / 64))  # Moving MNIST: 28-pixel digits on 64
        # Moving MNIST: 3 pixels per frame on 64; MovingMNIST++: up to 3.6 (the authors' generator).
        speed = config.size * PP_SPEED / 64 if plus else max(1.0, config.size * 3 / 64)
        cfg = DigitsConfig(config.size, digit, num, config.in_frames + config.out_frames, config.train, speed, plus)
        return cached("digits", cfg, seed, lambda: moving_digits(cfg, seed))
    return make


def _radar(config: NowcastConfig, seed: int) -> torch.Tensor:
    cfg = RadarConfig(config.size, config.in_frames + config.out_frames, config.train, max_cells=8,
                      speed=config.size * 1.5 / 64)
    return cached("radar", cfg, seed, lambda: radar_echoes(cfg, seed))


def _generated_spec(name: str, summary: str, paper: str, sizes: Mapping[Preset, NowcastConfig],
                    make: Generator, radar: bool, budgets: Mapping[Preset, Budget] = BUDGETS) -> TaskSpec:
    def build(context: TaskContext) -> NowcastTask:
        config = sizes[context.preset]
        splits = {s: make(replace(config, train=getattr(config, s)), 1000 * context.data_seed + i)
                  for i, s in enumerate(SPLITS)}
        return NowcastTask(spec, context, config, splits, radar)

    spec = TaskSpec(name, (FRAMES, CAUSAL_SEQ), build, summary, RADAR_METRICS if radar else IMAGE_METRICS,
                    "frames", dict(budgets), family="nowcasting", paper=paper)
    return spec


def _mnist_file_spec() -> TaskSpec:
    def build(context: TaskContext) -> NowcastTask:
        config = MNIST_FILE_SIZES[context.preset]
        array = nowcast_loader.load_moving_mnist(context.data.get("moving-mnist", ""))
        splits = nowcast_loader.split_sequences(array, config.train, config.val, config.test)
        return NowcastTask(spec, context, config, splits, radar=False)

    spec = TaskSpec("moving-mnist", (FRAMES, CAUSAL_SEQ), build, "Moving MNIST test file (mnist_test_seq.npy)",
                    IMAGE_METRICS, "frames", BUDGETS, family="nowcasting", paper="Srivastava et al., ICML 2015",
                    available=lambda data: nowcast_loader.unavailable_reason(data.get("moving-mnist")),
                    data_keys=("moving-mnist",))
    return spec


@hookimpl
def seqbench_register_tasks() -> list[TaskSpec]:
    return [
        _generated_spec("moving-digits", "two real handwritten digits bouncing in a canvas, 10 -> 10 frames",
                        "Srivastava et al., ICML 2015; Shi et al., NIPS 2015", DIGIT_SIZES, _digits(2, False), False),
        _generated_spec("moving-digits-pp", "three digits with rotation, scaling, illumination change (++)",
                        "Shi et al., NIPS 2017", DIGIT_SIZES, _digits(3, True), False),
        _generated_spec("moving-digits-pp-long", "moving-digits-pp trained 1500 steps at quick (TrajGRU vs ConvGRU)",
                        "Shi et al., NIPS 2017", DIGIT_SIZES, _digits(3, True), False, LONG_BUDGETS),
        _generated_spec("radar-echoes", "synthetic radar echoes (advect, rotate, grow, decay), 5 -> 20 frames",
                        "Shi et al., NIPS 2017 (HKO-7)", RADAR_SIZES, _radar, True),
        _mnist_file_spec(),
    ]
