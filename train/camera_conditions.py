"""The conditions of issue 8's table, as random scenes (camera_sim.Scene).

Every condition starts from the clean sheet (the ranges the committed model was
trained for: digit 25-60 % of the frame high, up to 10 % off centre, about +-12
degrees, paper grey 110-235, a light gradient, vignetting, mild blur and noise) and
changes what it is about. Pixel sizes are at the sensor's 324x324.
"""
from __future__ import annotations

import math

import numpy as np

from pico4ml.train.camera_scene import Placement, homography, ink_inside
from pico4ml.train.camera_sim import SENSOR_SIZE, Scene

# name -> what the frames show (the bench's table rows)
CONDITIONS: dict[str, str] = {
    "clean": "clean sheet, as in the training ranges",
    "far": "digit far away: 12-22 % of the frame high, up to 20 % off centre",
    "close": "digit close: 62-85 % of the frame high",
    "tilted": "tilted paper: rotation up to +-30 deg, strong perspective",
    "ruled": "ruled notebook paper with a margin line",
    "squared": "squared paper",
    "shadow": "a hand's (or a straight) hard shadow across part of the frame",
    "dim": "dim light: paper at grey 35-75, strong noise",
    "blur": "heavy defocus and motion blur",
    "pencil": "pencil: ink contrast 0.18-0.35, grainy",
    "neighbours": "neighbouring digits cut by the frame edge",
    "paper_edge": "the paper's edge inside the frame (dark desk at a side or corner)",
    "dark_ground": "light strokes on a dark ground (phone screen, chalk, white marker on black)",
    "empty": "nothing to read: blank or lined paper, the paper's edge, a speck, parts of digits at the edges",
}
DIGIT_CONDITIONS = tuple(c for c in CONDITIONS if c != "empty")
EMPTY_KINDS = ("blank", "lined", "paper_edge", "speck", "fragments")
DARK_KINDS = ("screen", "chalk", "marker")


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _target(rng, drawn, height, offset) -> Placement:
    return Placement(drawn.coverage, drawn.label, _u(rng, -offset, offset), _u(rng, -offset, offset), height,
                     angle=_u(rng, -5, 5), aspect=_u(rng, 0.88, 1.12), shear=_u(rng, -0.1, 0.1),
                     thickness=int(rng.integers(-1, 3)))


def base_scene(rng: np.random.Generator, source, size: int = SENSOR_SIZE, with_digit: bool = True) -> Scene:
    """A clean sheet with one digit (the "clean" condition)."""
    sc = Scene(size=size, condition="clean")
    sc.paper_angle = _u(rng, -8, 8)
    sc.tilt, sc.tilt_axis, sc.focal = _u(rng, 0, 12), _u(rng, 0, 360), _u(rng, 0.8, 1.3)
    sc.paper_grey = _u(rng, 110, 235)
    sc.gradient, sc.gradient_dir = _u(rng, 0, 0.45), _u(rng, 0, 360)
    sc.vignetting = _u(rng, 0, 0.45)
    sc.ink_contrast = _u(rng, 0.40, 0.88)
    sc.fibre = _u(rng, 0, 0.02)
    sc.blur_sigma = _u(rng, 0.6, 2.8)
    sc.read_noise, sc.shot_gain = _u(rng, 2, 12), _u(rng, 0, 0.3)
    sc.salt_pepper = _u(rng, 0, 0.003)
    if with_digit:
        d = source.draw(rng)
        p = _target(rng, d, _u(rng, 0.25, 0.60), 0.10)
        p.angle += sc.paper_angle
        sc.glyphs.append(p)
        sc.label, sc.source, sc.source_kind = d.label, d.name, d.kind
    return sc


def _target_glyph(sc: Scene) -> Placement:
    return next(p for p in sc.glyphs if p.target)


def _far(sc, rng, source):
    p = _target_glyph(sc)
    p.height = _u(rng, 0.12, 0.22)
    p.cx, p.cy = _u(rng, -0.2, 0.2), _u(rng, -0.2, 0.2)


