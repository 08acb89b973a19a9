"""The camera's optics and sensor: light on the scene, lens blur, vignetting, the
HM01B0's noise and 8-bit output, and its 2x2 binning.

The HM01B0 is a 324x324 monochrome sensor with 8-bit output; the firmware reads it
2x2-binned (162x162, register BINNING_MODE 0x0390 = 0x03), which averages each 2x2
block of the array (so binning halves the pixel noise). Frames are rendered at
324x324 and binned by `bin2x2`, the same rounding as bench/firmware.py.
"""
from __future__ import annotations

import functools
import math

import cv2
import numpy as np


def bin2x2(frames: np.ndarray) -> np.ndarray:
    """The sensor's 2x2 binning of (..., H, W) uint8 frames: mean of each 2x2 block, rounded."""
    f = np.asarray(frames)
    if f.shape[-1] % 2 or f.shape[-2] % 2:
        raise ValueError(f"binning needs even frame sides, got {f.shape[-2:]}")
    f = f.astype(np.uint16)
    s = f[..., 0::2, 0::2] + f[..., 1::2, 0::2] + f[..., 0::2, 1::2] + f[..., 1::2, 1::2]
    return ((s + 2) // 4).astype(np.uint8)


@functools.lru_cache(maxsize=8)
def centred_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y) in frame sides, 0 at the frame centre."""
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    return (xx - c) / size, (yy - c) / size


def light_field(size: int, gradient: float, direction_deg: float) -> np.ndarray:
    """Relative light on the scene: a linear fall-off of `gradient` across the frame."""
    xs, ys = centred_grid(size)
    a = math.radians(direction_deg)
    return 1.0 + gradient * (xs * math.cos(a) + ys * math.sin(a))


def vignetting(size: int, strength: float) -> np.ndarray:
    """Lens fall-off towards the corners: 1 in the centre, 1 - strength in the corners."""
    xs, ys = centred_grid(size)
    return 1.0 - strength * (xs * xs + ys * ys) / 0.5


def low_frequency_noise(rng: np.random.Generator, size: int, cells: int = 10) -> np.ndarray:
    """Smooth random field of unit standard deviation varying over ~size/cells pixels."""
    coarse = rng.standard_normal((cells + 3, cells + 3)).astype(np.float32)
    big = cv2.resize(coarse, (size + 3 * size // cells, size + 3 * size // cells), interpolation=cv2.INTER_CUBIC)
    o = size // cells
    f = big[o:o + size, o:o + size]
    return (f - f.mean()) / max(float(f.std()), 1e-6)


def fine_noise(rng: np.random.Generator, size: int, sigma: float = 0.8) -> np.ndarray:
    """Fine-grained field (paper tooth, chalk): about `sigma` px correlation, unit std."""
    f = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), sigma)
    return f / max(float(f.std()), 1e-6)


def _disk_kernel(radius: float) -> np.ndarray:
    r = int(math.ceil(radius))
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1].astype(np.float32)
    k = np.clip(radius + 0.5 - np.sqrt(xx * xx + yy * yy), 0.0, 1.0)    # anti-aliased pillbox
    return k / k.sum()


def _motion_kernel(length: float, angle_deg: float) -> np.ndarray:
    r = int(math.ceil(length / 2)) + 1
    k = np.zeros((2 * r + 1, 2 * r + 1), np.float32)
    a = math.radians(angle_deg)
    dx, dy = math.cos(a) * length / 2, math.sin(a) * length / 2
    cv2.line(k, (int(round((r - dx) * 16)), int(round((r - dy) * 16))),
             (int(round((r + dx) * 16)), int(round((r + dy) * 16))), 1.0, 1, cv2.LINE_AA, 4)
    return k / k.sum()


def blur(img: np.ndarray, sigma: float = 0.0, defocus_radius: float = 0.0,
         motion_length: float = 0.0, motion_angle: float = 0.0) -> np.ndarray:
    """Lens blur: a small Gaussian (focus, lens quality), then a defocus disk
    (out of focus: the point spread of a lens is a disk), then motion (hand shake)."""
    out = img
    if sigma > 0.05:
        out = cv2.GaussianBlur(out, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    if defocus_radius >= 0.75:
        out = cv2.filter2D(out, -1, _disk_kernel(defocus_radius), borderType=cv2.BORDER_REFLECT)
    if motion_length >= 1.5:
        out = cv2.filter2D(out, -1, _motion_kernel(motion_length, motion_angle), borderType=cv2.BORDER_REFLECT)
    return out


def sensor(radiance: np.ndarray, rng: np.random.Generator, read_noise: float, shot_gain: float = 0.0,
           row_noise: float = 0.0, salt_pepper: float = 0.0) -> np.ndarray:
    """Irradiance in grey levels -> the sensor's 8-bit frame.

    Noise: read noise (Gaussian, grey levels), photon shot noise (variance
    shot_gain * signal: grows with the gain in dim light), per-row offsets (the row
    banding of cheap CMOS sensors), and stuck pixels (salt and pepper)."""
    size_y, size_x = radiance.shape
    sig = np.maximum(radiance, 0.0)
    sd = np.sqrt(np.float32(read_noise) ** 2 + np.float32(shot_gain) * sig)
    img = sig + rng.standard_normal(radiance.shape, dtype=np.float32) * sd
    if row_noise > 0:
        img += (rng.standard_normal(size_y).astype(np.float32) * np.float32(row_noise))[:, None]
    if salt_pepper > 0:
        hits = rng.random(radiance.shape, dtype=np.float32)
        img[hits < salt_pepper / 2] = 0.0
        img[hits > 1.0 - salt_pepper / 2] = 255.0
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)
