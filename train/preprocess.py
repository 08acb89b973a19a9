"""Camera frame -> MNIST-style 28x28: the numpy twin of firmware/pico4ml/core/preprocess.c.

Integer arithmetic only (numpy int64), bit-exact with the C; tests prove it on random
and simulated camera frames (output, status, every stage and candidate). The
algorithm and the reasons for each default are in docs/preprocessing.md. The grid
stages run vectorised over a batch of equally sized frames; the candidate logic,
the polarity vote and the digit's resample run per frame on small arrays, so training
still preprocesses tens of thousands of simulated frames in a minute or two.

Stages (per frame):
  1. ROI crop (0 size = centred square), area downscale onto a WORK x WORK grid
  2. paper estimate: grey closing (max then min filter) of the 2x2 block maxima
  3. ink = relative darkness (paper - q) * 255 / paper, so uneven light cancels
  4. contrast normalisation: lo = median, hi = near-maximum; soft threshold at
     lo + threshold_pct of the range, saturating at lo + saturate_pct
  5. connected components of the ink (isolated specks dropped), each kept or dropped
     with a reason (frame border, too small, too large, a thin line, off-centre); the
     most digit-like one is chosen and the parts near it merged into it
  6. polarity (auto): a vote of the strokes around that digit against their local ground
  7. the digit's box resampled from the full-resolution frame, normalised by the
     digit's own ink levels, into box_size (20) keeping the aspect ratio
  8. placed in 28x28 so that the centre of mass lands on (14, 14)
"""
from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np

# The parameters and their wire format live in common (the protocol's users need them
# without this package); re-exported here next to the preprocessing that reads them.
from pico4ml.common.pp_params import (MAX_DIM, OUT, PARAM_RANGES, PARAMS_SIZE, PARAMS_VERSION,  # noqa: F401
                                      POLARITY_AUTO, POLARITY_DARK_ON_LIGHT, POLARITY_LIGHT_ON_DARK, WORK,
                                      PreprocessParams, default_params, validate_params)

HALF = WORK // 2     # the half-resolution grid of 2x2 blocks
COM_TARGET = 14      # PP_COM_TARGET: MNIST's mean centre of mass (pixel index)
MAX_CANDIDATES = 16  # PP_MAX_CANDIDATES: candidates reported in the stages
MAX_LABELS = 127     # PP_MAX_LABELS: more separate specks than this: cluttered, no digit

OK = 0
NO_DIGIT = 1          # blank output: nothing digit-like (stages["no_digit"] says why)
ERR_ARG = -1          # bad pointer or frame size
ERR_PARAMS = -2       # parameters fail validation
ERR_ROI = -3          # ROI does not overlap the frame

# PP_CAND_*: why a candidate was (not) the digit, in the order of the C enum
CAND_CHOSEN, CAND_MERGED, CAND_BORDER, CAND_SMALL, CAND_LARGE, CAND_THIN, CAND_OFF_CENTRE, CAND_WEAKER = range(8)
CANDIDATE_REASONS = ("chosen", "merged", "border", "small", "large", "thin", "off-centre", "weaker")
# PP_ND_*: why there is no digit
ND_NONE, ND_LOW_CONTRAST, ND_NO_CANDIDATE, ND_FAINT, ND_CLUTTERED, ND_EMPTY = range(6)
NO_DIGIT_REASONS = ("", "low contrast", "no candidate", "faint", "cluttered", "empty")

# fixed constants of the stages (core/preprocess.c, docs/preprocessing.md)
DIGIT_HI_RANK = 8
VOTE_MARGIN_PCT = 25
VOTE_FEATURE_PCT = 33
VOTE_GROUND_R = 4
MERGE_ASPECT_W, MERGE_ASPECT_H = 5, 4
THIN_PX = 2
CLOSE_MIN_PCT = 50
CLOSE_CENTRE_PCT = 20
RETRY_RANGE_PCT = 75


# ---------------------------------------------------------------------------
# geometry and filters (batch-shaped: leading axis = frame)