def _close(sc, rng, source):
    p = _target_glyph(sc)
    p.height = _u(rng, 0.62, 0.85)
    room = max(0.0, (1.0 - 1.08 * p.height) / 2 - 0.01)        # keep the whole digit in view
    p.cx, p.cy = _u(rng, -room, room), _u(rng, -room, room)
    sc.paper_angle = _u(rng, -4, 4)
    p.angle = sc.paper_angle + _u(rng, -3, 3)
    sc.tilt = _u(rng, 0, 6)
    p.thickness = min(p.thickness, 1)


def _tilted(sc, rng, source):
    p = _target_glyph(sc)
    sc.paper_angle = _u(rng, -30, 30)
    p.angle = float(np.clip(sc.paper_angle + _u(rng, -4, 4), -30, 30))
    sc.tilt, sc.focal = _u(rng, 20, 40), _u(rng, 0.75, 1.1)
    p.height = _u(rng, 0.25, 0.55)


def _lined(sc: Scene, rng, kind: str, digit_h: float, digit_bottom: float, digit_left: float) -> None:
    """Ruled (with a margin line most of the time) or squared paper around a digit."""
    sc.ruling = kind
    if kind == "ruled":
        sc.pitch = digit_h * _u(rng, 0.9, 1.5)
        sc.line_phase = digit_bottom + _u(rng, -0.08, 0.08) * sc.pitch
        sc.line_width, sc.line_contrast = _u(rng, 2.0, 4.5), _u(rng, 0.12, 0.35)
        if rng.random() < 0.75:
            sc.margin = digit_left - _u(rng, 0.06, 0.3)
            sc.margin_width, sc.margin_contrast = _u(rng, 2.5, 5.0), _u(rng, 0.2, 0.45)
            sc.margin_double = _u(rng, 4, 8) if rng.random() < 0.3 else 0.0
    else:
        sc.pitch = digit_h * _u(rng, 0.3, 0.75)
        sc.line_phase = _u(rng, 0, 1) * sc.pitch
        sc.line_width, sc.line_contrast = _u(rng, 2.0, 3.6), _u(rng, 0.12, 0.3)


def _paper_axes(sc: Scene, p: Placement) -> tuple[float, float]:
    """The digit's centre in the sheet's own axes (along, across the lines)."""
    a = math.radians(sc.paper_angle)
    return p.cx * math.cos(a) + p.cy * math.sin(a), -p.cx * math.sin(a) + p.cy * math.cos(a)


def _ruled(sc, rng, source, kind="ruled"):
    p = _target_glyph(sc)
    sc.paper_angle = _u(rng, -10, 10)
    p.angle = sc.paper_angle + _u(rng, -5, 5)
    p.height = _u(rng, 0.25, 0.5)
    s, t = _paper_axes(sc, p)
    _lined(sc, rng, kind, p.height, t + p.height / 2, s - 0.4 * p.height)


def _squared(sc, rng, source):
    _ruled(sc, rng, source, "squared")


def hand_shadow(rng: np.random.Generator) -> list[tuple]:
    """An arm entering from a side of the frame, ending in a palm with fingers."""
    side = _u(rng, 0, 2 * math.pi)
    dx, dy = math.cos(side), math.sin(side)          # from the edge towards the inside
    reach = _u(rng, 0.25, 0.8)                      # how far the palm comes in, frame sides
    start = (-dx * 0.9, -dy * 0.9)
    palm = (start[0] + dx * (0.4 + reach), start[1] + dy * (0.4 + reach))
    wa, px, py = _u(rng, 0.10, 0.2), -dy, dx        # arm half-width, perpendicular
    arm = [(start[0] + px * wa, start[1] + py * wa), (palm[0] + px * wa, palm[1] + py * wa),
           (palm[0] - px * wa, palm[1] - py * wa), (start[0] - px * wa, start[1] - py * wa)]
    rp = _u(rng, 0.12, 0.22)
    shapes = [("poly", arm), ("ellipse", palm[0], palm[1], rp * 1.15, rp, math.degrees(side))]
    n_fingers = int(rng.integers(0, 5))
    for i in range(n_fingers):
        off = (i - (n_fingers - 1) / 2) * rp * 0.45
        ln = _u(rng, 0.12, 0.25)
        fx, fy = palm[0] + dx * (rp + ln / 2) * 0.9 + px * off, palm[1] + dy * (rp + ln / 2) * 0.9 + py * off
        shapes.append(("ellipse", fx, fy, ln / 2, _u(rng, 0.025, 0.04),
                       math.degrees(side) + _u(rng, -15, 15)))
    return shapes


