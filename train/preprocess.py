"""Camera frame -> MNIST-style 28x28: the numpy twin of firmware/pico4ml/core/preprocess.c.

Integer arithmetic only (numpy int64), bit-exact with the C; tests prove it on random
and simulated camera frames. The algorithm and the reasons for each default are in
docs/preprocessing.md. Everything is vectorised over a batch of equally sized frames,
so training can preprocess tens of thousands of simulated frames in seconds.

Stages (per frame):
  1. ROI crop (0 size = centred square), area downscale onto a WORK x WORK grid
  2. polarity: make the paper bright (invert light-on-dark frames; or auto)
  3. background removal: paper estimate by a grey closing (max then min filter),
     ink = relative darkness (paper - v) * 255 / paper, so uneven light cancels
  4. contrast normalisation: lo = median, hi = near-maximum; soft threshold at
     lo + threshold_pct of the range, saturating at lo + saturate_pct
  5. bounding box: drop isolated specks (3x3 neighbour count), then the row/column run
     of ink with the most mass, allowing gaps of max_gap empty lines
  6. area resample of the box into box_size (20) keeping the aspect ratio
  7. place in 28x28 so that the centre of mass lands on (14, 14)
"""
from __future__ import annotations

import ctypes
import struct
from dataclasses import astuple, dataclass

import numpy as np

WORK = 64            # PP_WORK: side of the work grid
OUT = 28             # PP_OUT: side of the output image
MAX_DIM = 4096       # PP_MAX_DIM: largest accepted frame width/height
PARAMS_VERSION = 1   # PP_PARAMS_VERSION
COM_TARGET = 14      # PP_COM_TARGET: MNIST's mean centre of mass (pixel index)

POLARITY_DARK_ON_LIGHT = 0
POLARITY_LIGHT_ON_DARK = 1
POLARITY_AUTO = 2

OK = 0
NO_DIGIT = 1          # blank output: nothing that looks like ink
ERR_ARG = -1          # bad pointer or frame size
ERR_PARAMS = -2       # parameters fail validation
ERR_ROI = -3          # ROI does not overlap the frame

_STRUCT = struct.Struct("<HHhhHH12B")   # the packed little-endian pp_params layout
PARAMS_SIZE = _STRUCT.size              # 24


@dataclass
class PreprocessParams:
    """Mirror of pp_params in core/preprocess.h (same names, same defaults, same order)."""
    version: int = PARAMS_VERSION
    size: int = PARAMS_SIZE
    roi_x: int = 0
    roi_y: int = 0
    roi_w: int = 0            # 0 (or roi_h 0): centred square of the whole frame
    roi_h: int = 0
    polarity: int = POLARITY_DARK_ON_LIGHT
    bg_remove: int = 1
    bg_radius: int = 8        # closing window radius on the work grid (> half a stroke)
    threshold_pct: int = 35   # 0 = Otsu
    saturate_pct: int = 80    # ink at this share of the range becomes 255
    min_contrast: int = 24    # below this ink range: no digit
    speck_min: int = 2        # 3x3 ink count a pixel needs to count for the box (0/1 = off)
    max_gap: int = 3          # empty rows/columns allowed inside a digit
    border: int = 1           # work-grid pixels ignored at the edges
    box_size: int = 20        # MNIST: digit fitted into 20x20
    center_mass: int = 1      # 1: centre of mass at (14, 14); 0: centre the box
    reserved: int = 0

    def to_bytes(self) -> bytes:
        return _STRUCT.pack(*astuple(self))

    @classmethod
    def from_bytes(cls, data: bytes) -> "PreprocessParams":
        if len(data) != PARAMS_SIZE:
            raise ValueError(f"pp_params is {PARAMS_SIZE} bytes, got {len(data)}")
        return cls(*_STRUCT.unpack(data))

    def validate(self) -> int:
        """0 if usable, else ERR_PARAMS (same rules as pp_validate_params)."""
        return validate_params(self)


