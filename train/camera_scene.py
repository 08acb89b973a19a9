"""Geometry and reflectance of what the camera looks at: a sheet of paper (plain, ruled
or squared, maybe with its edge and the desk in view) or a dark ground, seen at an
angle, with digits drawn on it and shadows cast on it.

Coordinates: "paper" coordinates are the pixels the frame would have if the camera
looked straight down at the sheet; a homography (a plane seen by a pinhole camera
tilted by `tilt` degrees) maps them to frame pixels. Everything drawn on the paper
(digits, ruling, the paper's edge) goes through the same homography, so lines stay
lines and far parts shrink, as in a photograph.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


def homography(size: int, tilt_deg: float, axis_deg: float, focal: float) -> np.ndarray:
    """3x3 map paper px -> frame px: the sheet rotated by tilt_deg about an in-plane axis
    at axis_deg through the frame centre, seen by a camera of focal length focal * size.
    The centre keeps its place and scale; the far side shrinks."""
    c = (size - 1) / 2.0
    f = focal * size
    t, a = math.radians(tilt_deg), math.radians(axis_deg)
    ax = np.array([math.cos(a), math.sin(a), 0.0])
    kx = np.array([[0, -ax[2], ax[1]], [ax[2], 0, -ax[0]], [-ax[1], ax[0], 0]])
    r = np.eye(3) + math.sin(t) * kx + (1 - math.cos(t)) * kx @ kx        # Rodrigues
    k = np.array([[f, 0, c], [0, f, c], [0, 0, 1.0]])
    rt = np.column_stack([r[:, 0], r[:, 1], [0.0, 0.0, f]])
    shift = np.array([[1, 0, -c], [0, 1, -c], [0, 0, 1.0]])
    h = k @ rt @ shift
    return h / h[2, 2]


def paper_coords(size: int, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, scale) per frame pixel: the paper point it sees and the size of one frame
    pixel in paper px (for anti-aliasing lines drawn on the paper)."""
    hi = np.linalg.inv(h)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    w = hi[2, 0] * xx + hi[2, 1] * yy + hi[2, 2]
    u = (hi[0, 0] * xx + hi[0, 1] * yy + hi[0, 2]) / w
    v = (hi[1, 0] * xx + hi[1, 1] * yy + hi[1, 2]) / w
    # Jacobian determinant of a homography: det(H^-1) / w^3
    scale = np.sqrt(np.abs(np.float32(np.linalg.det(hi)) / (w * w * w)))
    return u, v, scale


def line_coverage(dist_paper: np.ndarray, width_paper: float, scale: np.ndarray) -> np.ndarray:
    """Coverage of a line of width_paper around distance 0, box-filtered by the pixel."""
    return np.clip((width_paper / 2 - np.abs(dist_paper)) / scale + 0.5, 0.0, 1.0)


def periodic_lines(t: np.ndarray, pitch: float, phase: float, width: float, scale: np.ndarray) -> np.ndarray:
    """Coverage of lines at t = phase + k * pitch (paper px)."""
    q = (t - phase) / pitch
    return line_coverage((q - np.round(q)) * pitch, width, scale)


