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
