"""Where things live in the repository, so no module hard-codes relative paths."""
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
FIRMWARE_DIR = REPO_ROOT / "firmware" / "pico4ml"
CORE_DIR = FIRMWARE_DIR / "core"
MODEL_C_DIR = CORE_DIR / "model"
MODELS_DIR = REPO_ROOT / "models"
DEFAULT_CHECKPOINT = MODELS_DIR / "mlp784_400_10.safetensors"
BUILD_DIR = REPO_ROOT / "build"
