"""Frame-sequence generators for precipitation nowcasting (no network access, deterministic).

* Moving digits: Srivastava et al., "Unsupervised learning of video representations using
  LSTMs", ICML 2015 (Moving MNIST) -- digits bounce inside the canvas at constant velocity.
  The digits are scikit-learn's real handwritten 8x8 digits (UCI optdigits), upscaled.
* Moving digits++: Shi et al., "Deep learning for precipitation nowcasting: a benchmark and
  a new model", NIPS 2017 (MovingMNIST++) -- three digits that also rotate, change scale
  and change illumination over time.
* Radar echoes: reflectivity (dBZ) fields of anisotropic rain cells advected by a uniform
  flow whose direction turns slowly, each cell rotating, growing and decaying; stored as
  HKO-7 pixel values and converted to rain rate with HKO-7's Z-R relation.

Every generator returns uint8 frames (N, T, 1, H, W): 1/4 of the float32 memory, and the
exact values every model sees. Results are cached under ``~/.cache/seqbench`` by config.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# HKO-7 (Shi et al. 2017): dBZ = 10 log10(a) + 10 b log10(R), a = 58.53, b = 1.56, and
# pixel = (dBZ + 10) / 70 so that pixel values in [0, 1] cover -10 .. 60 dBZ.
ZR_A, ZR_B = 58.53, 1.56
GENERATOR_VERSION = 2  # part of the cache key: bump whenever a generator's output changes
# MovingMNIST++ has its own key so that fixing it leaves the other caches valid.
# 3: the authors' dynamics (rotation up to 30 degrees per frame, oscillating scale and light).
PLUS_PLUS_VERSION = 3


def pixel_to_rainrate(pixel: torch.Tensor) -> torch.Tensor:
    """HKO-7 pixel value in [0, 1] -> rain rate in mm/h."""
    dbz = pixel * 70.0 - 10.0
    return torch.pow(10.0, (dbz - 10.0 * math.log10(ZR_A)) / (10.0 * ZR_B))


def rainrate_to_pixel(rate: float) -> float:
    """Rain rate in mm/h -> HKO-7 pixel value (used for thresholds)."""
    dbz = 10.0 * math.log10(ZR_A) + 10.0 * ZR_B * math.log10(rate)
    return (dbz + 10.0) / 70.0


@dataclass(frozen=True)
class DigitsConfig:
    size: int  # canvas side (pixels)
    digit_size: int  # side of an upscaled digit before scaling
    num_digits: int
    frames: int  # in + out
    count: int  # sequences
    max_speed: float  # pixels per frame
    plus_plus: bool = False  # rotation, scaling and illumination change (Shi 2017)


@dataclass(frozen=True)
class RadarConfig:
    size: int
    frames: int
    count: int
    max_cells: int
    speed: float  # pixels per frame of the steering flow


@lru_cache(maxsize=1)
def _digit_bank() -> torch.Tensor:
    """The 1797 real handwritten digits of scikit-learn (8x8, 0..16) as (N, 1, 8, 8) in [0, 1]."""
    from sklearn.datasets import load_digits

    images = load_digits().images.astype(np.float32) / 16.0
    return torch.from_numpy(images).unsqueeze(1)


def _rng(seed: int, name: str) -> torch.Generator:
    digest = hashlib.sha256(f"{name}:{seed}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & (2**63 - 1))


def _bounce(start: torch.Tensor, velocity: torch.Tensor, frames: int,
            low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Positions (N, D, T, 2) of points moving at constant speed, reflected at [low, high]."""
    t = torch.arange(frames, dtype=torch.float32).view(1, 1, frames, 1)
    span = (high - low).clamp_min(1e-6).unsqueeze(2)
    raw = (start - low).unsqueeze(2) + velocity.unsqueeze(2) * t
    folded = torch.remainder(raw, 2 * span)  # reflection = triangle wave of period 2 * span
    return low.unsqueeze(2) + torch.where(folded > span, 2 * span - folded, folded)