def straight_shadow(rng: np.random.Generator) -> list[tuple]:
    """A straight-edged shadow (the phone, the board, an arm far away) over a part of the frame."""
    a = _u(rng, 0, 2 * math.pi)
    nx, ny = math.cos(a), math.sin(a)
    d = _u(rng, -0.15, 0.35)                         # the shadow is where n.p > d
    tx, ty = -ny, nx
    return [("poly", [(nx * d + tx * 2, ny * d + ty * 2), (nx * d - tx * 2, ny * d - ty * 2),
                      (nx * 2 - tx * 2, ny * 2 - ty * 2), (nx * 2 + tx * 2, ny * 2 + ty * 2)])]


def _add_shadow(sc: Scene, rng) -> None:
    sc.shadow = hand_shadow(rng) if rng.random() < 0.65 else straight_shadow(rng)
    sc.shadow_light = _u(rng, 0.3, 0.7)
    sc.penumbra = _u(rng, 1.0, 6.0)


def _shadow(sc, rng, source):
    _add_shadow(sc, rng)


def _dim(sc, rng, source):
    sc.paper_grey = _u(rng, 35, 75)
    sc.read_noise, sc.shot_gain, sc.row_noise = _u(rng, 4, 11), _u(rng, 0.2, 0.8), _u(rng, 0.3, 1.5)
    sc.vignetting = _u(rng, 0.1, 0.5)


def _blur(sc, rng, source):
    p = _target_glyph(sc)
    digit_px = p.height * SENSOR_SIZE
    mode = rng.random()
    radius = min(_u(rng, 4, 10), 0.09 * digit_px)
    length = min(_u(rng, 8, 24), 0.22 * digit_px)
    sc.motion_angle = _u(rng, 0, 180)
    if mode < 0.45:
        sc.defocus = radius
    elif mode < 0.8:
        sc.motion = length
    else:
        sc.defocus, sc.motion = 0.6 * radius, 0.6 * length


def _pencil(sc, rng, source):
    p = _target_glyph(sc)
    sc.ink_contrast = _u(rng, 0.18, 0.35)
    sc.grain = _u(rng, 0.3, 0.7)
    p.thickness = int(rng.integers(-1, 2))


CUT = (0.05, 0.8)     # share of a cut digit's ink inside the frame: visible, never complete


def _cut_at_edge(sc: Scene, rng, p: Placement, axis: int, sign: int, along: float | None = None) -> Placement:
    """Move p across the frame edge (axis 0: x, 1: y; sign -1/+1: which edge) until
    CUT[0] < its ink inside the frame < CUT[1]; `along` keeps the other coordinate."""
    h = homography(sc.size, sc.tilt, sc.tilt_axis, sc.focal)
    for attempt in range(40):
        # first random places around the edge, then stepping outwards from the last one
        pos = sign * (0.5 + (_u(rng, -0.2, 0.15) if attempt < 12 else 0.02 * (attempt - 12)) * p.height)
        if axis == 0:
            p.cx = pos
            if along is not None:
                p.cy = along
        else:
            p.cy = pos
            if along is not None:
                p.cx = along
        if CUT[0] < ink_inside(p, h, sc.size) < CUT[1]:
            break
    return p