def roi_rect(width: int, height: int, p: PreprocessParams) -> tuple[int, int, int, int] | None:
    """(x, y, w, h) of the ROI clipped to the frame, or None when it misses the frame."""
    if p.roi_w == 0 or p.roi_h == 0:
        s = min(width, height)
        return (width - s) // 2, (height - s) // 2, s, s
    x0, y0 = max(p.roi_x, 0), max(p.roi_y, 0)
    x1, y1 = min(p.roi_x + p.roi_w, width), min(p.roi_y + p.roi_h, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1 - x0, y1 - y0


def grid_size(rw: int, rh: int) -> tuple[int, int]:
    m = max(rw, rh)
    return max(1, (rw * WORK + m // 2) // m), max(1, (rh * WORK + m // 2) // m)


def _bins(n_src: int, n_dst: int) -> tuple[np.ndarray, np.ndarray]:
    i = np.arange(n_dst, dtype=np.int64)
    lo = i * n_src // n_dst
    hi = np.maximum((i + 1) * n_src // n_dst, lo + 1)
    return lo, hi


def _area_down(frames: np.ndarray, gw: int, gh: int) -> np.ndarray:
    """(B, rh, rw) uint8 -> (B, gh, gw) int64: mean of each integer bin, as
    sum * round(2^24 / count) / 2^24 rounded (the C's division-free mean)."""
    _, rh, rw = frames.shape
    x0, x1 = _bins(rw, gw)
    y0, y1 = _bins(rh, gh)
    # bins are [x0[i], x0[i+1]) (upscaling repeats pixels); uint32 is ample and fast
    s = np.add.reduceat(frames, x0, axis=2, dtype=np.uint32)
    s = np.add.reduceat(s, y0, axis=1, dtype=np.uint32).astype(np.int64)
    cnt = (y1 - y0)[:, None] * (x1 - x0)[None, :]
    recip = ((1 << 24) + cnt // 2) // cnt
    return (s * recip + (1 << 23)) >> 24


def _sliding(a: np.ndarray, r: int, axis: int, op, pad: int) -> np.ndarray:
    """Max/min over a window of 2r+1 along `axis`, clipped at the edges."""
    n = a.shape[axis]
    width = [(0, 0)] * a.ndim
    width[axis] = (r, r)
    padded = np.pad(a, width, constant_values=pad)
    out = a.copy()
    window = [slice(None)] * a.ndim
    for k in range(2 * r + 1):
        if k != r:
            window[axis] = slice(k, k + n)
            op(out, padded[tuple(window)], out=out)
    return out


def _close_or_open(a: np.ndarray, r: int, closing: bool) -> np.ndarray:
    """Grey closing (max then min over (2r+1)^2, clipped) or opening of (B, h, w)."""
    first, second = (np.maximum, np.minimum) if closing else (np.minimum, np.maximum)
    p1, p2 = (0, 255) if closing else (255, 0)
    a = _sliding(_sliding(a, r, 2, first, p1), r, 1, first, p1)
    return _sliding(_sliding(a, r, 2, second, p2), r, 1, second, p2)


def _half_max(q: np.ndarray) -> np.ndarray:
    """(B, gh, gw) -> (B, hh, hw): 2x2 block maxima (a last odd row/column: blocks of 1-2 pixels)."""
    b, gh, gw = q.shape
    hh, hw = (gh + 1) // 2, (gw + 1) // 2
    even = np.zeros((b, 2 * hh, 2 * hw), np.int64)
    even[:, :gh, :gw] = q
    return even.reshape(b, hh, 2, hw, 2).max(axis=(2, 4))


def _min4_index(n: int, nh: int) -> tuple[np.ndarray, np.ndarray]:
    """For work index 0..n-1: its half-grid cell and the neighbour cell on its side."""
    i = np.arange(n)
    own = i // 2
    other = np.where(i % 2 == 1, np.minimum(own + 1, nh - 1), np.maximum(own - 1, 0))
    return own, other


def _paper_at(half: np.ndarray, gh: int, gw: int) -> np.ndarray:
    """(B, hh, hw) paper -> (B, gh, gw): per work pixel the least of its four nearest cells."""
    by, ny = _min4_index(gh, half.shape[1])
    bx, nx = _min4_index(gw, half.shape[2])
    a = np.minimum(half[:, by][:, :, bx], half[:, by][:, :, nx])
    c = np.minimum(half[:, ny][:, :, bx], half[:, ny][:, :, nx])
    return np.minimum(a, c)


RECIP = np.array([0] + [(255 * 256 + v // 2) // v for v in range(1, 256)], dtype=np.int64)


def _relative_ink(paper: np.ndarray, q: np.ndarray) -> np.ndarray:
    """(paper - q) * 255 / paper through the reciprocal table, 0 where q >= paper."""
    return np.where(paper > q, ((paper - q) * RECIP[paper] + 128) >> 8, 0)


def _paper_half_batch(work: np.ndarray, dark_on_light: bool, p: PreprocessParams) -> np.ndarray:
    """(B, hh, hw): the closing of the 2x2 block maxima of q (v, or 255 - v light on dark)."""
    q = work if dark_on_light else 255 - work
    return _close_or_open(_half_max(q), (p.bg_radius + 1) // 2, closing=True)


def _ink_map(work: np.ndarray, dark_on_light: bool, p: PreprocessParams, paper_half: np.ndarray | None = None):
    """(ink (B, gh, gw), paper per work pixel (B, gh, gw) or None) of one reading of every frame."""
    q = work if dark_on_light else 255 - work
    if not p.bg_remove:
        return 255 - q, None
    if paper_half is None:
        paper_half = _paper_half_batch(work, dark_on_light, p)
    paper = _paper_at(paper_half, *work.shape[1:])
    return _relative_ink(paper, q), paper


def _otsu(d: np.ndarray) -> np.ndarray:
    """Per-frame Otsu level t (ink is d > t) with the integer score used by the C."""
    b, n = d.shape
    hist = np.bincount((d + 256 * np.arange(b)[:, None]).ravel(), minlength=256 * b).reshape(b, 256)
    levels = np.arange(256, dtype=np.int64)
    w0 = np.cumsum(hist, axis=1)
    s0 = np.cumsum(hist * levels, axis=1)
    w1 = n - w0
    s1 = s0[:, -1:] - s0
    diff = np.abs(s0 * w1 - s1 * w0) >> 6
    den = w0 * w1
    score = np.where(den > 0, (diff * diff) // np.maximum(den, 1), -1)[:, :255]
    return np.argmax(score, axis=1)        # first maximum, as the C loop (strict >)


def _set_levels(lo: np.ndarray, hi: np.ndarray, p: PreprocessParams, flat: np.ndarray | None = None):
    """(lo, hi, t, sat, low_contrast) from the background and near-maximum (flat: the
    pixels Otsu ranks, per frame, when threshold_pct is 0), as set_levels() in C."""
    rng = hi - lo
    t = lo + rng * p.threshold_pct // 100 if p.threshold_pct > 0 else _otsu(flat)
    sat = lo + rng * p.saturate_pct // 100
    sat = np.where(sat <= t, t + 1, sat)
    return lo, hi, t, sat, rng < p.min_contrast


def _levels(ink: np.ndarray, p: PreprocessParams) -> tuple[np.ndarray, ...]:
    """(lo, hi, t, sat, low_contrast) of each frame's whole grid."""
    b = ink.shape[0]
    flat = ink.reshape(b, -1)
    n = flat.shape[1]
    sv = np.sort(flat, axis=1)
    return _set_levels(sv[:, (n - 1) // 2], sv[:, n - 1 - n // 256], p, flat)


def _lut(t: int, sat: int) -> np.ndarray:
    v = np.arange(256, dtype=np.int64)
    span = sat - t
    return np.where(v > t, np.minimum(((v - t) * 255 + span // 2) // span, 255), 0)


def _band(gh: int, gw: int, e: int) -> np.ndarray:
    y, x = np.arange(gh)[:, None], np.arange(gw)[None, :]
    return (x >= e) & (x < gw - e) & (y >= e) & (y < gh - e)


# ---------------------------------------------------------------------------
# one frame: components, the chosen digit, the polarity vote, the box

@dataclass
class _Reading:
    """One polarity's ink, levels and components (read_frame() in C)."""
    dark_on_light: int
    ink: np.ndarray            # (gh, gw) int64
    paper: np.ndarray | None   # (gh, gw): the paper under each work pixel (bg_remove)
    lo: int
    hi: int
    t: int
    sat: int
    low_contrast: bool
    labels: np.ndarray | None = None   # (gh, gw), 0 = none, 1..n in raster order
    comps: list | None = None          # dicts x0 y0 x1 y1 n mass score reason (index = label - 1)
    chosen: int = 0                     # label, 0 = none
    no_digit: int = ND_NONE
    union: tuple | None = None          # (x0, y0, x1, y1) of chosen + merged


def _components(r: _Reading, p: PreprocessParams) -> None:
    import cv2
    gh, gw = r.ink.shape
    inked = _band(gh, gw, p.border) & (r.ink > r.t)
    if p.speck_min > 1:
        pad = np.pad(inked.astype(np.int64), 1)
        cnt = sum(pad[dy:dy + gh, dx:dx + gw] for dy in range(3) for dx in range(3))
        mask = inked & (cnt >= p.speck_min)
    else:
        mask = inked
    # provisional labels of a raster scan: pixels with no mask pixel W, NW, N or NE
    pm = np.pad(mask, 1)
    starts = mask & ~pm[1:-1, :-2] & ~pm[:-2, :-2] & ~pm[:-2, 1:-1] & ~pm[:-2, 2:]
    if int(starts.sum()) > MAX_LABELS:
        r.no_digit = ND_CLUTTERED
        r.labels = np.zeros((gh, gw), np.int64)
        r.comps = []
        return
    n_cv, lab_cv, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8,
                                                              ltype=cv2.CV_32S)
    flat = lab_cv.ravel()
    uniq, first = np.unique(flat, return_index=True)
    order = uniq[uniq > 0][np.argsort(first[uniq > 0], kind="stable")]   # cv labels in raster order
    remap = np.zeros(n_cv, np.int64)
    remap[order] = np.arange(1, len(order) + 1)
    labels = remap[lab_cv]
    norm = _lut(r.t, r.sat)[r.ink]
    mass = np.bincount(labels.ravel(), weights=norm.ravel(), minlength=len(order) + 1)
    comps = []
    for k, cv_label in enumerate(order, start=1):
        x, y, w, h, n = (int(v) for v in stats[cv_label])
        comps.append(dict(x0=x, y0=y, x1=x + w - 1, y1=y + h - 1, n=n, mass=int(round(mass[k]))))
    r.labels, r.comps = labels, comps


def _choose(r: _Reading, p: PreprocessParams) -> None:
    gh, gw = r.ink.shape
    e, g = p.border, max(gw, gh)
    rr = 2 * p.offcentre_pct * g // 100
    r2 = rr * rr
    best = 0
    for k, c in enumerate(r.comps, start=1):
        w, h = c["x1"] - c["x0"] + 1, c["y1"] - c["y0"] + 1
        length = max(w, h)
        cx2, cy2 = c["x0"] + c["x1"] - (gw - 1), c["y0"] + c["y1"] - (gh - 1)
        d2 = cx2 * cx2 + cy2 * cy2
        c["score"] = c["mass"] * (r2 - d2) if d2 < r2 else 0
        if c["x0"] <= e or c["y0"] <= e or c["x1"] >= gw - 1 - e or c["y1"] >= gh - 1 - e:
            c["reason"] = CAND_BORDER
        elif h * 100 < p.min_size_pct * g:
            c["reason"] = CAND_SMALL
        elif length * 100 > p.max_size_pct * g:
            c["reason"] = CAND_LARGE
        elif length * 100 >= p.thin_pct * g and c["n"] < THIN_PX * length:
            c["reason"] = CAND_THIN
        elif d2 > r2:
            c["reason"] = CAND_OFF_CENTRE
        else:
            c["reason"] = CAND_WEAKER
            if not best or c["score"] > r.comps[best - 1]["score"]:
                best = k
    if not best:    # a digit close to the camera may touch the frame's edge: long, near the middle
        rc = 2 * CLOSE_CENTRE_PCT * g // 100
        for k, c in enumerate(r.comps, start=1):
            length = max(c["x1"] - c["x0"] + 1, c["y1"] - c["y0"] + 1)
            cx2, cy2 = c["x0"] + c["x1"] - (gw - 1), c["y0"] + c["y1"] - (gh - 1)
            if (c["reason"] == CAND_BORDER and length * 100 >= CLOSE_MIN_PCT * g
                    and length * 100 <= p.max_size_pct * g and cx2 * cx2 + cy2 * cy2 <= rc * rc
                    and (not best or c["score"] > r.comps[best - 1]["score"])):
                best = k
    r.chosen = best
    if not best:
        r.no_digit = ND_NO_CANDIDATE
        return
    b = r.comps[best - 1]
    b["reason"] = CAND_CHOSEN
    x0, y0, x1, y1 = b["x0"], b["y0"], b["x1"], b["y1"]
    own = max(x1 - x0 + 1, y1 - y0 + 1)
    changed = True
    while changed:
        changed = False
        for c in r.comps:
            if c["reason"] not in (CAND_SMALL, CAND_OFF_CENTRE, CAND_WEAKER):
                continue
            size = max(x1 - x0 + 1, y1 - y0 + 1)
            gap = max(1, size * p.merge_pct // 100)
            dx = max(c["x0"] - x1, x0 - c["x1"], 0)
            dy = max(c["y0"] - y1, y0 - c["y1"], 0)
            if max(dx, dy) > gap:
                continue
            ux0, uy0, ux1, uy1 = min(x0, c["x0"]), min(y0, c["y0"]), max(x1, c["x1"]), max(y1, c["y1"])
            uw, uh = ux1 - ux0 + 1, uy1 - uy0 + 1
            ulen = max(uw, uh)
            if (ulen * 100 > p.max_size_pct * g or uw * MERGE_ASPECT_H > uh * MERGE_ASPECT_W + 4
                    or ulen * 100 > p.grow_pct * own):
                continue
            c["reason"] = CAND_MERGED
            x0, y0, x1, y1 = ux0, uy0, ux1, uy1
            changed = True
    r.union = (x0, y0, x1, y1)


def _segment(r: _Reading, p: PreprocessParams) -> None:
    r.no_digit, r.chosen, r.union = ND_NONE, 0, None
    if r.low_contrast:
        r.no_digit, r.comps, r.labels = ND_LOW_CONTRAST, [], np.zeros_like(r.ink)
        return
    _components(r, p)
    if r.no_digit == ND_NONE:
        _choose(r, p)


def _read(dark_on_light: int, p: PreprocessParams, ink: np.ndarray, paper, levels) -> _Reading:
    """Stage 5 of one frame in one polarity, from its batch-computed ink and levels: the
    components, and again with the levels of the pixels off the border's and the large
    components when those had set the range (read_frame() in C)."""
    lo, hi, t, sat, low = (int(v) for v in levels)
    r = _Reading(int(dark_on_light), ink, paper, lo, hi, t, sat, bool(low))
    _segment(r, p)
    if r.low_contrast or r.no_digit == ND_CLUTTERED:
        return r
    dropped = np.array([False] + [c["reason"] in (CAND_BORDER, CAND_LARGE) for c in r.comps])
    rest = ink[~dropped[r.labels]]
    n = len(rest)
    hi_rest = max(int(np.sort(rest)[n - 1 - n // 256]), r.lo) if n else r.hi
    if (hi_rest - r.lo) * 100 < (r.hi - r.lo) * RETRY_RANGE_PCT:
        lv = _set_levels(np.array([r.lo]), np.array([hi_rest]), p, rest[None] if n else np.zeros((1, 1), np.int64))
        r.lo, r.hi, r.t, r.sat, r.low_contrast = (int(lv[0][0]), int(lv[1][0]), int(lv[2][0]), int(lv[3][0]),
                                                  bool(lv[4][0]))
        _segment(r, p)
    return r


def _read_batch(idx: np.ndarray, work: np.ndarray, dark_on_light: bool, p: PreprocessParams,
                paper_half: np.ndarray | None) -> dict:
    """Stages 2-5 of the frames idx in one polarity: {frame index: _Reading}."""
    if len(idx) == 0:
        return {}
    ink, paper = _ink_map(work[idx], dark_on_light, p, None if paper_half is None else paper_half[idx])
    levels = _levels(ink, p)
    return {int(i): _read(dark_on_light, p, ink[k], None if paper is None else paper[k], [v[k] for v in levels])
            for k, i in enumerate(idx)}


def _vote_batch(idx: np.ndarray, readings: dict, closing_dl: np.ndarray, closing_ld: np.ndarray,
                work_shape: tuple[int, int]) -> dict:
    """vote_polarity() in C for the frames idx (each reading has a chosen digit): {i: dark on light}."""
    if len(idx) == 0:
        return {}
    gh, gw = work_shape
    c = closing_dl[idx]
    o = 255 - closing_ld[idx]
    n, hh, hw = c.shape
    box = np.array([readings[int(i)].union for i in idx]).reshape(-1, 4)   # x0 y0 x1 y1
    size = np.maximum(box[:, 2] - box[:, 0] + 1, box[:, 3] - box[:, 1] + 1)
    m = np.maximum(2, size * VOTE_MARGIN_PCT // 100)
    x0, x1 = np.maximum(box[:, 0] - m, 0) // 2, np.minimum(box[:, 2] + m, gw - 1) // 2
    y0, y1 = np.maximum(box[:, 1] - m, 0) // 2, np.minimum(box[:, 3] + m, gh - 1) // 2
    yy, xx = np.arange(hh)[None, :, None], np.arange(hw)[None, None, :]
    region = ((yy >= y0[:, None, None]) & (yy <= y1[:, None, None]) &
              (xx >= x0[:, None, None]) & (xx <= x1[:, None, None]))
    d = c - o
    nr = (x1 - x0 + 1) * (y1 - y0 + 1)
    ranked = np.sort(np.where(region, d, 1 << 20).reshape(n, -1), axis=1)
    dmed = ranked[np.arange(n), (nr - 1) // 2][:, None, None]
    dhi = ranked[np.arange(n), nr - 1 - nr // 16][:, None, None]
    stroke = (d - dmed) * 100 > (dhi - dmed) * VOTE_FEATURE_PCT
    mid = (c + o) >> 1
    rg = VOTE_GROUND_R

    def box_sum(a):     # sums over [i-R, i+R] along both grid axes, clipped
        for axis in (2, 1):
            width = [(0, 0)] * 3
            width[axis] = (rg + 1, rg)
            cs = np.cumsum(np.pad(a, width), axis=axis)
            k = a.shape[axis]
            a = np.take(cs, np.arange(k) + 2 * rg + 1, axis=axis) - np.take(cs, np.arange(k), axis=axis)
        return a

    gsum = box_sum(np.where(stroke, 0, mid))
    gcnt = box_sum((~stroke).astype(np.int64))
    # only cells within one cell of the digit's own pixels vote
    near = np.zeros((n, hh + 2, hw + 2), bool)
    for k, i in enumerate(idx):
        r = readings[int(i)]
        sel = np.array([False] + [c["reason"] in (CAND_CHOSEN, CAND_MERGED) for c in r.comps])[r.labels]
        ys, xs = np.nonzero(sel)
        cells = np.zeros((hh + 2, hw + 2), bool)
        cells[ys // 2 + 1, xs // 2 + 1] = True
        near[k] = cells
    near = (near[:, :-2, :-2] | near[:, :-2, 1:-1] | near[:, :-2, 2:] | near[:, 1:-1, :-2] | near[:, 1:-1, 1:-1]
            | near[:, 1:-1, 2:] | near[:, 2:, :-2] | near[:, 2:, 1:-1] | near[:, 2:, 2:])
    voting = region & stroke & (gcnt > 0) & near
    vd = np.where(voting & (mid * gcnt < gsum), d, 0).sum(axis=(1, 2))
    vl = np.where(voting & (mid * gcnt > gsum), d, 0).sum(axis=(1, 2))
    return {int(i): bool(vd[k] >= vl[k]) for k, i in enumerate(idx)}


def _overlaps(n_src: int, n_dst: int) -> np.ndarray:
    """(n_dst, n_src) area weights: output i covers [i*n_src, (i+1)*n_src), source j [j*n_dst, ...)."""
    i = np.arange(n_dst)[:, None]
    j = np.arange(n_src)[None, :]
    return np.maximum(np.minimum((j + 1) * n_dst, (i + 1) * n_src) - np.maximum(j * n_dst, i * n_src), 0)


def _source_index(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray | None, bool]:
    """Frame pixel -> work bin along one axis: (bin of each frame pixel, contiguous). Downscaling
    bins tile the ROI (a box of bins is a slice of pixels); upscaling ones repeat single pixels."""
    contiguous = bool(np.all(lo[1:] == hi[:-1]))
    return (np.repeat(np.arange(len(lo)), hi - lo) if contiguous else None), contiguous


def _box_axis(u0: int, u1: int, bins, src_index) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices, their work bins) of the work range [u0, u1] along one axis, in order."""
    lo, hi = bins
    bin_of, contiguous = src_index
    if contiguous:
        return np.arange(lo[u0], hi[u1]), bin_of[lo[u0]:hi[u1]]
    return (np.concatenate([np.arange(lo[g], hi[g]) for g in range(u0, u1 + 1)]),
            np.concatenate([np.full(hi[g] - lo[g], g) for g in range(u0, u1 + 1)]))


def _digit(frame_roi: np.ndarray, r: _Reading, p: PreprocessParams, bins, src_index) -> dict:
    """Stages 7-8 of one frame whose reading has a chosen digit: levels, box, placement."""
    ux0, uy0, ux1, uy1 = r.union
    sel_labels = np.array([0] + [c["reason"] in (CAND_CHOSEN, CAND_MERGED) for c in r.comps], bool)
    lab = r.labels[uy0:uy1 + 1, ux0:ux1 + 1]
    sel = sel_labels[lab]
    vals = np.sort(r.ink[uy0:uy1 + 1, ux0:ux1 + 1][sel])
    n = len(vals)
    dhi = int(vals[n - 1 - n // DIGIT_HI_RANK])
    rng = dhi - r.lo
    dt = r.lo + rng * p.threshold_pct // 100 if p.threshold_pct > 0 else r.t
    dsat = r.lo + rng * p.saturate_pct // 100
    dsat = dt + 1 if dsat <= dt else dsat
    res = dict(digit_hi=dhi, digit_threshold=dt, digit_saturate=dsat)
    if rng < p.cand_contrast:
        res["no_digit"] = ND_FAINT
        return res
    lut = _lut(dt, dsat)
    other = (lab > 0) & ~sel          # pixels of components that are not the digit
    if p.full_res:
        xs, gxs = _box_axis(ux0, ux1, bins[0], src_index[0])
        ys, gys = _box_axis(uy0, uy1, bins[1], src_index[1])
        q = frame_roi[np.ix_(ys, xs)].astype(np.int64)
        q = q if r.dark_on_light else 255 - q
        ink = _relative_ink(r.paper[np.ix_(gys, gxs)], q) if p.bg_remove else 255 - q
        src = np.where(other[np.ix_(gys - uy0, gxs - ux0)], 0, lut[ink])
    else:
        src = np.where(other, 0, lut[r.ink[uy0:uy1 + 1, ux0:ux1 + 1]])
    fh, fw = src.shape
    m = max(fw, fh)
    ow, oh = max(1, (fw * p.box_size + m // 2) // m), max(1, (fh * p.box_size + m // 2) // m)
    wx = _overlaps(fw, ow).astype(np.float64)
    wy = _overlaps(fh, oh).astype(np.float64)
    acc = np.rint(wy @ src.astype(np.float64) @ wx.T).astype(np.int64)   # exact: < 2**53
    den = fw * fh
    patch = (acc + den // 2) // den
    box = np.zeros((OUT, OUT), np.int64)
    box[:oh, :ow] = patch
    res.update(box=box, box_w=ow, box_h=oh)
    tot = int(patch.sum())
    if tot == 0:
        res["no_digit"] = ND_EMPTY
        return res
    sx = int((patch.sum(axis=0) * np.arange(ow)).sum())
    sy = int((patch.sum(axis=1) * np.arange(oh)).sum())
    if p.center_mass:
        dx = (2 * COM_TARGET * tot - 2 * sx + tot) // (2 * tot)
        dy = (2 * COM_TARGET * tot - 2 * sy + tot) // (2 * tot)
    else:
        dx, dy = (OUT - ow) // 2, (OUT - oh) // 2
    out = np.zeros((OUT, OUT), np.int64)
    ty0, tx0 = max(dy, 0), max(dx, 0)
    ty1, tx1 = min(dy + oh, OUT), min(dx + ow, OUT)
    if ty1 > ty0 and tx1 > tx0:
        out[ty0:ty1, tx0:tx1] = patch[ty0 - dy:ty1 - dy, tx0 - dx:tx1 - dx]
    res.update(out=out, shift=(dx, dy), com16=((16 * (sx + dx * tot) + tot // 2) // tot,
                                               (16 * (sy + dy * tot) + tot // 2) // tot),
               no_digit=ND_NONE)
    return res


def _candidates(r: _Reading) -> tuple[np.ndarray, int, int]:
    """(MAX_CANDIDATES, 7) rows x y w h reason score mass, their count, the chosen index (-1)."""
    comps = r.comps or []
    ref = comps[r.chosen - 1]["score"] if r.chosen else max((c["score"] for c in comps), default=0)
    rank = {CAND_CHOSEN: 0, CAND_MERGED: 1}
    order = sorted(range(len(comps)), key=lambda k: (rank.get(comps[k]["reason"], 2),
                                                     0 if comps[k]["reason"] in rank else -comps[k]["mass"], k))
    rows = np.zeros((MAX_CANDIDATES, 7), np.int64)
    chosen = -1
    for i, k in enumerate(order[:MAX_CANDIDATES]):
        c = comps[k]
        score = 0 if not ref else 255 if c["score"] >= ref else (c["score"] * 255 + ref // 2) // ref
        rows[i] = (c["x0"], c["y0"], c["x1"] - c["x0"] + 1, c["y1"] - c["y0"] + 1, c["reason"], score,
                   (c["mass"] + 8) // 16)
        if c["reason"] == CAND_CHOSEN:
            chosen = i
    return rows, min(len(order), MAX_CANDIDATES), chosen


# ---------------------------------------------------------------------------

def preprocess_batch(frames: np.ndarray, params: PreprocessParams | None = None, *,
                     return_status: bool = False, return_stages: bool = False):
    """Preprocess a (B, H, W) or (H, W) uint8 batch of frames into (B, 28, 28) uint8.

    With return_status, also returns (B,) int status codes (OK, NO_DIGIT, ERR_ROI);
    with return_stages, a dict of per-frame intermediate images and numbers (the
    fields of pp_stages; "cand" holds the candidate rows x, y, w, h, reason, score, mass).
    Raises ValueError for invalid params or a frame that is not 2-D uint8 of size 1..4096.
    """
    p = params or PreprocessParams()
    if validate_params(p) != OK:
        raise ValueError(f"invalid preprocessing parameters: {p}")
    frames = np.asarray(frames)
    if frames.ndim == 2:
        frames = frames[None]
    if frames.ndim != 3 or frames.dtype != np.uint8:
        raise ValueError("frames must be uint8 of shape (H, W) or (B, H, W)")
    b, height, width = frames.shape
    if not (1 <= width <= MAX_DIM and 1 <= height <= MAX_DIM):
        raise ValueError(f"frame size {width}x{height} outside 1..{MAX_DIM}")

    out = np.zeros((b, OUT, OUT), dtype=np.uint8)
    status = np.full(b, OK, dtype=np.int64)
    stages: dict = {}
    roi = roi_rect(width, height, p)
    if roi is None or b == 0:
        status[:] = ERR_ROI if roi is None else OK
        return _result(out, status, stages, return_status, return_stages)
    rx, ry, rw, rh = roi
    gw, gh = grid_size(rw, rh)
    rois = frames[:, ry:ry + rh, rx:rx + rw]
    bins = (_bins(rw, gw), _bins(rh, gh))

    src_index = (_source_index(*bins[0]), _source_index(*bins[1]))

    # 1-5 for every frame in the first reading (dark on light unless fixed otherwise)
    work = _area_down(rois, gw, gh)
    everyone = np.arange(b)
    first = p.polarity != POLARITY_LIGHT_ON_DARK
    closing = {}
    if p.bg_remove or p.polarity == POLARITY_AUTO:
        closing[first] = _paper_half_batch(work, first, p)
    readings = _read_batch(everyone, work, first, p, closing.get(first))
    if p.polarity == POLARITY_AUTO:
        # 6. the vote around each dark-on-light digit needs the light-on-dark paper too
        closing[False] = _paper_half_batch(work, False, p)
        chosen = np.array([i for i in everyone if readings[i].chosen], np.int64)
        votes = _vote_batch(chosen, readings, closing[True], closing[False], (gh, gw))
        flip = np.array([i for i in everyone if not readings[i].chosen or not votes[i]], np.int64)
        light = _read_batch(flip, work, False, p, closing[False])
        # with no dark-on-light digit, a light-on-dark one counts only if its vote agrees
        retry = np.array([i for i in flip if not readings[i].chosen and light[i].chosen], np.int64)
        votes.update(_vote_batch(retry, light, closing[True], closing[False], (gh, gw)))
        for i in flip:
            if readings[i].chosen or (light[i].chosen and not votes[i]):
                readings[i] = light[i]
            elif readings[i].no_digit == ND_NONE:
                readings[i].no_digit = ND_NO_CANDIDATE

    per_frame = []
    for i in everyone:
        r = readings[i]
        d = _digit(rois[i], r, p, bins, src_index) if r.chosen else {}
        if r.chosen and "no_digit" in d:
            r.no_digit = d["no_digit"]
        found = r.no_digit == ND_NONE and "out" in d
        if found:
            out[i] = d["out"].astype(np.uint8)
        status[i] = OK if found else NO_DIGIT
        per_frame.append((r, d, found))

    if return_stages:
        stages = _stages(per_frame, work, p, (rx, ry, rw, rh), gw, gh)
    return _result(out, status, stages, return_status, return_stages)


def _stages(per_frame, work, p, roi, gw, gh) -> dict:
    b = len(per_frame)
    band = _band(gh, gw, p.border)
    st = dict(roi=roi, work_w=gw, work_h=gh, work=work.astype(np.uint8),
              ink=np.zeros((b, gh, gw), np.uint8), norm=np.zeros((b, gh, gw), np.uint8))
    keys = ("dark_on_light", "lo", "hi", "threshold", "saturate", "digit_hi", "digit_threshold",
            "digit_saturate", "no_digit", "n_cand", "chosen", "n_components", "box_w", "box_h")
    for k in keys:
        st[k] = np.zeros(b, np.int64)
    st["bbox"] = np.zeros((b, 4), np.int64)
    st["shift"] = np.zeros((b, 2), np.int64)
    st["com16"] = np.zeros((b, 2), np.int64)
    st["box"] = np.zeros((b, OUT, OUT), np.uint8)
    st["cand"] = np.zeros((b, MAX_CANDIDATES, 7), np.int64)
    for i, (r, d, found) in enumerate(per_frame):
        st["ink"][i] = r.ink
        if not r.low_contrast:
            st["norm"][i] = np.where(band, _lut(r.t, r.sat)[r.ink], 0)
        st["dark_on_light"][i], st["lo"][i], st["hi"][i] = r.dark_on_light, r.lo, r.hi
        st["threshold"][i], st["saturate"][i], st["no_digit"][i] = r.t, r.sat, r.no_digit
        st["cand"][i], st["n_cand"][i], st["chosen"][i] = _candidates(r)
        st["n_components"][i] = len(r.comps or [])
        if r.chosen:
            x0, y0, x1, y1 = r.union
            st["bbox"][i] = (x0, y0, x1 - x0 + 1, y1 - y0 + 1)
            st["digit_hi"][i], st["digit_threshold"][i] = d["digit_hi"], d["digit_threshold"]
            st["digit_saturate"][i] = d["digit_saturate"]
        if found:
            st["box"][i] = d["box"].astype(np.uint8)
            st["box_w"][i], st["box_h"][i] = d["box_w"], d["box_h"]
            st["shift"][i], st["com16"][i] = d["shift"], d["com16"]
    return st


def _result(out, status, stages, return_status, return_stages):
    res = [out]
    if return_status:
        res.append(status)
    if return_stages:
        res.append(stages)
    return res[0] if len(res) == 1 else tuple(res)


def candidate_list(rows: np.ndarray, n: int) -> list[dict]:
    """The candidate rows of one frame's stages as dicts with the reason's name."""
    return [dict(x=int(r[0]), y=int(r[1]), w=int(r[2]), h=int(r[3]), reason=int(r[4]),
                 reason_name=CANDIDATE_REASONS[int(r[4])], score=int(r[5]), mass=int(r[6])) for r in rows[:n]]


def preprocess(frame: np.ndarray, params: PreprocessParams | None = None, return_stages: bool = False):
    """One (H, W) uint8 frame -> (28, 28) uint8.

    With return_stages, returns (out, stages): stages holds the intermediate images and
    numbers of this frame (as pp_stages in C), "status" (OK, NO_DIGIT or ERR_ROI) and
    "candidates" (a list of dicts: x y w h reason reason_name score mass)."""
    if np.asarray(frame).ndim != 2:
        raise ValueError("frame must be a 2-D uint8 array")
    if return_stages:
        out, status, stages = preprocess_batch(frame, params, return_status=True, return_stages=True)
        one = {k: (v[0] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == 1 else v)
               for k, v in stages.items()}
        one["status"] = int(status[0])
        if "cand" in one:
            one["candidates"] = candidate_list(one["cand"], int(one["n_cand"]))
        return out[0], one
    return preprocess_batch(frame, params)[0]


def preprocess_many(frames: np.ndarray, params: PreprocessParams | None = None, chunk: int = 512,
                    return_status: bool = False):
    """preprocess_batch in chunks, so 60k frames stay within a few hundred MB."""
    frames = np.asarray(frames)
    outs, stats = [], []
    for i in range(0, len(frames), chunk):
        o, s = preprocess_batch(frames[i:i + chunk], params, return_status=True)
        outs.append(o)
        stats.append(s)
    out = np.concatenate(outs) if outs else np.zeros((0, OUT, OUT), np.uint8)
    st = np.concatenate(stats) if stats else np.zeros(0, np.int64)
    return (out, st) if return_status else out


# ---------------------------------------------------------------------------
# ctypes binding to the C (firmware/pico4ml/core/preprocess.c), for tests and training

class CCandidate(ctypes.Structure):
    """Mirror of pp_candidate (the CANDIDATES wire entry)."""
    _fields_ = [("x", ctypes.c_uint8), ("y", ctypes.c_uint8), ("w", ctypes.c_uint8), ("h", ctypes.c_uint8),
                ("reason", ctypes.c_uint8), ("score", ctypes.c_uint8), ("mass", ctypes.c_uint16)]


class CStages(ctypes.Structure):
    """Mirror of pp_stages."""
    _fields_ = [
        ("work", ctypes.c_uint8 * (WORK * WORK)), ("ink", ctypes.c_uint8 * (WORK * WORK)),
        ("norm", ctypes.c_uint8 * (WORK * WORK)), ("box", ctypes.c_uint8 * (OUT * OUT)),
        ("roi_x", ctypes.c_uint16), ("roi_y", ctypes.c_uint16),
        ("roi_w", ctypes.c_uint16), ("roi_h", ctypes.c_uint16),
        ("work_w", ctypes.c_uint8), ("work_h", ctypes.c_uint8), ("dark_on_light", ctypes.c_uint8),
        ("lo", ctypes.c_uint8), ("hi", ctypes.c_uint8), ("threshold", ctypes.c_uint8),
        ("saturate", ctypes.c_uint16),
        ("bbox_x", ctypes.c_int16), ("bbox_y", ctypes.c_int16),
        ("bbox_w", ctypes.c_int16), ("bbox_h", ctypes.c_int16),
        ("box_w", ctypes.c_uint8), ("box_h", ctypes.c_uint8),
        ("shift_x", ctypes.c_int16), ("shift_y", ctypes.c_int16),
        ("com_x16", ctypes.c_int16), ("com_y16", ctypes.c_int16),
        ("digit_hi", ctypes.c_uint8), ("digit_threshold", ctypes.c_uint8), ("digit_saturate", ctypes.c_uint16),
        ("no_digit", ctypes.c_uint8), ("n_cand", ctypes.c_uint8), ("chosen", ctypes.c_int8),
        ("n_components", ctypes.c_uint8), ("cand", CCandidate * MAX_CANDIDATES),
    ]


_clib = None


def c_library(flags: list[str] | None = None) -> ctypes.CDLL:
    """The C preprocessing as a shared library (built once by cbuild, then cached)."""
    global _clib
    if _clib is None or flags is not None:
        from pico4ml.common.cbuild import build
        from pico4ml.common.paths import CORE_DIR
        lib = ctypes.CDLL(str(build("pico4ml_preprocess", [CORE_DIR / "preprocess.c"], shared=True,
                                    flags=flags)))
        lib.pp_run.restype = ctypes.c_int
        lib.pp_run.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                               ctypes.c_char_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.pp_validate_params.argtypes = [ctypes.c_char_p]
        lib.pp_default_params.argtypes = [ctypes.c_char_p]
        lib.pp_params_unpack.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p]
        if flags is not None:
            return lib
        _clib = lib
    return _clib


def c_preprocess(frame: np.ndarray, params: PreprocessParams | bytes | None = None, *,
                 stride: int | None = None, return_stages: bool = False):
    """Run the C pp_run on one frame. Returns (out28, status[, CStages]).

    `frame` is (H, W) uint8; a non-contiguous row stride (a view into a wider buffer)
    is passed through as the C stride. `params` may be raw bytes (even invalid ones).
    """
    lib = c_library()
    frame = np.asarray(frame)
    if frame.ndim != 2 or frame.dtype != np.uint8 or frame.strides[1] != 1:
        raise ValueError("frame must be a 2-D uint8 array with contiguous rows")
    height, width = frame.shape
    stride = frame.strides[0] if stride is None else stride
    if params is None:
        pbuf = None
    else:
        raw = params if isinstance(params, (bytes, bytearray)) else params.to_bytes()
        pbuf = ctypes.create_string_buffer(bytes(raw), max(len(raw), PARAMS_SIZE))
    out = np.zeros((OUT, OUT), np.uint8)
    st = CStages()
    status = lib.pp_run(frame.ctypes.data if frame.size else None, width, height, stride, pbuf,
                        out.ctypes.data, ctypes.addressof(st) if return_stages else None)
    return (out, status, st) if return_stages else (out, status)


def c_default_params() -> PreprocessParams:
    buf = ctypes.create_string_buffer(PARAMS_SIZE)
    c_library().pp_default_params(buf)
    return PreprocessParams.from_bytes(buf.raw)
