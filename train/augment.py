"""Augmentation of 28x28 MNIST digits toward what the camera pipeline produces.

The camera path (camera_sim -> preprocess) gives digits that are re-framed, a
little rotated, thicker or thinner, softer or harder-edged and noisier than
MNIST's. These cheap 28x28-domain transforms cover that range every epoch; the
full camera simulation is mixed in separately (see train.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentConfig:
    max_shift: float = 2.0         # pixels, after framing the centre of mass can sit off by this much
    max_rotate: float = 12.0       # degrees: the camera may be tilted
    scale_range: tuple[float, float] = (0.85, 1.12)
    thickness_prob: float = 0.35   # chance of a 2x2 dilation or erosion (pen width, exposure)
    blur_prob: float = 0.3         # defocus
    noise_std: float = 10.0        # sensor noise that survives thresholding, 0..255 units
    contrast_range: tuple[float, float] = (0.7, 1.0)  # a faint stroke never reaches 255
    elastic_prob: float = 0.0      # chance of an elastic distortion: another writer's hand (0: no draws at all)
    elastic_alpha: float = 30.0    # its displacement scale, pixels per unit of the smoothed field
    elastic_sigma: float = 4.0     # its smoothness (Simard et al. 2003, "Best practices for CNNs")


def augment_batch(images: np.ndarray, rng: np.random.Generator, cfg: AugmentConfig = AugmentConfig()) -> np.ndarray:
    """A randomly transformed copy of a batch of 28x28 uint8 digits."""
    n = len(images)
    out = np.empty_like(images)
    angles = rng.uniform(-cfg.max_rotate, cfg.max_rotate, n)
    scales = rng.uniform(*cfg.scale_range, n)
    shifts = rng.uniform(-cfg.max_shift, cfg.max_shift, (n, 2))
    thick = rng.random(n)
    blur = rng.random(n) < cfg.blur_prob
    kernel = np.ones((2, 2), np.uint8)
    # drawn only when asked for, so a config without it keeps the random stream of before
    elastic = rng.random(n) < cfg.elastic_prob if cfg.elastic_prob > 0 else np.zeros(n, bool)
    grid_y, grid_x = np.mgrid[0:28, 0:28].astype(np.float32)
    for i in range(n):
        m = cv2.getRotationMatrix2D((13.5, 13.5), angles[i], scales[i])
        m[:, 2] += shifts[i]
        img = cv2.warpAffine(images[i], m, (28, 28), flags=cv2.INTER_LINEAR, borderValue=0)
        if elastic[i]:
            dx, dy = (cv2.GaussianBlur(rng.uniform(-1, 1, (28, 28)).astype(np.float32), (0, 0), cfg.elastic_sigma)
                      * np.float32(cfg.elastic_alpha) for _ in range(2))
            img = cv2.remap(img, grid_x + dx, grid_y + dy, cv2.INTER_LINEAR, borderValue=0)
        if thick[i] < cfg.thickness_prob / 2:
            img = cv2.dilate(img, kernel)
        elif thick[i] < cfg.thickness_prob:
            img = cv2.erode(img, kernel)
        if blur[i]:
            img = cv2.GaussianBlur(img, (3, 3), 0.7)
        out[i] = img
    x = out.astype(np.float32) * rng.uniform(*cfg.contrast_range, (n, 1, 1)).astype(np.float32)
    x += rng.normal(0, cfg.noise_std, x.shape).astype(np.float32) * (x > 0)  # noise on ink only, background stays clean
    return np.clip(x, 0, 255).astype(np.uint8)