@dataclass(frozen=True)
class DigitMotion:
    """What ``moving_digits`` draws: bank index (N*D,), angle in radians, scale and brightness
    (N, D, T) and centre in pixels (N, D, T, 2), x then y."""

    which: torch.Tensor
    angle: torch.Tensor
    scale: torch.Tensor
    light: torch.Tensor
    centre: torch.Tensor


def digit_motion(config: DigitsConfig, seed: int) -> DigitMotion:
    """The random draws behind ``moving_digits(config, seed)`` (exposed so tests can check them)."""
    g = _rng(seed, f"digits:{config}")
    n, d, t, s = config.count, config.num_digits, config.frames, config.size
    which = torch.randint(len(_digit_bank()), (n * d,), generator=g)
    if config.plus_plus:
        return DigitMotion(which, *_plus_plus_motion(config, g))
    half = config.digit_size / 2
    low, high = torch.full((n, d, 2), float(half)), torch.full((n, d, 2), s - float(half))
    start = low + (high - low) * torch.rand(n, d, 2, generator=g)
    theta = torch.rand(n, d, generator=g) * 2 * math.pi
    speed = config.max_speed * (0.5 + 0.5 * torch.rand(n, d, generator=g))
    velocity = torch.stack([torch.cos(theta), torch.sin(theta)], -1) * speed.unsqueeze(-1)
    centre = _bounce(start, velocity, t, low, high)
    return DigitMotion(which, torch.zeros(n, d, t), torch.ones(n, d, t), torch.ones(n, d, t), centre)


def moving_digits(config: DigitsConfig, seed: int) -> torch.Tensor:
    """(N, T, 1, S, S) uint8 sequences of bouncing digits, composited with max as Moving MNIST."""
    n, d, t, s = config.count, config.num_digits, config.frames, config.size
    # A blank 1-pixel border first (some 8x8 digits touch their edge; rotated, that edge
    # would show as a hard square), then bilinear upscaling so strokes are as soft as MNIST's.
    bank = F.pad(_digit_bank(), (1, 1, 1, 1))
    bank = F.interpolate(bank, size=(config.digit_size, config.digit_size), mode="bilinear", align_corners=False)
    bank = (bank / bank.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)).clamp(0, 1)
    motion = digit_motion(config, seed)
    digits = bank[motion.which]  # (N*D, 1, ds, ds)
    angle, scale, light, centre = motion.angle, motion.scale, motion.light, motion.centre
    # Inverse affine map canvas -> digit coordinates, in grid_sample's normalised units.
    cos, sin = torch.cos(angle), torch.sin(angle)
    k = s / (config.digit_size * scale)  # canvas units per digit unit
    offset = (centre / s) * 2 - 1  # digit centre in the canvas's [-1, 1] coordinates
    a = torch.stack([cos * k, sin * k, -sin * k, cos * k], -1).view(n, d, t, 2, 2)
    b = -(a @ offset.unsqueeze(-1)).squeeze(-1)
    affine = torch.cat([a, b.unsqueeze(-1)], -1)  # (N, D, T, 2, 3)
    ds = config.digit_size

    def render(part: slice) -> torch.Tensor:
        m = len(range(n)[part])
        sources = digits.view(n, d, 1, ds, ds)[part].expand(m, d, t, ds, ds).reshape(m * d * t, 1, ds, ds)
        grid = F.affine_grid(affine[part].reshape(m * d * t, 2, 3), [m * d * t, 1, s, s], align_corners=False)
        placed = F.grid_sample(sources, grid, align_corners=False, padding_mode="zeros").view(m, d, t, s, s)
        frames = (placed * light[part].view(m, d, t, 1, 1)).amax(dim=1)  # overlapping digits: max, as Moving MNIST
        return (frames.clamp(0, 1) * 255).round().to(torch.uint8).unsqueeze(2)

    return _in_chunks(n, render)


