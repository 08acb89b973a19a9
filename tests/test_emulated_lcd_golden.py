"""The emulated board's LCD, pixel for pixel, against a stored golden picture.

One fixed scene (MNIST test digit 0 in front of the camera, no host message) run to a fixed
board time (tests/emulated.py: GOLDEN_LCD_AT_US) gives the same 80x160 picture every run
(tests/test_emulated_determinism.py), so any change in what the firmware draws, or in how the
emulator turns the SPI stream into pixels, shows as differing pixels. The golden picture,
tests/golden/lcd_mnist_test0.png, is regenerated on purpose only: `python tools/lcd_golden.py
--write` (then look at it). Besides the golden, the picture is held to what it must show
whatever the golden holds: the camera view of the scene, and grey drawn as grey.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from emulated import (GOLDEN_LCD, GOLDEN_LCD_AT_US, golden_scene, lcd_at, lcd_diff_report,
                      require_firmware)


def _golden() -> np.ndarray:
    img = cv2.imread(str(GOLDEN_LCD), cv2.IMREAD_COLOR)
    assert img is not None, f"no golden LCD picture at {GOLDEN_LCD}: python tools/lcd_golden.py --write"
    return np.ascontiguousarray(img[:, :, ::-1])


def _camera_view_error(rgb: np.ndarray, scene: np.ndarray) -> float:
    expected = cv2.resize(scene, (80, 80), interpolation=cv2.INTER_AREA).astype(int)
    return float(np.abs(rgb[0:80, :, 1].astype(int) - expected).mean())


def test_the_golden_picture_shows_the_scene(mnist):
    """The stored picture itself (no emulation): an LCD, with the camera view of the golden
    scene on top, grey as grey, and something drawn below it; a golden regenerated from a
    broken board fails here."""
    golden = _golden()
    assert golden.shape == (160, 80, 3)
    assert _camera_view_error(golden, golden_scene(mnist)) < 6
    assert np.abs(golden[0:80, :, 0].astype(int) - golden[0:80, :, 1]).max() <= 8
    assert golden[80:].std() > 20, "nothing drawn below the camera view"


@pytest.mark.slow
@pytest.mark.sdk
def test_emulated_lcd_equals_the_golden_picture(mnist, tmp_path):
    elf = require_firmware().elf
    scene = golden_scene(mnist)
    got = lcd_at(elf, scene)
    golden = _golden()
    report = lcd_diff_report(got, golden)
    if report:
        cv2.imwrite(str(tmp_path / "lcd_got.png"), got[:, :, ::-1])
        diff = np.where(np.any(got != golden, axis=-1)[..., None], np.array([255, 0, 255], np.uint8), got // 3)
        cv2.imwrite(str(tmp_path / "lcd_diff.png"), np.kron(diff, np.ones((4, 4, 1), np.uint8))[:, :, ::-1])
    assert not report, (f"{report}\n(board time {GOLDEN_LCD_AT_US} us; the picture and the differing pixels "
                        f"in magenta: {tmp_path}; if the change is meant: python tools/lcd_golden.py --write)")
    # independent of the golden: what the LCD must show of this scene
    assert _camera_view_error(got, scene) < 6


def test_the_diff_report_says_how_many_pixels_differ_and_where():
    a = np.zeros((160, 80, 3), np.uint8)
    b = a.copy()
    assert lcd_diff_report(a, b) == ""
    b[150, 10] = (255, 0, 0)
    b[5:7, 40] = 8
    report = lcd_diff_report(a, b)
    assert report.startswith("3 of 12800 LCD pixels differ")
    assert "rows 5..150, columns 10..40" in report and "largest channel difference 255" in report
    assert "camera view (rows 0..79): 2 pixels" in report and "status lines (rows 140..159): 1 pixels" in report
    assert "(row 150, column 10): got RGB (0, 0, 0), golden (255, 0, 0)" in report
    assert "is (160, 80, 3), the golden one (80, 160, 3)" in lcd_diff_report(a, b.transpose(1, 0, 2))
