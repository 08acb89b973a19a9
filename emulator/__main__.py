"""python -m pico4ml.emulator: the same as pico4ml-emulate."""
import sys

from pico4ml.emulator.cli import main

sys.exit(main())
