"""Where things live in the repository, so no module hard-codes relative paths."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# PICO4ML_FIRMWARE_DIR: build another copy of the firmware sources (tests/test_break_it.py
# breaks a copy on purpose to prove that a compile error fails the tests).
FIRMWARE_DIR = Path(os.environ.get("PICO4ML_FIRMWARE_DIR") or REPO_ROOT / "firmware" / "pico4ml")
CORE_DIR = FIRMWARE_DIR / "core"
MODEL_C_DIR = CORE_DIR / "model"
MODELS_DIR = REPO_ROOT / "models"
DEFAULT_CHECKPOINT = MODELS_DIR / "mlp784_400_10.safetensors"
BUILD_DIR = REPO_ROOT / "build"

# The bare-metal RP2040 bench harness (boot2, start-up, linker script, rp2040py runner): the
# benches and the tests that run C on the emulated M0+ share it. Loaded by path, because
# `import rp2040` would find bench/rp2040.py.
RP2040_HARNESS = REPO_ROOT / "bench" / "rp2040" / "harness.py"


def load_rp2040_harness():
    import importlib.util
    import sys
    if "rp2040_harness" not in sys.modules:
        spec = importlib.util.spec_from_file_location("rp2040_harness", RP2040_HARNESS)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    return sys.modules["rp2040_harness"]