def rotate(u: np.ndarray, v: np.ndarray, size: int, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Paper px -> the sheet's own axes (s along its lines, t across), origin at the frame centre."""
    c = (size - 1) / 2.0
    a = math.radians(angle_deg)
    du, dv = u - c, v - c
    return du * math.cos(a) + dv * math.sin(a), -du * math.sin(a) + dv * math.cos(a)


def half_plane(u: np.ndarray, v: np.ndarray, nx: float, ny: float, d: float, scale: np.ndarray,
               size: int) -> np.ndarray:
    """Anti-aliased coverage of {p : n . (p - centre) > d} (paper px; n a unit vector)."""
    c = (size - 1) / 2.0
    return np.clip(((u - c) * nx + (v - c) * ny - d) / scale + 0.5, 0.0, 1.0)


@dataclass
class Placement:
    """A digit on the sheet: centre in frame sides from the frame centre (paper coords),
    height in frame sides, rotation, width factor, shear and stroke-width change."""
    coverage: np.ndarray
    label: int
    cx: float
    cy: float
    height: float
    angle: float = 0.0
    aspect: float = 1.0
    shear: float = 0.0
    thickness: int = 0
    target: bool = True


def _ink_rows_cols(cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.nonzero(cov.max(axis=1) > 0.5)[0], np.nonzero(cov.max(axis=0) > 0.5)[0]


def glyph_matrix(p: Placement, cov: np.ndarray, size: int) -> np.ndarray | None:
    """3x3 affine map glyph px -> paper px for a placement (None for an empty glyph)."""
    rows, cols = _ink_rows_cols(cov)
    if len(rows) == 0:
        return None
    src_h = rows[-1] - rows[0] + 1
    sx, sy = (cols[0] + cols[-1]) / 2.0, (rows[0] + rows[-1]) / 2.0
    s = p.height * size / src_h
    a = math.radians(p.angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    lin = rot @ np.array([[s * p.aspect, -s * p.shear], [0.0, s]])
    c = (size - 1) / 2.0
    dst = np.array([c + p.cx * size, c + p.cy * size])
    m = np.eye(3)
    m[:2, :2] = lin
    m[:2, 2] = dst - lin @ np.array([sx, sy])
    return m


def stroke_width(cov: np.ndarray, steps: int) -> np.ndarray:
    """Thicker (steps > 0) or thinner (< 0) strokes: 3x3 dilations / erosions."""
    if steps == 0:
        return cov
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    return (cv2.dilate if steps > 0 else cv2.erode)(cov, k, iterations=abs(steps))


def _inside(cov: np.ndarray, total: np.ndarray, size: int) -> float:
    ys, xs = np.nonzero(cov > 0.5)
    if len(ys) == 0:
        return 0.0
    pts = total @ np.vstack([xs, ys, np.ones_like(xs)]).astype(np.float64)
    px, py = pts[0] / pts[2], pts[1] / pts[2]
    return float(((px >= 0) & (px < size) & (py >= 0) & (py < size)).mean())


def ink_inside(p: Placement, h: np.ndarray, size: int) -> float:
    """Share of a placed glyph's ink pixels that land inside the frame."""
    cov = stroke_width(np.ascontiguousarray(p.coverage, np.float32), p.thickness)
    m = glyph_matrix(p, cov, size)
    return 0.0 if m is None else _inside(cov, h @ m, size)


def draw_glyph(p: Placement, h: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """(coverage in the frame, share of the glyph's ink that lands inside the frame)."""
    cov = stroke_width(np.ascontiguousarray(p.coverage, np.float32), p.thickness)
    m = glyph_matrix(p, cov, size)
    if m is None:
        return np.zeros((size, size), np.float32), 0.0
    total = h @ m
    inside = _inside(cov, total, size)    # measured on the glyph's own pixels, before resampling
    # a large shrink would alias under bilinear sampling: shrink the glyph by area first
    s = math.sqrt(abs(np.linalg.det(m[:2, :2])))
    if s < 0.5:
        h0, w0 = cov.shape
        f = 0.5 / s
        cov = cv2.resize(cov, (max(1, round(w0 / f)), max(1, round(h0 / f))), interpolation=cv2.INTER_AREA)
        # pixel centres: x_orig = (x_small + 0.5) * w0 / w_small - 0.5
        kx, ky = w0 / cov.shape[1], h0 / cov.shape[0]
        total = total @ np.array([[kx, 0, 0.5 * kx - 0.5], [0, ky, 0.5 * ky - 0.5], [0, 0, 1.0]])
    out = cv2.warpPerspective(cov, total, (size, size), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, inside


def fill_shapes(size: int, shapes: list[tuple], super_: int = 4) -> np.ndarray:
    """Coverage (0..1) of polygons ("poly", [(x, y), ...]) and ellipses
    ("ellipse", cx, cy, rx, ry, angle_deg), coordinates in frame sides from the centre."""
    big = size * super_
    canvas = np.zeros((big, big), np.uint8)
    c = (size - 1) / 2.0

    def px(x: float, y: float) -> tuple[int, int]:       # 4 fractional bits for fillPoly/ellipse
        return int(round(((c + x * size) * super_ + (super_ - 1) / 2) * 16)), \
            int(round(((c + y * size) * super_ + (super_ - 1) / 2) * 16))

    for shape in shapes:
        if shape[0] == "poly":
            pts = np.array([px(x, y) for x, y in shape[1]], np.int32)
            cv2.fillPoly(canvas, [pts], 255, cv2.LINE_8, 4)
        else:
            _, cx, cy, rx, ry, ang = shape
            cv2.ellipse(canvas, px(cx, cy), (int(rx * size * super_ * 16), int(ry * size * super_ * 16)),
                        ang, 0, 360, 255, -1, cv2.LINE_8, 4)
    small = cv2.resize(canvas, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0
