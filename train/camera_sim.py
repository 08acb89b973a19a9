"""The camera simulator: what the Pico4ML's HM01B0 sees when people point it at digits.

A frame is rendered from a `Scene` (camera_conditions.py draws scenes for every
condition of issue 8) in physical order:

  1. the ground's reflectance: white paper (plain, ruled with a margin line, or
     squared; slight fibre texture), the desk beyond the paper's edge, or a dark
     ground (phone screen, blackboard, black paper);
  2. the digits and other marks (camera_scene.Placement; neighbours, fragments at the
     frame edge, specks) as ink coverage: dark ink, grainy pencil, or light strokes
     (chalk, white marker, a lit screen);
  3. the light: its level (the paper's grey), a gradient, a hand's shadow or a straight
     shadow with a penumbra, screen glare and moire;
  4. the optics: Gaussian focus blur, defocus disk, motion blur, vignetting;
  5. the sensor: read, shot and row noise, stuck pixels, 8-bit output
     (camera_optics.py), at the HM01B0's 324x324; `bin2x2` gives the firmware's
     162x162 binned frame.

Every random choice comes from the numpy Generator passed in, so a seed gives the
same frames on any machine. The clean-sheet simulator the committed model was trained
with is camera_clean.py; its functions are re-exported here unchanged.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from pico4ml.train import camera_optics as optics
from pico4ml.train import camera_scene as scene_geo
from pico4ml.train.camera_clean import (  # noqa: F401  (the clean-sheet API, unchanged)
    DEFAULT_RANGES, GLYPH_PX, HERSHEY_FONTS, N_HERSHEY_STYLES, TTF_CANDIDATES, SimRanges, camera_frame,
    make_camera_set, mnist_coverage, n_printed_styles, printed_coverage, render_handwritten, render_printed,
    ttf_fonts_available)
from pico4ml.train.camera_optics import bin2x2  # noqa: F401
from pico4ml.train.camera_scene import Placement

__all__ = [  # the condition simulator, and the clean-sheet API re-exported from camera_clean
    "SENSOR_SIZE", "BINNED_SIZE", "Scene", "SimFrame", "Placement", "render_scene", "render_frame", "bin2x2",
    "DEFAULT_RANGES", "GLYPH_PX", "HERSHEY_FONTS", "N_HERSHEY_STYLES", "TTF_CANDIDATES", "SimRanges",
    "camera_frame", "make_camera_set", "mnist_coverage", "n_printed_styles", "printed_coverage",
    "render_handwritten", "render_printed", "ttf_fonts_available"]

SENSOR_SIZE = 324     # HM01B0 full array
BINNED_SIZE = 162     # what the firmware captures (2x2 binning)


@dataclass
class Scene:
    """Everything a frame is rendered from (defaults: a plain sheet, straight on)."""
    size: int = SENSOR_SIZE
    glyphs: list[Placement] = field(default_factory=list)
    specks: list[tuple[float, float, float, float]] = field(default_factory=list)  # x, y, r (sides), contrast
    # geometry: the sheet's rotation in the frame and its tilt towards the camera
    paper_angle: float = 0.0
    tilt: float = 0.0
    tilt_axis: float = 0.0
    focal: float = 1.0
    # the sheet
    ruling: str = "plain"             # plain | ruled | squared
    pitch: float = 0.1                # line spacing, frame sides (paper coords)
    line_phase: float = 0.0           # frame sides
    line_width: float = 1.5           # px at 324
    line_contrast: float = 0.0
    margin: float | None = None       # margin line position along the lines, frame sides from the centre
    margin_width: float = 2.5
    margin_contrast: float = 0.0
    margin_double: float = 0.0        # gap of a second margin line (px), 0 = single
    fibre: float = 0.0                # paper texture, relative
    edges: list[tuple[float, float, float]] = field(default_factory=list)  # desk where n.(p-c) > d (d in sides)
    desk: float = 0.2                 # desk reflectance relative to the paper
    desk_texture: float = 0.0
    edge_shadow: float = 0.0          # dark band along the paper's edge on the desk (px at 324)
    # ground and ink
    ground_refl: float = 1.0          # paper 1; dark grounds much less
    light_ink: bool = False           # strokes brighter than the ground
    ink_contrast: float = 0.7         # dark ink: 1 - ink reflectance / ground
    ink_refl: float = 0.9             # light ink: the strokes' reflectance
    grain: float = 0.0                # pencil graininess (multiplies the coverage)
    chalk: float = 0.0                # chalk: share of the board's tooth the chalk misses
    dust: float = 0.0                 # chalk dust smeared on the board (reflectance)
    # light
    paper_grey: float = 200.0         # grey level of the ground=1 surface under full light
    gradient: float = 0.0
    gradient_dir: float = 0.0
    vignetting: float = 0.0
    shadow: list[tuple] = field(default_factory=list)   # camera_scene.fill_shapes shapes
    shadow_light: float = 1.0         # light left inside the shadow
    penumbra: float = 1.0             # px at 324
    glare: float = 0.0                # screen reflection, grey levels
    glare_at: tuple[float, float, float] = (0.0, 0.0, 0.3)
    moire: float = 0.0                # screen pixel pattern, relative
    moire_period: float = 3.0
    moire_angle: float = 0.0
    # optics and sensor (px at 324)
    blur_sigma: float = 1.0
    defocus: float = 0.0
    motion: float = 0.0
    motion_angle: float = 0.0
    read_noise: float = 3.0
    shot_gain: float = 0.0
    row_noise: float = 0.0
    salt_pepper: float = 0.0
    # what it shows
    label: int = -1                   # the digit to read, -1 for none
    condition: str = "clean"
    kind: str = ""                    # the condition's variant (e.g. "chalk", "speck")
    source: str = ""                  # where the target digit came from
    source_kind: str = ""             # digit_sources.KINDS of the target


@dataclass
class SimFrame:
    image: np.ndarray                 # uint8 (size, size)
    label: int                        # -1: nothing to read
    condition: str
    kind: str
    source: str
    target_mask: np.ndarray | None    # the target digit's coverage in the frame (before blur)
    inside: list[float]               # per glyph: share of its ink inside the frame
    targets: list[bool]               # per glyph: is it the digit to read


def _ground(sc: Scene, u, v, scale) -> np.ndarray:
    size = sc.size
    ground = np.full((size, size), sc.ground_refl, np.float32)
    if sc.ruling != "plain" or sc.margin is not None:
        s, t = scene_geo.rotate(u, v, size, sc.paper_angle)
        if sc.ruling in ("ruled", "squared"):
            lines = scene_geo.periodic_lines(t, sc.pitch * size, sc.line_phase * size, sc.line_width, scale)
            if sc.ruling == "squared":
                lines = np.maximum(lines, scene_geo.periodic_lines(s, sc.pitch * size, sc.line_phase * size,
                                                                   sc.line_width, scale))
            ground *= 1.0 - sc.line_contrast * lines
        if sc.margin is not None:
            m = scene_geo.line_coverage(s - sc.margin * size, sc.margin_width, scale)
            if sc.margin_double > 0:
                m = np.maximum(m, scene_geo.line_coverage(s - sc.margin * size + sc.margin_double,
                                                          sc.margin_width, scale))
            ground *= 1.0 - sc.margin_contrast * m
    return ground


def render_scene(sc: Scene, rng: np.random.Generator) -> SimFrame:
    """Photograph a scene: SimFrame with the 8-bit (size, size) image."""
    size = sc.size
    if size < 16 or size % 2:
        raise ValueError("frame size must be even and at least 16")
    k = size / SENSOR_SIZE                      # pixel sizes in Scene are given at 324x324
    h = scene_geo.homography(size, sc.tilt, sc.tilt_axis, sc.focal)
    if sc.ruling != "plain" or sc.margin is not None or sc.edges:
        u, v, scale = scene_geo.paper_coords(size, h)
        ground = _ground(sc, u, v, scale)
    else:
        ground = np.full((size, size), sc.ground_refl, np.float32)
    if sc.fibre > 0:
        ground *= 1.0 + sc.fibre * optics.low_frequency_noise(rng, size, 24)
    if sc.dust > 0:
        ground += sc.dust * np.clip(optics.low_frequency_noise(rng, size, 6), 0, None)
    if sc.edges:
        desk = np.zeros((size, size), np.float32)
        for nx, ny, d in sc.edges:
            desk = np.maximum(desk, scene_geo.half_plane(u, v, nx, ny, d * size, scale, size))
        desk_refl = sc.desk * (1.0 + sc.desk_texture * optics.low_frequency_noise(rng, size, 5))
        if sc.edge_shadow > 0:   # the sheet's own shadow: a dark band on the desk along its edge
            band = cv2.GaussianBlur(desk, (0, 0), max(0.5, sc.edge_shadow * k))
            desk_refl = desk_refl * (1.0 - 0.6 * np.clip((1.0 - band) * 2.0, 0, 1))
        ground = ground * (1.0 - desk) + np.clip(desk_refl, 0.005, None) * desk
    # ink
    cov = np.zeros((size, size), np.float32)
    target_mask, inside, targets = None, [], []
    for p in sc.glyphs:
        g, ins = scene_geo.draw_glyph(p, h, size)
        cov = np.maximum(cov, g)
        inside.append(ins)
        targets.append(p.target)
        if p.target:
            target_mask = g
    for x, y, r, contrast in sc.specks:
        dot = np.zeros((size, size), np.uint8)
        c = (size - 1) / 2.0
        cv2.circle(dot, (int(round((c + x * size) * 16)), int(round((c + y * size) * 16))),
                   max(1, int(round(r * size * 16))), 255, -1, cv2.LINE_AA, 4)
        cov = np.maximum(cov, dot.astype(np.float32) / 255.0 * contrast / max(sc.ink_contrast, 1e-3))
    if sc.grain > 0:
        cov = cov * np.clip(1.0 + sc.grain * optics.fine_noise(rng, size, 0.7 * k + 0.3), 0.0, 2.0)
    if sc.chalk > 0:
        tooth = optics.fine_noise(rng, size, 0.9 * k + 0.3)
        cov = cov * np.clip(0.5 + (tooth + 1.6 - 3.2 * sc.chalk) * 0.6, 0.0, 1.0)
    if sc.light_ink:
        refl = ground + (sc.ink_refl - ground) * np.clip(cov, 0.0, 1.0)
    else:
        refl = ground * (1.0 - sc.ink_contrast * np.clip(cov, 0.0, 1.6))
    # light
    light = optics.light_field(size, sc.gradient, sc.gradient_dir) * np.float32(sc.paper_grey)
    if sc.shadow:
        mask = scene_geo.fill_shapes(size, sc.shadow)
        if sc.penumbra * k > 0.3:
            mask = cv2.GaussianBlur(mask, (0, 0), sc.penumbra * k)
        light *= 1.0 - (1.0 - sc.shadow_light) * mask
    radiance = (light * refl).astype(np.float32)
    if sc.moire > 0:
        xs, ys = optics.centred_grid(size)
        a = math.radians(sc.moire_angle)
        radiance *= 1.0 + sc.moire * np.sin(2 * math.pi * (xs * math.cos(a) + ys * math.sin(a)) * size
                                            / (sc.moire_period * k))
    if sc.glare > 0:
        xs, ys = optics.centred_grid(size)
        gx, gy, gr = sc.glare_at
        radiance += sc.glare * np.exp(-((xs - gx) ** 2 + (ys - gy) ** 2) / (2 * gr * gr))
    radiance = optics.blur(radiance.astype(np.float32), sc.blur_sigma * k, sc.defocus * k, sc.motion * k,
                           sc.motion_angle)
    radiance *= optics.vignetting(size, sc.vignetting)
    image = optics.sensor(radiance, rng, sc.read_noise, sc.shot_gain, sc.row_noise, sc.salt_pepper)
    return SimFrame(image, sc.label, sc.condition, sc.kind, sc.source, target_mask, inside, targets)


def render_frame(condition: str, rng: np.random.Generator, source, size: int = SENSOR_SIZE) -> SimFrame:
    """One frame of a condition (camera_conditions.CONDITIONS) with digits from `source`
    (digit_sources.DigitSource)."""
    from pico4ml.train.camera_conditions import sample_scene
    return render_scene(sample_scene(condition, rng, source, size), rng)
