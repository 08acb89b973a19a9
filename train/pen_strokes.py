"""Synthesized handwriting: digits drawn as pen strokes by random "writers".

A digit is a few strokes through control points in a unit box (x right, y down),
with the common ways of writing it as variants (a 1 with or without flag and foot, a
7 with or without bar, an open or closed 4, a 9 with a straight or curved stem, ...).
A writer is a fixed style drawn once from a seed: which variant of each digit, width,
slant, pen width, pressure variation, how sloppy, and a family ("round": smooth
curves; "quick": more slant and overshoot, loose closures; "angular": straight pieces
between the points). Every instance then jitters the points.

Writers of the training side and of the test side come from disjoint seed streams,
and the "angular" family is test-only, so the camera test set holds stroke styles
training never saw.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

DIGIT_PX = 112          # digit height on the drawing canvas
_SUPER = 2              # drawn at twice the resolution, then area-downscaled (anti-aliasing)
FAMILIES = {"train": ("round", "quick"), "test": ("round", "quick", "angular")}
_WRITER_KEYS = {"train": 0x57A1, "tune": 0x57A2, "test": 0x57A3}


def _ellipse(cx: float, cy: float, rx: float, ry: float, start: float = -0.5 * math.pi,
             turn: float = 2.15 * math.pi, n: int = 9) -> list[tuple[float, float]]:
    """Points on an ellipse, counter-clockwise on screen (y down) from angle `start`."""
    return [(cx + rx * math.cos(start - turn * k / (n - 1)), cy + ry * math.sin(start - turn * k / (n - 1)))
            for k in range(n)]


# digit -> variants -> strokes -> control points
SKELETONS: dict[int, list[list[list[tuple[float, float]]]]] = {
    0: [[[(0.55, 0.02), (0.2, 0.12), (0.03, 0.5), (0.2, 0.92), (0.55, 1.0), (0.88, 0.8), (0.97, 0.4),
          (0.8, 0.06), (0.5, 0.03)]],
        [[(0.7, 0.08), (0.4, 0.0), (0.08, 0.3), (0.05, 0.7), (0.35, 1.0), (0.75, 0.95), (0.95, 0.6),
          (0.9, 0.2), (0.6, 0.0), (0.4, 0.06)]]],
    1: [[[(0.55, 0.0), (0.5, 1.0)]],
        [[(0.2, 0.22), (0.6, 0.0), (0.55, 1.0)]],
        [[(0.2, 0.22), (0.6, 0.0), (0.55, 1.0)], [(0.25, 1.0), (0.85, 1.0)]]],
    2: [[[(0.08, 0.22), (0.35, 0.02), (0.7, 0.02), (0.9, 0.25), (0.75, 0.5), (0.4, 0.75), (0.05, 1.0),
          (0.5, 0.97), (0.97, 1.0)]],
        [[(0.1, 0.2), (0.4, 0.0), (0.8, 0.08), (0.85, 0.35), (0.45, 0.72), (0.1, 0.95), (0.2, 0.82),
          (0.35, 0.9), (0.6, 1.0), (0.95, 0.95)]],
        [[(0.1, 0.12), (0.5, 0.0), (0.9, 0.15), (0.85, 0.35), (0.05, 1.0), (0.95, 1.0)]]],
    3: [[[(0.1, 0.12), (0.45, 0.0), (0.82, 0.1), (0.85, 0.3), (0.5, 0.47), (0.35, 0.48), (0.5, 0.49),
          (0.9, 0.65), (0.9, 0.88), (0.55, 1.0), (0.08, 0.9)]],
        [[(0.05, 0.0), (0.9, 0.0), (0.4, 0.42), (0.85, 0.55), (0.92, 0.8), (0.6, 1.0), (0.08, 0.9)]]],
    4: [[[(0.6, 0.0), (0.05, 0.68), (0.98, 0.68)], [(0.75, 0.3), (0.75, 1.0)]],
        [[(0.72, 1.0), (0.72, 0.0), (0.05, 0.68), (0.98, 0.68)]],
        [[(0.15, 0.0), (0.08, 0.6), (0.95, 0.6)], [(0.72, 0.05), (0.72, 1.0)]]],
    5: [[[(0.22, 0.02), (0.15, 0.45), (0.45, 0.38), (0.85, 0.5), (0.9, 0.78), (0.6, 1.0), (0.1, 0.92)],
         [(0.22, 0.02), (0.88, 0.0)]],
        [[(0.88, 0.0), (0.22, 0.02), (0.15, 0.45), (0.45, 0.38), (0.85, 0.5), (0.9, 0.78), (0.6, 1.0),
          (0.1, 0.92)]]],
    6: [[[(0.8, 0.03), (0.45, 0.1), (0.15, 0.45), (0.08, 0.75), (0.3, 1.0), (0.7, 0.97), (0.9, 0.72),
          (0.7, 0.5), (0.35, 0.52), (0.1, 0.72)]],
        [[(0.65, 0.0), (0.2, 0.5), (0.12, 0.8), (0.4, 1.0), (0.8, 0.9), (0.85, 0.65), (0.55, 0.5),
          (0.2, 0.62)]]],
    7: [[[(0.03, 0.02), (0.97, 0.02), (0.4, 1.0)]],
        [[(0.03, 0.02), (0.97, 0.02), (0.4, 1.0)], [(0.3, 0.52), (0.85, 0.5)]],
        [[(0.05, 0.2), (0.07, 0.02), (0.95, 0.02), (0.6, 0.45), (0.45, 1.0)]]],
    8: [[[(0.55, 0.46), (0.2, 0.3), (0.18, 0.1), (0.5, 0.0), (0.82, 0.1), (0.8, 0.3), (0.45, 0.55),
          (0.1, 0.75), (0.2, 0.97), (0.52, 1.0), (0.88, 0.9), (0.88, 0.7), (0.55, 0.46)]],
        [_ellipse(0.5, 0.24, 0.3, 0.24), _ellipse(0.5, 0.73, 0.4, 0.27)]],
    9: [[[(0.88, 0.3), (0.6, 0.48), (0.22, 0.42), (0.15, 0.18), (0.45, 0.0), (0.82, 0.1), (0.88, 0.3),
          (0.85, 0.65), (0.7, 1.0)]],
        [[(0.88, 0.28), (0.6, 0.45), (0.2, 0.4), (0.15, 0.15), (0.45, 0.0), (0.82, 0.1), (0.88, 0.28),
          (0.88, 1.0)]],
        [_ellipse(0.5, 0.25, 0.36, 0.25, start=0.0), [(0.86, 0.25), (0.8, 1.0)]]],
}


@dataclass(frozen=True)
class Writer:
    family: str
    aspect: float        # width / height of the digit box
    slant: float         # horizontal shift of the top relative to the bottom, in heights
    pen: float           # pen width / digit height
    pressure: float      # relative pen-width variation along a stroke
    jitter: float        # control-point noise per instance, in heights
    overshoot: float     # stroke ends run on by this share of the last segment
    variants: tuple[int, ...]


def make_writer(rng: np.random.Generator, family: str) -> Writer:
    quick = family == "quick"
    return Writer(
        family=family,
        aspect=float(rng.uniform(0.5, 0.85) * (0.9 if quick else 1.0)),
        slant=float(rng.uniform(-0.05, 0.35) if quick else rng.uniform(-0.15, 0.2)),
        pen=float(rng.uniform(0.05, 0.13) * (0.85 if quick else 1.0)),
        pressure=float(rng.uniform(0.0, 0.35)),
        jitter=float(rng.uniform(0.015, 0.035) if quick else rng.uniform(0.005, 0.02)),
        overshoot=float(rng.uniform(0.05, 0.3) if quick else rng.uniform(0.0, 0.1)),
        variants=tuple(int(rng.integers(len(SKELETONS[d]))) for d in range(10)),
    )


@functools.lru_cache(maxsize=4096)
def writer(split: str, index: int) -> Writer:
    """Writer `index` of a side: "train", or "tune"/"test" (held-out writers and families)."""
    if split not in _WRITER_KEYS:
        raise ValueError(f"split must be one of {sorted(_WRITER_KEYS)}, got {split!r}")
    families = FAMILIES["train" if split == "train" else "test"]
    rng = np.random.default_rng([_WRITER_KEYS[split], int(index)])
    return make_writer(rng, families[int(index) % len(families)])


def _catmull_rom(pts: np.ndarray, per_segment: int = 14) -> np.ndarray:
    """A smooth curve through all points (uniform Catmull-Rom, end points repeated)."""
    if len(pts) < 3:
        return pts
    p = np.vstack([pts[:1], pts, pts[-1:]])
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t ** 2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t ** 3))
    out.append(p[-2:-1])
    return np.vstack(out)


def _densify(pts: np.ndarray, per_segment: int = 8) -> np.ndarray:
    t = np.linspace(0.0, 1.0, per_segment, endpoint=False)[:, None]
    segs = [a + (b - a) * t for a, b in zip(pts[:-1], pts[1:])]
    return np.vstack(segs + [pts[-1:]])


def render(label: int, w: Writer, rng: np.random.Generator) -> np.ndarray:
    """Coverage image (float32, 1 = ink) of digit `label` written by `w`, one instance."""
    if not 0 <= int(label) <= 9:
        raise ValueError(f"label must be 0..9, got {label}")
    strokes = SKELETONS[int(label)][w.variants[int(label)] % len(SKELETONS[int(label)])]
    h = DIGIT_PX * _SUPER
    margin = int(0.35 * h)
    width = int(h * (w.aspect + abs(w.slant)) + 2 * margin)
    canvas = np.zeros((h + 2 * margin, width), np.uint8)
    rot = math.radians(rng.uniform(-4, 4))
    ca, sa = math.cos(rot), math.sin(rot)
    base_pen = w.pen * h * rng.uniform(0.85, 1.15)
    for stroke in strokes:
        pts = np.asarray(stroke, np.float64)
        pts = pts + rng.normal(0.0, w.jitter, pts.shape)
        if w.overshoot > 0 and len(pts) >= 2:
            pts[-1] += (pts[-1] - pts[-2]) * w.overshoot * rng.uniform(0.3, 1.0)
        curve = _densify(pts) if w.family == "angular" else _catmull_rom(pts)
        x = (curve[:, 0] - 0.5) * w.aspect + w.slant * (0.5 - curve[:, 1])
        y = curve[:, 1] - 0.5
        xr, yr = ca * x - sa * y, sa * x + ca * y
        px = np.stack([xr * h + width / 2, yr * h + canvas.shape[0] / 2], 1)
        s = np.linspace(0, 1, len(px))
        phase = rng.uniform(0, 2 * math.pi)
        thick = base_pen * (1 + w.pressure * np.sin(phase + 2 * math.pi * s * rng.uniform(0.5, 1.5)))
        fixed = np.round(px * 8).astype(np.int32)          # 3 fractional bits (shift=3)
        for i in range(len(fixed) - 1):
            cv2.line(canvas, tuple(fixed[i]), tuple(fixed[i + 1]), 255,
                     max(1, int(round(thick[i]))), cv2.LINE_AA, 3)
    small = cv2.resize(canvas, (canvas.shape[1] // _SUPER, canvas.shape[0] // _SUPER),
                       interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0
