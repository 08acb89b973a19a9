"""Write (or check) the golden picture of the emulated board's LCD, tests/golden/lcd_mnist_test0.png.

The picture is the 80x160 ST7735S glass of the emulated Pico4ML (pico4ml.emulator) running
the default firmware image, at a fixed board time (tests/emulated.py: GOLDEN_LCD_AT_US) with
MNIST test digit 0 in front of the camera and no host message sent: deterministic, so
tests/test_emulated_lcd_golden.py holds the emulated LCD to it pixel for pixel.

Regenerate it on purpose, when what the firmware draws changes (the display code, the font,
the model's answer or score, the timings printed on the status lines), and look at it before
committing:

    python tools/lcd_golden.py            # compare only: exit 1 with where the pixels differ
    python tools/lcd_golden.py --write    # write tests/golden/lcd_mnist_test0.png

Needs the Pico SDK (the firmware is built), Cython and MNIST (PICO4ML_MNIST_DIR).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--write", action="store_true", help="write the golden PNG (default: compare with it)")
    args = ap.parse_args(argv)

    import cv2
    import numpy as np
    import pytest

    from pico4ml.common import fwbuild
    from pico4ml.train.data import MnistError, load_mnist

    import emulated as E

    try:
        mnist = load_mnist()
    except MnistError as e:
        print(f"lcd_golden: {e}", file=sys.stderr)
        return 2
    try:
        fw = fwbuild.build_firmware()
        rgb = E.lcd_at(fw.elf, E.golden_scene(mnist))
    except fwbuild.FirmwareBuildError as e:
        print(f"lcd_golden: firmware build failed: {e}", file=sys.stderr)
        return 2
    except pytest.skip.Exception as e:  # the emulator's own "what is missing"
        print(f"lcd_golden: {e}", file=sys.stderr)
        return 2
    if args.write:
        E.GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(E.GOLDEN_LCD), rgb[:, :, ::-1])
        print(f"wrote {E.GOLDEN_LCD.relative_to(REPO_ROOT)} ({rgb.shape[1]}x{rgb.shape[0]}, board time "
              f"{E.GOLDEN_LCD_AT_US / 1e6:.2f} s, firmware model {fw.model}): look at it before committing")
        return 0
    golden = cv2.imread(str(E.GOLDEN_LCD), cv2.IMREAD_COLOR)
    if golden is None:
        print(f"lcd_golden: no golden picture at {E.GOLDEN_LCD}: run with --write", file=sys.stderr)
        return 1
    report = E.lcd_diff_report(rgb, np.ascontiguousarray(golden[:, :, ::-1]))
    print(report or f"the emulated LCD equals {E.GOLDEN_LCD.relative_to(REPO_ROOT)}")
    return 1 if report else 0


if __name__ == "__main__":
    sys.exit(main())
