"""Digit sources: train and test sides never share a writer, a font or an MNIST image;
missing fonts reduce the styles but never change what a seed draws otherwise."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from pico4ml.train import camera_sim as cs
from pico4ml.train import digit_fonts, pen_strokes
from pico4ml.train.camera_set import condition_stream
from pico4ml.train.digit_sources import KINDS, DigitSource


def _hashes(images: np.ndarray) -> set[str]:
    return {hashlib.sha1(im.tobytes()).hexdigest() for im in images}


def test_font_sides_are_disjoint_and_clones_stay_together():
    train = {f.path for f in digit_fonts.ALL_FONTS if f.split == "train"}
    test = {f.path for f in digit_fonts.ALL_FONTS if f.split == "test"}
    assert train and test and not train & test
    # FreeFont's outlines are URW's: both families are on the test side
    assert all(f.split == "test" for f in digit_fonts.ALL_FONTS if "freefont" in f.path or "urw-base35" in f.path)
    for side in ("train", "test"):
        for kind in ("printed", "hand"):
            assert len(digit_fonts.fonts(side, kind)) >= 5


def test_every_font_draws_every_digit():
    for font in digit_fonts.ALL_FONTS:
        for label in (0, 4, 7):
            g = digit_fonts.glyph(label, font)
            assert g.dtype == np.float32 and g.max() > 0.5 and g.shape[0] > 40, (font.name, label)
    with pytest.raises(ValueError):
        digit_fonts.glyph(10, digit_fonts.ALL_FONTS[0])


def test_missing_fonts_fall_back_with_a_message(monkeypatch, capsys, mnist):
    """Without the TrueType fonts: same labels, sources and non-font frames; a message."""
    source = DigitSource("test", mnist=(mnist[2][5000:], mnist[3][5000:]))
    jobs = [(c, i) for c in ("clean", "neighbours", "dark_ground") for i in range(8)]
    with_fonts = [cs.render_frame(c, condition_stream(3, c, i), source) for c, i in jobs]
    monkeypatch.setattr(digit_fonts, "_face", lambda path: None)
    monkeypatch.setattr(digit_fonts, "_warned", False)
    digit_fonts.glyph.cache_clear()
    try:
        without = [cs.render_frame(c, condition_stream(3, c, i), source) for c, i in jobs]
        assert "fonts missing" in capsys.readouterr().err
        assert len(digit_fonts.missing_packages()) > 10
    finally:
        digit_fonts.glyph.cache_clear()
    fonts_used = same = 0
    for a, b in zip(with_fonts, without):
        assert (a.label, a.source, a.kind) == (b.label, b.source, b.kind)
        if a.source.startswith(("mnist", "writer")) and a.condition == "clean":   # no font in view
            np.testing.assert_array_equal(a.image, b.image)
            same += 1
        fonts_used += a.source.startswith("font-") and "hershey" not in a.source
    assert fonts_used > 0 and same > 0


def test_pen_stroke_writers_differ_by_side():
    train = [pen_strokes.writer("train", i) for i in range(60)]
    test = [pen_strokes.writer("test", i) for i in range(60)]
    tune = [pen_strokes.writer("tune", i) for i in range(60)]
    assert not set(train) & set(test) and not set(tune) & set(test)
    assert {w.family for w in train} == {"round", "quick"}
    assert "angular" in {w.family for w in test}
    rng = np.random.default_rng(0)
    for label in range(10):
        g = pen_strokes.render(label, test[label], rng)
        assert g.max() > 0.9 and 0.02 < (g > 0.5).mean() < 0.5
    a = pen_strokes.render(3, test[0], np.random.default_rng(1))
    b = pen_strokes.render(3, test[0], np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)


def test_sides_draw_only_their_own_sources(mnist):
    x_train, y_train, x_test, y_test = mnist
    sources = {s: DigitSource(s) for s in ("train", "tune", "test")}
    mnist_sets = {s: _hashes(src.mnist[0]) for s, src in sources.items()}
    assert not mnist_sets["tune"] & mnist_sets["test"]
    assert not mnist_sets["train"] & (mnist_sets["tune"] | mnist_sets["test"])
    train_fonts = {f"font-{f.name}" for f in digit_fonts.ALL_FONTS if f.split == "train"}
    test_fonts = {f"font-{f.name}" for f in digit_fonts.ALL_FONTS if f.split == "test"}
    for side, src in sources.items():
        rng = np.random.default_rng(7)
        names = [src.draw(rng).name for _ in range(400)]
        kinds = {n.split("-")[0] for n in names}
        assert kinds == {"mnist", "font", "writer"}
        fonts = {n for n in names if n.startswith("font-")}
        assert fonts <= (train_fonts if side == "train" else test_fonts)
        assert all(n.startswith(f"mnist-{side}-") or not n.startswith("mnist") for n in names)
        assert all(n.startswith(f"writer-{side}-") or not n.startswith("writer") for n in names)
    assert set(KINDS) == {"mnist", "hand_font", "strokes", "printed"}
    with pytest.raises(ValueError):
        DigitSource("validation")
