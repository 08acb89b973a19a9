"""The clean-sheet camera simulator the default model before issue 8 was trained with.

Kept unchanged so that its recipe (`pico4ml-train --camera-mix clean --camera-samples
40000 --junk-frames 0 --epochs 25 --dropout 0 --pool-augment 0 --elastic 0`) still
reproduces its weights and the existing 2000-frame camera test set
(camera_set.camera_test_set) keeps its meaning. The simulator of every condition of
issue 8 (far, close, tilted, ruled, shadowed, dim, blurred, pencil, neighbours, the
paper's edge, light on dark, empty frames) is camera_sim.py; its names are also
importable from there.

Render digits the way the Pico4ML's cheap monochrome camera (HM01B0) sees them.

A digit, handwritten (an MNIST 28x28, upsampled smoothly and inked with crisp edges)
or printed (OpenCV Hershey fonts, plus TrueType fonts via Pillow when installed), is
drawn as dark ink on paper of varying brightness, under an uneven light gradient and
vignetting, defocused, with sensor noise (Gaussian plus a little salt and pepper).
The digit is 25-60 % of the frame high, off-centre by up to 10 %, rotated up to +-12
degrees, with varying stroke thickness and contrast. Output: 8-bit grayscale frames of
any size (default 162x162, the HM01B0's binned mode; 324x324 is the full sensor).

Everything is deterministic given a numpy Generator, so training and test sets can
be rebuilt bit for bit.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

HERSHEY_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_COMPLEX_SMALL,
)
TTF_CANDIDATES = (   # used only if present (Debian: fonts-dejavu-core)
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
)
GLYPH_PX = 112          # height of the high-resolution coverage images digits start from
UPSAMPLE = 4            # MNIST 28 -> 112


@dataclass(frozen=True)
class SimRanges:
    """Ranges of the random camera conditions (uniform unless said otherwise)."""
    height: tuple[float, float] = (0.25, 0.60)      # digit height / frame
    offset: float = 0.10                              # max centre offset / frame, per axis
    rotation_deg: float = 12.0
    paper: tuple[float, float] = (110.0, 235.0)      # paper grey level under full light
    ink_contrast: tuple[float, float] = (0.40, 0.88) # 1 - ink reflectance / paper
    gradient: float = 0.45                           # light falls by up to this across the frame
    vignetting: tuple[float, float] = (0.0, 0.45)    # light lost in the corners
    blur_sigma: tuple[float, float] = (0.3, 1.4)     # defocus, pixels at 162x162 (scaled with size)
    noise_sigma: tuple[float, float] = (1.0, 7.0)    # Gaussian sensor noise, grey levels
    salt_pepper: tuple[float, float] = (0.0, 0.003)  # share of pixels stuck black or white
    thickness: tuple[int, int] = (-1, 2)              # erode (<0) / dilate (>0) steps at 112 px
    invert_prob: float = 0.0                          # light ink on dark ground


DEFAULT_RANGES = SimRanges()


# ---------------------------------------------------------------------------
# glyphs: float32 coverage images (1 = ink), GLYPH_PX-ish high

def mnist_coverage(digit28: np.ndarray) -> np.ndarray:
    """An MNIST digit upsampled smoothly to 112x112 and inked: crisp edges, same strokes."""
    d = np.asarray(digit28, dtype=np.float32) / 255.0
    if d.shape != (28, 28):
        raise ValueError(f"expected a 28x28 digit, got {d.shape}")
    big = cv2.resize(d, (28 * UPSAMPLE, 28 * UPSAMPLE), interpolation=cv2.INTER_CUBIC)
    return np.clip((big - 0.25) / 0.30, 0.0, 1.0)   # pen ink: soft MNIST edges -> crisp strokes


def _hershey_glyph(label: int, font: int, italic: bool, thickness: int) -> np.ndarray:
    face = font | (cv2.FONT_ITALIC if italic else 0)
    scale = cv2.getFontScaleFromHeight(face, GLYPH_PX - 16, thickness)
    canvas = np.zeros((GLYPH_PX + 48, GLYPH_PX + 48), np.uint8)
    (tw, th), base = cv2.getTextSize(str(label), face, scale, thickness)
    org = ((canvas.shape[1] - tw) // 2, (canvas.shape[0] + th) // 2)
    cv2.putText(canvas, str(label), org, face, scale, 255, thickness, cv2.LINE_AA)
    return canvas.astype(np.float32) / 255.0


@functools.lru_cache(maxsize=None)
def _ttf_fonts() -> tuple:
    """One entry per TTF_CANDIDATES path: a Pillow font, or None where unavailable."""
    try:
        from PIL import ImageFont
    except ImportError:
        return (None,) * len(TTF_CANDIDATES)
    fonts = []
    for path in TTF_CANDIDATES:
        try:
            fonts.append(ImageFont.truetype(path, GLYPH_PX) if Path(path).is_file() else None)
        except OSError:
            fonts.append(None)
    return tuple(fonts)


def ttf_fonts_available() -> int:
    """How many of TTF_CANDIDATES are installed (0 without Pillow or fonts-dejavu-core)."""
    return sum(f is not None for f in _ttf_fonts())


def _ttf_glyph(label: int, font) -> np.ndarray:
    from PIL import Image, ImageDraw
    img = Image.new("L", (GLYPH_PX * 2, GLYPH_PX * 2), 0)
    ImageDraw.Draw(img).text((GLYPH_PX // 2, GLYPH_PX // 4), str(label), fill=255, font=font)
    return np.asarray(img, dtype=np.float32) / 255.0


N_HERSHEY_STYLES = len(HERSHEY_FONTS) * 2 * 3   # face x (upright, italic) x 3 weights


@functools.lru_cache(maxsize=4096)
def printed_coverage(label: int, style: int) -> np.ndarray:
    """Coverage of printed digit `label` in font style `style` (0 .. n_printed_styles()-1).

    The style numbering is fixed whatever is installed, so a seed draws the same styles
    everywhere; a TrueType style whose font is missing falls back to a Hershey style."""
    if style >= N_HERSHEY_STYLES:
        font = _ttf_fonts()[style - N_HERSHEY_STYLES]
        if font is not None:
            g = _ttf_glyph(label, font)
            g.setflags(write=False)
            return g
        style = (style * 7) % N_HERSHEY_STYLES
    font, rest = divmod(style, 6)
    italic, weight = divmod(rest, 3)
    g = _hershey_glyph(label, HERSHEY_FONTS[font], bool(italic), (3, 7, 11)[weight])
    g.setflags(write=False)
    return g


def n_printed_styles() -> int:
    return N_HERSHEY_STYLES + len(TTF_CANDIDATES)


# ---------------------------------------------------------------------------
# the camera

@functools.lru_cache(maxsize=8)
def _grids(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = (size - 1) / 2.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    xs, ys = (xx - c) / size, (yy - c) / size
    r2 = (xs * xs + ys * ys) / 0.5           # 1 in the corners
    return xs, ys, r2


def _stroke(cov: np.ndarray, steps: int) -> np.ndarray:
    if steps == 0:
        return cov
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    op = cv2.dilate if steps > 0 else cv2.erode
    return op(cov, k, iterations=abs(steps))


def _place(cov: np.ndarray, rng: np.random.Generator, size: int, r: SimRanges) -> np.ndarray:
    """Warp a coverage image into the frame: scale to the drawn height, rotate, shift."""
    rows = np.nonzero(cov.max(axis=1) > 0.5)[0]
    cols = np.nonzero(cov.max(axis=0) > 0.5)[0]
    if len(rows) == 0:
        return np.zeros((size, size), np.float32)
    src_h = rows[-1] - rows[0] + 1
    src_c = np.array([(cols[0] + cols[-1]) / 2.0, (rows[0] + rows[-1]) / 2.0])
    scale = rng.uniform(*r.height) * size / src_h
    angle = math.radians(rng.uniform(-r.rotation_deg, r.rotation_deg))
    dst_c = (size - 1) / 2.0 + rng.uniform(-r.offset, r.offset, 2) * size
    ca, sa = math.cos(angle) * scale, math.sin(angle) * scale
    lin = np.array([[ca, -sa], [sa, ca]])
    m = np.hstack([lin, (dst_c - lin @ src_c)[:, None]]).astype(np.float64)
    # downscaling by a large factor with bilinear would alias: pre-shrink the glyph first
    if scale < 0.5:
        f = 0.5 / scale
        cov = cv2.resize(cov, None, fx=1 / f, fy=1 / f, interpolation=cv2.INTER_AREA)
        m[:, :2] *= f
    return cv2.warpAffine(cov, m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def camera_frame(cov: np.ndarray, rng: np.random.Generator, size: int = 162,
                 ranges: SimRanges = DEFAULT_RANGES) -> np.ndarray:
    """Photograph a coverage image (1 = ink) as dark ink on paper: uint8 (size, size)."""
    if size < 8:
        raise ValueError("frame size must be at least 8")
    r = ranges
    cov = _stroke(cov, int(rng.integers(r.thickness[0], r.thickness[1] + 1)))
    ink = _place(cov, rng, size, r)
    xs, ys, r2 = _grids(size)
    phi = rng.uniform(0, 2 * math.pi)
    light = (1.0 + rng.uniform(0, r.gradient) * (xs * math.cos(phi) + ys * math.sin(phi))) \
        * (1.0 - rng.uniform(*r.vignetting) * r2)
    paper = rng.uniform(*r.paper)
    img = paper * light * (1.0 - rng.uniform(*r.ink_contrast) * ink)
    if rng.random() < r.invert_prob:
        img = 255.0 - img
    sigma = rng.uniform(*r.blur_sigma) * size / 162.0
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), sigma)
    img += rng.standard_normal((size, size), dtype=np.float32) * np.float32(rng.uniform(*r.noise_sigma))
    sp = rng.uniform(*r.salt_pepper)
    hits = rng.random((size, size), dtype=np.float32)
    img[hits < sp / 2] = 0.0
    img[hits > 1.0 - sp / 2] = 255.0
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


def render_handwritten(digit28: np.ndarray, rng: np.random.Generator, size: int = 162,
                       ranges: SimRanges = DEFAULT_RANGES) -> np.ndarray:
    """An MNIST digit written in ink on paper, as the camera sees it."""
    return camera_frame(mnist_coverage(digit28), rng, size, ranges)


def render_printed(label: int, rng: np.random.Generator, size: int = 162,
                   ranges: SimRanges = DEFAULT_RANGES) -> np.ndarray:
    """Digit `label` printed in a random font, as the camera sees it."""
    if not 0 <= int(label) <= 9:
        raise ValueError(f"label must be 0..9, got {label}")
    style = int(rng.integers(n_printed_styles()))
    return camera_frame(printed_coverage(int(label), style), rng, size, ranges)


def _mnist_split(source: str) -> tuple[np.ndarray, np.ndarray]:
    from pico4ml.train.data import load_mnist
    x_train, y_train, x_test, y_test = load_mnist()
    if source in ("mnist-test", "test"):
        return x_test, y_test
    if source in ("mnist-train", "train"):
        return x_train, y_train
    raise ValueError(f"source must be 'mnist-test' or 'mnist-train', got {source!r}")


def make_camera_set(n: int, seed: int, size: int = 162, source: str = "mnist-test",
                    images: np.ndarray | None = None, labels: np.ndarray | None = None,
                    printed_fraction: float = 0.3, ranges: SimRanges = DEFAULT_RANGES,
                    return_printed: bool = False):
    """n camera frames (n, size, size) uint8 and their labels (n,) int64.

    Handwritten frames use `images`/`labels` (MNIST 28x28 digits) or, when not given,
    the MNIST split named by `source`; a `printed_fraction` share are printed digits.
    With return_printed, also the (n,) bool mask of the printed frames.
    """
    if images is None or labels is None:
        images, labels = _mnist_split(source)
    images, labels = np.asarray(images), np.asarray(labels)
    if n < 0 or not 0.0 <= printed_fraction <= 1.0:
        raise ValueError("n must be >= 0 and printed_fraction within 0..1")
    if len(images) != len(labels) or len(images) == 0:
        raise ValueError("images and labels must be non-empty and of equal length")
    rng = np.random.default_rng(seed)
    n_printed = int(round(n * printed_fraction))
    printed = rng.permutation(n) < n_printed
    pick = rng.permutation(len(images))[:n] if n <= len(images) else rng.integers(len(images), size=n)
    frames = np.empty((n, size, size), np.uint8)
    out_labels = np.empty(n, np.int64)
    hw = iter(pick)
    for i in range(n):
        if printed[i]:
            out_labels[i] = rng.integers(10)
            frames[i] = render_printed(out_labels[i], rng, size, ranges)
        else:
            j = next(hw)
            out_labels[i] = labels[j]
            frames[i] = render_handwritten(images[j], rng, size, ranges)
    return (frames, out_labels, printed) if return_printed else (frames, out_labels)
