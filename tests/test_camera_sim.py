"""camera_sim: frames look like a cheap camera's view of ink on paper, deterministically."""
from __future__ import annotations

import numpy as np
import pytest

from pico4ml.train import camera_clean as cs
from pico4ml.train import preprocess as pp
from pico4ml.train.camera_set import camera_test_set, write_pgm


def test_deterministic_given_seed(mnist):
    _, _, x_test, y_test = mnist
    a = cs.make_camera_set(20, 42, 100, images=x_test[:50], labels=y_test[:50])
    b = cs.make_camera_set(20, 42, 100, images=x_test[:50], labels=y_test[:50])
    c = cs.make_camera_set(20, 43, 100, images=x_test[:50], labels=y_test[:50])
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("size", [162, 324, 57])
def test_frame_shape_and_ink_on_paper(mnist, size):
    _, _, x_test, _ = mnist
    rng = np.random.default_rng(size)
    for i in range(5):
        f = cs.render_handwritten(x_test[i], rng, size)
        assert f.shape == (size, size) and f.dtype == np.uint8
        # the ink is much darker than the paper around it (relative darkness, after
        # dividing out the light): preprocessing's ink range spans a large share of 255
        _, st = pp.preprocess(f, return_stages=True)
        assert st["status"] == pp.OK and st["hi"] - st["lo"] > 60


def test_digit_geometry_within_ranges(mnist):
    """Height 25-60 % of the frame, centre within 10 % (+ rotation slack), found by preprocessing."""
    _, _, x_test, _ = mnist
    rng = np.random.default_rng(1)
    size = 324
    heights, centres = [], []
    for i in range(60):
        f = cs.render_handwritten(x_test[i], rng, size)
        _, st = pp.preprocess(f, return_stages=True)
        assert st["status"] == pp.OK
        x, y, w, h = st["bbox"]
        heights.append(h / st["work_h"])
        centres.append(((x + w / 2) / st["work_w"] - 0.5, (y + h / 2) / st["work_h"] - 0.5))
    heights, centres = np.array(heights), np.abs(np.array(centres))
    assert 0.18 < heights.min() and heights.max() < 0.70
    assert heights.max() - heights.min() > 0.2           # the range is really used
    assert centres.max() < 0.2 and centres.max() > 0.04


def test_conditions_vary(mnist):
    _, _, x_test, _ = mnist
    frames, _ = cs.make_camera_set(40, 3, 162, images=x_test[:100], labels=np.zeros(100, int), printed_fraction=0)
    medians = np.median(frames.reshape(40, -1), axis=1)
    assert medians.max() - medians.min() > 50            # paper brightness varies
    # uneven light: paper in one corner region differs from the opposite one in many frames
    tl = frames[:, 5:30, 5:30].mean((1, 2))
    br = frames[:, -30:-5, -30:-5].mean((1, 2))
    assert (np.abs(tl - br) > 10).mean() > 0.3


def test_printed_digits_all_labels_and_styles():
    rng = np.random.default_rng(0)
    assert cs.n_printed_styles() >= 36
    for label in range(10):
        f = cs.render_printed(label, rng, 162)
        out, status = pp.preprocess_batch(f, return_status=True)
        assert status[0] == pp.OK and out[0].max() > 200
    for style in range(cs.n_printed_styles()):
        assert cs.printed_coverage(style % 10, style).max() > 0.5
    with pytest.raises(ValueError):
        cs.render_printed(10, rng)


def test_printed_without_truetype_fonts(monkeypatch):
    """Without Pillow/DejaVu the same style numbers render with Hershey stand-ins."""
    monkeypatch.setattr(cs, "_ttf_fonts", lambda: (None,) * len(cs.TTF_CANDIDATES))
    cs.printed_coverage.cache_clear()
    try:
        assert cs.ttf_fonts_available() == 0
        for style in range(cs.N_HERSHEY_STYLES, cs.n_printed_styles()):
            assert cs.printed_coverage(3, style).max() > 0.5
        f = cs.render_printed(7, np.random.default_rng(0), 100)
        assert f.shape == (100, 100)
    finally:
        cs.printed_coverage.cache_clear()


def test_inversion_option(mnist):
    _, _, x_test, _ = mnist
    ranges = cs.SimRanges(invert_prob=1.0)
    f = cs.render_handwritten(x_test[0], np.random.default_rng(0), 162, ranges)
    assert np.percentile(f, 98) > 1.3 * np.median(f)     # light ink on a dark ground


def test_make_camera_set_mix(mnist):
    _, _, x_test, y_test = mnist
    frames, labels, printed = cs.make_camera_set(50, 9, 64, images=x_test[:30], labels=y_test[:30],
                                                 printed_fraction=0.3, return_printed=True)
    assert frames.shape == (50, 64, 64) and labels.shape == (50,)
    assert printed.sum() == 15
    assert set(labels[~printed]) <= set(y_test[:30].tolist())
    with pytest.raises(ValueError):
        cs.make_camera_set(5, 0, 64, images=x_test[:3], labels=y_test[:2])


def test_camera_test_set_cached_and_fixed(tmp_path, mnist):
    frames, labels, printed = camera_test_set(n=12, size=96)
    again = camera_test_set(n=12, size=96)
    np.testing.assert_array_equal(frames, again[0])
    assert frames.shape == (12, 96, 96) and 0 < printed.sum() < 12
    write_pgm(tmp_path / "a.pgm", frames[0])
    data = (tmp_path / "a.pgm").read_bytes()
    assert data.startswith(b"P5\n96 96\n255\n") and len(data) == 13 + 96 * 96