# MovingMNIST++ (Shi et al. 2017, section 5.1 and the authors' MovingMNISTAdvancedIterator,
# configuration trajgru_1_64_1_96_1_96_L13.yml): per digit, a speed in [0, 3.6] pixels per
# frame (on 64x64) in a uniform direction, an angular velocity in [-30, 30] degrees per frame
# and a scale factor in [1/1.1, 1.1] applied per frame; one illumination factor in [0.6, 1]
# per sequence. Scale and illumination change direction every 5 frames (frames 1-4 divide the
# scale by the factor and multiply the brightness by it, frames 5-9 the reverse, and so on),
# so both oscillate; frame 0 is the upright digit at scale 1 and full brightness.
PP_SPEED = 3.6  # pixels per frame on a 64-pixel canvas
PP_ROTATION = 30.0  # degrees per frame, either way
PP_SCALE = 1.1  # per-frame scale factor in [1 / PP_SCALE, PP_SCALE]
PP_LIGHT = (0.6, 1.0)  # per-frame illumination factor
PP_PERIOD = 5  # frames between reversals of scaling and illumination
PP_MARGIN = 10 / 64  # digit centres stay this fraction of the side from the border


def plus_plus_exponent(frames: int) -> torch.Tensor:
    """(T,) power of the per-frame scale factor at each frame: 0, -1 .. -4, -3 .. 1, 0 .. -4, -3 .. 1, ..."""
    step = torch.tensor([0.0] + [2.0 * ((i // PP_PERIOD) % 2) - 1 for i in range(1, frames)])
    return torch.cumsum(step, 0)


def _plus_plus_motion(config: DigitsConfig, g: torch.Generator
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Angle (radians), scale, brightness (N, D, T) and centre (N, D, T, 2) of MovingMNIST++."""
    n, d, t, s = config.count, config.num_digits, config.frames, config.size
    omega = (torch.rand(n, d, 1, generator=g) * 2 - 1) * math.radians(PP_ROTATION)
    log_factor = (torch.rand(n, d, 1, generator=g) * 2 - 1) * math.log(PP_SCALE)
    light_factor = PP_LIGHT[0] + (PP_LIGHT[1] - PP_LIGHT[0]) * torch.rand(n, 1, 1, generator=g)
    exponent = plus_plus_exponent(t).view(1, 1, t)
    angle = omega * torch.arange(t, dtype=torch.float32).view(1, 1, t)
    scale = torch.exp(log_factor * exponent)
    # Brightness moves opposite to the scale's exponent; above 1 the uint8 frames saturate.
    light = torch.pow(light_factor, -exponent).expand(n, d, t)
    margin = s * PP_MARGIN
    low, high = torch.full((n, d, 2), margin), torch.full((n, d, 2), s - margin)
    start = low + (high - low) * torch.rand(n, d, 2, generator=g)
    theta = torch.rand(n, d, generator=g) * 2 * math.pi
    speed = config.max_speed * torch.rand(n, d, generator=g)
    velocity = torch.stack([torch.cos(theta), torch.sin(theta)], -1) * speed.unsqueeze(-1)
    return angle, scale, light, _bounce(start, velocity, t, low, high)


def _in_chunks(n: int, render: Callable[[slice], torch.Tensor], size: int = 64) -> torch.Tensor:
    """Render sequences a chunk at a time: the per-pixel intermediates of all at once would
    need gigabytes at the quick preset."""
    return torch.cat([render(slice(i, min(i + size, n))) for i in range(0, n, size)])


def radar_echoes(config: RadarConfig, seed: int) -> torch.Tensor:
    """(N, T, 1, S, S) uint8 HKO-7 pixel values of advecting, rotating, growing/decaying rain cells."""
    g = _rng(seed, f"radar:{config}")
    n, c, t, s = config.count, config.max_cells, config.frames, config.size
    steps = torch.arange(t, dtype=torch.float32).view(1, 1, t)
    # Steering flow: one speed and direction per sequence, direction turning slowly.
    heading0 = torch.rand(n, 1, 1, generator=g) * 2 * math.pi
    turn = (torch.rand(n, 1, 1, generator=g) * 2 - 1) * 0.03
    speed = config.speed * (0.5 + torch.rand(n, 1, 1, generator=g))
    heading = heading0 + turn * steps
    # Position = integral of the turning velocity (exact for a constant turn rate).
    vx, vy = speed * torch.cos(heading), speed * torch.sin(heading)
    dx, dy = torch.cumsum(vx, -1) - vx, torch.cumsum(vy, -1) - vy
    # Cells start anywhere, including upstream outside the view, so new echoes enter.
    x0 = (torch.rand(n, c, 1, generator=g) * 1.4 - 0.2) * s
    y0 = (torch.rand(n, c, 1, generator=g) * 1.4 - 0.2) * s
    cx, cy = x0 + dx, y0 + dy  # (N, C, T)
    # Anisotropic cells: semi-axes, orientation turning with the cell's own rotation rate.
    major = s * (0.06 + 0.14 * torch.rand(n, c, 1, generator=g))
    ratio = 0.3 + 0.6 * torch.rand(n, c, 1, generator=g)
    orient = torch.rand(n, c, 1, generator=g) * math.pi + (torch.rand(n, c, 1, generator=g) * 2 - 1) * 0.05 * steps
    # Life cycle: peak reflectivity rises, then decays (a parabola in time, random peak time).
    peak_dbz = 25.0 + 30.0 * torch.rand(n, c, 1, generator=g)
    peak_time = (torch.rand(n, c, 1, generator=g) * 1.6 - 0.3) * t
    life = t * (0.6 + torch.rand(n, c, 1, generator=g))
    strength = (1 - ((steps - peak_time) / life) ** 2).clamp_min(0)
    present = (torch.rand(n, c, 1, generator=g) < 0.75).float()  # a varying number of cells
    dbz_peak = peak_dbz * strength * present
    growth = 0.7 + 0.3 * strength  # cells also swell as they intensify
    coords = torch.arange(s, dtype=torch.float32) + 0.5
    px = coords.view(1, 1, 1, 1, s)
    py = coords.view(1, 1, 1, s, 1)

    def render(part: slice) -> torch.Tensor:
        ex = px - cx[part, ..., None, None]
        ey = py - cy[part, ..., None, None]
        co, si = torch.cos(orient[part])[..., None, None], torch.sin(orient[part])[..., None, None]
        u, v = ex * co + ey * si, -ex * si + ey * co
        a = (major[part] * growth[part])[..., None, None]
        b = a * ratio[part, ..., None, None]
        # Each cell is a Gaussian bump in dBZ (a sharp core, a soft rim): (n, C, T, S, S).
        cell_dbz = dbz_peak[part, ..., None, None] * torch.exp(-0.5 * ((u / a) ** 2 + (v / b) ** 2))
        # Overlapping cells add in linear Z (mm^6/m^3), then go back to dBZ, as radar physics does.
        z = torch.expm1(cell_dbz * (math.log(10.0) / 10.0))  # 10^(dBZ/10) - 1, exact near 0
        dbz = 10.0 * torch.log10(1.0 + z.sum(dim=1))
        pixel = torch.where(dbz > 5.0, (dbz + 10.0) / 70.0, torch.zeros_like(dbz))  # below 5 dBZ: clear air
        return (pixel.clamp(0, 1) * 255).round().to(torch.uint8).unsqueeze(2)

    return _in_chunks(n, render, size=16)


def cached(kind: str, config: DigitsConfig | RadarConfig, seed: int,
           make: Callable[[], torch.Tensor], min_count: int = 50) -> torch.Tensor:
    """``make()``, cached under ~/.cache/seqbench keyed by the config (large sets only), written atomically."""
    if config.count < min_count:
        return make()
    version = PLUS_PLUS_VERSION if isinstance(config, DigitsConfig) and config.plus_plus else GENERATOR_VERSION
    text = json.dumps([kind, version, asdict(config), seed], sort_keys=True)
    key = hashlib.sha256(text.encode()).hexdigest()[:16]
    root = Path(os.environ.get("SEQBENCH_CACHE", Path.home() / ".cache" / "seqbench"))
    path = root / f"nowcast-{kind}-{key}.npy"
    if path.exists():
        try:
            return torch.from_numpy(np.load(path, allow_pickle=False))
        except (ValueError, OSError):
            pass  # a damaged cache file is regenerated below
    frames = make()
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, suffix=".npy")
    with os.fdopen(fd, "wb") as handle:
        np.save(handle, frames.numpy(), allow_pickle=False)
    os.replace(tmp, path)
    return frames