def _fragment(sc: Scene, rng, drawn) -> Placement:
    """A digit of a neighbouring line or column, cut by a frame edge."""
    p = Placement(drawn.coverage, drawn.label, 0.0, 0.0, _u(rng, 0.25, 0.55), angle=_u(rng, -12, 12),
                  aspect=_u(rng, 0.88, 1.12), shear=_u(rng, -0.1, 0.1), thickness=int(rng.integers(-1, 3)),
                  target=False)
    side = int(rng.integers(4))
    return _cut_at_edge(sc, rng, p, side // 2, -1 if side % 2 == 0 else 1, _u(rng, -0.4, 0.4))


def _neighbours(sc, rng, source):
    """A row of digits: the target near the centre, its neighbours cut by the frame's edges."""
    p = _target_glyph(sc)
    p.height = _u(rng, 0.25, 0.42)
    p.cx, p.cy = _u(rng, -0.06, 0.06), _u(rng, -0.06, 0.06)
    sc.paper_angle = _u(rng, -8, 8)
    p.angle = sc.paper_angle + _u(rng, -4, 4)
    sc.tilt = _u(rng, 0, 8)
    slope = math.tan(math.radians(sc.paper_angle))

    def neighbour() -> Placement:
        d = source.draw(rng, sc.source_kind)              # the same kind of writing as the target
        return Placement(d.coverage, d.label, 0.0, 0.0, p.height * _u(rng, 0.9, 1.1),
                         angle=sc.paper_angle + _u(rng, -5, 5), aspect=_u(rng, 0.88, 1.12),
                         shear=_u(rng, -0.1, 0.1), thickness=p.thickness, target=False)

    for sign in (-1, 1):             # left and right on the same line, cut by the side edges
        q = _cut_at_edge(sc, rng, neighbour(), 0, sign)
        q.cy = p.cy + (q.cx - p.cx) * slope
        sc.glyphs.append(_cut_at_edge(sc, rng, q, 0, sign, q.cy))
    if rng.random() < 0.4:           # the line above or below, cut by the top or bottom edge
        sign = -1 if rng.random() < 0.5 else 1
        for shift in (-0.6, 0.6):
            sc.glyphs.append(_cut_at_edge(sc, rng, neighbour(), 1, sign, p.cx + shift * p.height))


def _edge_line(rng, p: Placement | None, corner: bool) -> list[tuple[float, float, float]]:
    """Half-planes of desk (n, d in frame sides) that keep clear of the digit."""
    for _ in range(50):
        a = _u(rng, 0, 2 * math.pi)
        ns = [(math.cos(a), math.sin(a))]
        if corner:
            b = a + math.pi / 2 + math.radians(_u(rng, -12, 12))
            ns.append((math.cos(b), math.sin(b)))
        edges = []
        for nx, ny in ns:
            far = 0.5 * (abs(nx) + abs(ny))                  # the farthest frame corner along n
            clear = 0.0
            if p is not None:
                clear = p.cx * nx + p.cy * ny + 0.5 * p.height * (0.75 * abs(nx) + abs(ny)) + 0.04
            lo, hi = max(clear, 0.05), far - 0.12
            if lo >= hi:
                break
            edges.append((nx, ny, _u(rng, lo, hi)))
        if len(edges) == len(ns):
            return edges
    return [(1.0, 0.0, 0.42)]


def _desk(sc: Scene, rng, p: Placement | None) -> None:
    corner = rng.random() < 0.5
    sc.edges = _edge_line(rng, p, corner)
    sc.desk, sc.desk_texture = _u(rng, 0.03, 0.4), _u(rng, 0.0, 0.3)
    sc.edge_shadow = _u(rng, 1.5, 6) if rng.random() < 0.5 else 0.0
    sc.kind = "corner" if corner else "side"


def _paper_edge(sc, rng, source):
    p = _target_glyph(sc)
    p.height = _u(rng, 0.22, 0.45)
    p.cx, p.cy = _u(rng, -0.08, 0.08), _u(rng, -0.08, 0.08)
    sc.tilt = _u(rng, 0, 8)
    _desk(sc, rng, p)


def _dark_ground(sc, rng, source):
    p = _target_glyph(sc)
    kind = DARK_KINDS[int(rng.integers(len(DARK_KINDS)))]
    sc.kind, sc.light_ink = kind, True
    if kind == "screen":                  # a lit digit on a phone: emissive, little gradient
        sc.paper_grey = _u(rng, 150, 250)
        sc.ground_refl, sc.ink_refl = _u(rng, 0.02, 0.2), _u(rng, 0.8, 1.0)
        sc.gradient = _u(rng, 0, 0.15)
        sc.glare = _u(rng, 0, 40)
        sc.glare_at = (_u(rng, -0.4, 0.4), _u(rng, -0.4, 0.4), _u(rng, 0.1, 0.4))
        sc.moire, sc.moire_period, sc.moire_angle = _u(rng, 0, 0.08), _u(rng, 2.2, 5.0), _u(rng, 0, 180)
        sc.fibre = 0.0
    elif kind == "chalk":                 # a blackboard: grainy, broken strokes, chalk dust
        sc.ground_refl, sc.ink_refl = _u(rng, 0.12, 0.35), _u(rng, 0.7, 0.95)
        sc.chalk, sc.dust = _u(rng, 0.2, 0.6), _u(rng, 0.0, 0.08)
        p.thickness = int(rng.integers(0, 3))
    else:                                 # white marker / gel pen on black paper
        sc.ground_refl, sc.ink_refl = _u(rng, 0.05, 0.25), _u(rng, 0.75, 1.0)
        p.thickness = int(rng.integers(0, 3))


def _empty(sc, rng, source):
    kind = EMPTY_KINDS[int(rng.integers(len(EMPTY_KINDS)))]
    sc.kind, sc.label, sc.source = kind, -1, ""
    sc.glyphs = []
    h = _u(rng, 0.25, 0.5)
    if kind == "blank" and rng.random() < 0.15:       # a dark screen or board with nothing on it
        sc.ground_refl = _u(rng, 0.03, 0.3)
    elif kind == "lined":
        _lined(sc, rng, "ruled" if rng.random() < 0.6 else "squared", h, _u(rng, -0.3, 0.3), _u(rng, -0.2, 0.3))
    elif kind == "paper_edge":
        _desk(sc, rng, None)
        sc.kind = "paper_edge"
    elif kind == "speck":
        for _ in range(int(rng.integers(1, 4))):
            sc.specks.append((_u(rng, -0.35, 0.35), _u(rng, -0.35, 0.35), _u(rng, 0.003, 0.015), _u(rng, 0.3, 0.9)))
    elif kind == "fragments":
        for _ in range(int(rng.integers(1, 4))):
            sc.glyphs.append(_fragment(sc, rng, source.draw(rng)))
    if rng.random() < 0.2:
        _add_shadow(sc, rng)


_CHANGES = {"clean": None, "far": _far, "close": _close, "tilted": _tilted, "ruled": _ruled,
            "squared": _squared, "shadow": _shadow, "dim": _dim, "blur": _blur, "pencil": _pencil,
            "neighbours": _neighbours, "paper_edge": _paper_edge, "dark_ground": _dark_ground, "empty": _empty}


def sample_scene(condition: str, rng: np.random.Generator, source, size: int = SENSOR_SIZE) -> Scene:
    """A random scene of one condition (CONDITIONS) with digits drawn from `source`."""
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; one of {', '.join(CONDITIONS)}")
    sc = base_scene(rng, source, size, with_digit=condition != "empty")
    sc.condition = condition
    change = _CHANGES[condition]
    if change is not None:
        change(sc, rng, source)
    return sc
