"""Where the digits of simulated frames come from, kept apart by side.

Four kinds of digit, mixed in fixed shares: MNIST digits (other writers than the
fonts), handwriting-style fonts, synthesized pen strokes (pen_strokes.py) and
printed fonts (TrueType/OpenType and Hershey; digit_fonts.py). Three sides:

| side    | MNIST                      | fonts (digit_fonts) | pen-stroke writers          |
|---------|----------------------------|---------------------|-----------------------------|
| `train` | the training split (60000) | TRAIN fonts         | train writers, 2 families   |
| `tune`  | test split, images 0-4999  | TEST fonts          | tune writers, 3 families    |
| `test`  | test split, images 5000-9999 | TEST fonts        | test writers, 3 families    |

So nothing the camera bench scores was seen in training, and the held-out TEST frames
share no MNIST image or pen-stroke writer with the TUNE frames that preprocessing is
tuned against.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pico4ml.train import digit_fonts, pen_strokes
from pico4ml.train.camera_clean import mnist_coverage   # the same inking of MNIST digits

SPLITS = ("train", "tune", "test")
KINDS = ("mnist", "hand_font", "strokes", "printed")
KIND_SHARES = (0.40, 0.20, 0.15, 0.25)
N_WRITERS = 400              # pen-stroke writers per side


@dataclass(frozen=True)
class Drawn:
    coverage: np.ndarray     # float32, 1 = ink
    label: int
    kind: str                # one of KINDS
    name: str                # e.g. "mnist-test-5123", "font-Kristi", "writer-test-17"


class DigitSource:
    """Draws digits of one side. MNIST is loaded on first use (or given as (images, labels))."""

    def __init__(self, split: str, mnist: tuple[np.ndarray, np.ndarray] | None = None,
                 data_dir: str | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        self.split = split
        self._mnist = mnist
        self._data_dir = data_dir
        font_side = "train" if split == "train" else "test"
        self.printed = digit_fonts.fonts(font_side, "printed")
        self.hand = digit_fonts.fonts(font_side, "hand")

    @property
    def mnist(self) -> tuple[np.ndarray, np.ndarray]:
        if self._mnist is None:
            from pico4ml.train.data import load_mnist
            x_train, y_train, x_test, y_test = load_mnist(self._data_dir)
            if self.split == "train":
                self._mnist = (x_train, y_train)
            elif self.split == "tune":
                self._mnist = (x_test[:5000], y_test[:5000])
            else:
                self._mnist = (x_test[5000:], y_test[5000:])
        return self._mnist

    def draw(self, rng: np.random.Generator, kind: str | None = None) -> Drawn:
        """One digit: of a random kind (KIND_SHARES) unless `kind` is given."""
        if kind is None:
            kind = KINDS[int(rng.choice(len(KINDS), p=KIND_SHARES))]
        if kind == "mnist":
            images, labels = self.mnist
            i = int(rng.integers(len(images)))
            return Drawn(mnist_coverage(images[i]), int(labels[i]), kind, f"mnist-{self.split}-{i}")
        label = int(rng.integers(10))
        if kind == "strokes":
            index = int(rng.integers(N_WRITERS))
            cov = pen_strokes.render(label, pen_strokes.writer(self.split, index), rng)
            return Drawn(cov, label, kind, f"writer-{self.split}-{index}")
        fonts = self.hand if kind == "hand_font" else self.printed
        if kind not in ("hand_font", "printed"):
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        font = fonts[int(rng.integers(len(fonts)))]
        return Drawn(digit_fonts.glyph(label, font), label, kind, f"font-{font.name}")