def validate_params(p: PreprocessParams) -> int:
    ok = (p.version == PARAMS_VERSION and p.size == PARAMS_SIZE
          and -32768 <= p.roi_x <= 32767 and -32768 <= p.roi_y <= 32767
          and 0 <= p.roi_w <= MAX_DIM and 0 <= p.roi_h <= MAX_DIM
          and p.polarity in (0, 1, 2) and p.bg_remove in (0, 1)
          and 1 <= p.bg_radius <= 15
          and 0 <= p.threshold_pct <= 99 and 1 <= p.saturate_pct <= 100
          and 0 <= p.min_contrast <= 255 and 0 <= p.speck_min <= 9
          and 0 <= p.max_gap <= WORK and 0 <= p.border <= WORK // 4
          and 4 <= p.box_size <= OUT and p.center_mass in (0, 1) and p.reserved == 0)
    return OK if ok else ERR_PARAMS


def default_params() -> PreprocessParams:
    return PreprocessParams()


# ---------------------------------------------------------------------------
# geometry helpers (shared by the batch code)

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
    """(B, rh, rw) uint8 -> (B, gh, gw) int64: mean of each integer bin, rounded."""
    _, rh, rw = frames.shape
    x0, x1 = _bins(rw, gw)
    y0, y1 = _bins(rh, gh)
    # bins are [x0[i], x0[i+1]); uint32 is ample (<= 4096 * 64 * 255) and much faster than int64
    s = np.add.reduceat(frames, x0, axis=2, dtype=np.uint32)
    s = np.add.reduceat(s, y0, axis=1, dtype=np.uint32).astype(np.int64)
    cnt = (y1 - y0)[:, None] * (x1 - x0)[None, :]
    return (s + cnt // 2) // cnt


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


def _kth(sorted_vals: np.ndarray, k: int) -> np.ndarray:
    return sorted_vals[:, k]


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


def _pick_run(profile: np.ndarray, gap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row of (B, L) profile: the run of non-zero entries (gaps <= gap merged)
    with the largest sum (first on ties). Returns (start, end inclusive, found)."""
    b, n = profile.shape
    idx = np.arange(n)
    nz = profile > 0
    last = np.maximum.accumulate(np.where(nz, idx, -10 * n - 10), axis=1)
    prev = np.concatenate([np.full((b, 1), -10 * n - 10), last[:, :-1]], axis=1)
    start = nz & (idx - prev - 1 > gap)
    run_id = np.cumsum(start, axis=1) * nz               # 0 = not in a run
    mass = np.zeros((b, n + 1), dtype=np.int64)
    np.add.at(mass, (np.repeat(np.arange(b), n), run_id.ravel()), np.where(nz, profile, 0).ravel())
    mass[:, 0] = -1
    best = np.argmax(mass, axis=1)
    found = nz.any(axis=1)
    sel = (run_id == best[:, None]) & nz
    first = np.argmax(sel, axis=1)
    last_sel = n - 1 - np.argmax(sel[:, ::-1], axis=1)
    return first, last_sel, found


def _area_weights(n_src: np.ndarray, n_dst: np.ndarray, offset: np.ndarray, box: int) -> np.ndarray:
    """(B, box, WORK) integer overlap weights: output i of n_dst from source [offset, offset+n_src)."""
    i = np.arange(box)[None, :, None]
    j = np.arange(WORK)[None, None, :] - offset[:, None, None]
    ns, nd = n_src[:, None, None], n_dst[:, None, None]
    w = np.minimum((j + 1) * nd, (i + 1) * ns) - np.maximum(j * nd, i * ns)
    valid = (j >= 0) & (j < ns) & (i < nd)
    return np.where(valid, np.maximum(w, 0), 0)


def preprocess_batch(frames: np.ndarray, params: PreprocessParams | None = None, *,
                     return_status: bool = False, return_stages: bool = False):
    """Preprocess a (B, H, W) or (H, W) uint8 batch of frames into (B, 28, 28) uint8.

    With return_status, also returns (B,) int status codes (OK, NO_DIGIT, ERR_ROI);
    with return_stages, a dict of per-frame intermediate images and numbers.
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
    n = gw * gh

    # 1. ROI + area downscale
    work = _area_down(frames[:, ry:ry + rh, rx:rx + rw], gw, gh)

    # 2. polarity: q has bright paper
    if p.polarity == POLARITY_AUTO:
        sv = np.sort(work.reshape(b, n), axis=1)
        k = n // 64
        dark_on_light = 2 * sv[:, (n - 1) // 2] >= sv[:, k] + sv[:, n - 1 - k]
    else:
        dark_on_light = np.full(b, p.polarity == POLARITY_DARK_ON_LIGHT)
    q = np.where(dark_on_light[:, None, None], work, 255 - work)

    # 3. background removal: relative darkness against a closing (paper estimate),
    #    computed on a half-resolution grid of 2x2 block maxima
    if p.bg_remove:
        r = (p.bg_radius + 1) // 2
        hh, hw = (gh + 1) // 2, (gw + 1) // 2
        even = np.zeros((b, 2 * hh, 2 * hw), np.uint8)
        even[:, :gh, :gw] = q
        half = even.reshape(b, hh, 2, hw, 2).max(axis=(2, 4))
        paper = _sliding(_sliding(half, r, 2, np.maximum, 0), r, 1, np.maximum, 0)
        paper = _sliding(_sliding(paper, r, 2, np.minimum, 255), r, 1, np.minimum, 255)
        paper = np.repeat(np.repeat(paper, 2, axis=1), 2, axis=2)[:, :gh, :gw].astype(np.int64)
        ink = np.where(paper > 0, ((paper - q) * 255 + paper // 2) // np.maximum(paper, 1), 0)
    else:
        ink = 255 - q

    # 4. contrast normalisation + soft threshold
    flat = ink.reshape(b, n)
    sv = np.sort(flat, axis=1)
    lo = sv[:, (n - 1) // 2]
    hi = sv[:, n - 1 - n // 256]
    rng = hi - lo
    if p.threshold_pct > 0:
        t = lo + rng * p.threshold_pct // 100
    else:
        t = _otsu(flat)
    sat = lo + rng * p.saturate_pct // 100
    sat = np.where(sat <= t, t + 1, sat)
    t3, s3 = t[:, None, None], (sat - t)[:, None, None]
    norm = np.where(ink > t3, np.minimum(((ink - t3) * 255 + s3 // 2) // s3, 255), 0)
    low_contrast = rng < p.min_contrast
    norm[low_contrast] = 0
    if p.border:
        e = p.border
        norm[:, :e, :] = 0
        norm[:, gh - e:, :] = 0
        norm[:, :, :e] = 0
        norm[:, :, gw - e:] = 0

    # 5. robust bounding box
    inked = (norm > 0).astype(np.uint8)   # 3x3 counts <= 9 fit a byte
    if p.speck_min > 1:
        pad = np.pad(inked, ((0, 0), (1, 1), (1, 1)))
        cnt = sum(pad[:, dy:dy + gh, dx:dx + gw] for dy in range(3) for dx in range(3))
        mass = np.where(cnt >= p.speck_min, norm, 0)
    else:
        mass = norm
    y0, y1, found_y = _pick_run(mass.sum(axis=2), p.max_gap)
    rows = np.arange(gh)[None, :, None]
    in_rows = (rows >= y0[:, None, None]) & (rows <= y1[:, None, None])
    x0, x1, _ = _pick_run(np.where(in_rows, mass, 0).sum(axis=1), p.max_gap)
    cols = np.arange(gw)[None, None, :]
    in_cols = (cols >= x0[:, None, None]) & (cols <= x1[:, None, None])
    y0, y1, _ = _pick_run(np.where(in_cols, mass, 0).sum(axis=2), p.max_gap)
    found = found_y & ~low_contrast

    # 6. area resample of the box into box_size, aspect kept
    bw, bh = x1 - x0 + 1, y1 - y0 + 1
    m = np.maximum(bw, bh)
    box = p.box_size
    ow = np.maximum(1, (bw * box + m // 2) // m)
    oh = np.maximum(1, (bh * box + m // 2) // m)
    padded = np.zeros((b, WORK, WORK), dtype=np.float64)
    padded[:, :gh, :gw] = norm
    wx = _area_weights(bw, ow, x0, box).astype(np.float64)
    wy = _area_weights(bh, oh, y0, box).astype(np.float64)
    acc = np.rint(wy @ padded @ wx.transpose(0, 2, 1)).astype(np.int64)  # exact: < 2**53
    den = (bw * bh)[:, None, None]
    patch = (acc + den // 2) // den

    # 7. centre of mass placement in 28x28
    total = patch.sum(axis=(1, 2))
    found &= total > 0
    tot = np.maximum(total, 1)
    pos = np.arange(box)
    sx = (patch.sum(axis=1) * pos).sum(axis=1)
    sy = (patch.sum(axis=2) * pos).sum(axis=1)
    if p.center_mass:
        dx = (2 * COM_TARGET * tot - 2 * sx + tot) // (2 * tot)
        dy = (2 * COM_TARGET * tot - 2 * sy + tot) // (2 * tot)
    else:
        dx, dy = (OUT - ow) // 2, (OUT - oh) // 2
    com_x16 = (16 * (sx + dx * tot) + tot // 2) // tot    # centre of mass in the 28x28, 1/16 px
    com_y16 = (16 * (sy + dy * tot) + tot // 2) // tot
    ys = np.arange(OUT)[None, :] - dy[:, None]
    xs = np.arange(OUT)[None, :] - dx[:, None]
    vy, vx = (ys >= 0) & (ys < box), (xs >= 0) & (xs < box)
    placed = patch[np.arange(b)[:, None, None], np.clip(ys, 0, box - 1)[:, :, None],
                   np.clip(xs, 0, box - 1)[:, None, :]]
    placed = placed * (vy[:, :, None] & vx[:, None, :])
    out[:] = np.where(found[:, None, None], placed, 0).astype(np.uint8)
    status[:] = np.where(found, OK, NO_DIGIT)

    if return_stages:
        stages = dict(roi=(rx, ry, rw, rh), work_w=gw, work_h=gh,
                      work=work.astype(np.uint8), ink=ink.astype(np.uint8), norm=norm.astype(np.uint8),
                      dark_on_light=dark_on_light.astype(np.uint8),
                      lo=lo, hi=hi, threshold=t, saturate=sat,
                      bbox=np.stack([x0, y0, bw, bh], axis=1) * found[:, None],
                      box=patch.astype(np.uint8), box_w=ow * found, box_h=oh * found,
                      shift=np.stack([dx, dy], axis=1) * found[:, None],
                      com16=np.stack([com_x16, com_y16], axis=1) * found[:, None])
    return _result(out, status, stages, return_status, return_stages)


def _result(out, status, stages, return_status, return_stages):
    res = [out]
    if return_status:
        res.append(status)
    if return_stages:
        res.append(stages)
    return res[0] if len(res) == 1 else tuple(res)


def preprocess(frame: np.ndarray, params: PreprocessParams | None = None, return_stages: bool = False):
    """One (H, W) uint8 frame -> (28, 28) uint8.

    With return_stages, returns (out, stages): stages holds the intermediate images and
    numbers of this frame (as pp_stages in C) and "status" (OK, NO_DIGIT or ERR_ROI)."""
    if np.asarray(frame).ndim != 2:
        raise ValueError("frame must be a 2-D uint8 array")
    if return_stages:
        out, status, stages = preprocess_batch(frame, params, return_status=True, return_stages=True)
        one = {k: (v[0] if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == 1 else v)
               for k, v in stages.items()}
        one["status"] = int(status[0])
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
