"""The MLPs that fit the Pico4ML, their checkpoints, and a numpy forward pass.

Input: the 28x28 uint8 image from preprocessing (white ink on black), scaled as
x = u8 * INPUT_SCALE. Output: 10 logits.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from tinygrad import Tensor, nn
from tinygrad.nn.state import get_state_dict, safe_load, safe_save

INPUT_SCALE = 1.0 / 255.0
# name -> layer widths; the first is the default and the original design
ARCHITECTURES: dict[str, tuple[int, ...]] = {
    "mlp784_400_10": (784, 400, 10),
    "mlp784_128_10": (784, 128, 10),
    "mlp784_64_10": (784, 64, 10),
    "mlp784_32_10": (784, 32, 10),
    "mlp784_256_64_10": (784, 256, 64, 10),
}
DEFAULT_ARCH = "mlp784_400_10"


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not match its architecture."""


class MLP:
    """Linear layers with ReLU between them."""

    def __init__(self, widths: tuple[int, ...]):
        self.widths = tuple(widths)
        self.layers = [nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])]

    def __call__(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = x.relu()
        return x


def build_model(arch: str = DEFAULT_ARCH) -> MLP:
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"unknown architecture '{arch}'; choose one of {', '.join(ARCHITECTURES)}")
    return MLP(ARCHITECTURES[arch])


def expected_shapes(widths: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        shapes[f"layers.{i}.weight"] = (b, a)
        shapes[f"layers.{i}.bias"] = (b,)
    return shapes


def metadata_path(checkpoint: Path) -> Path:
    return Path(checkpoint).with_suffix(".json")


def weights_sha256(state: dict[str, np.ndarray]) -> str:
    """Hash of the float32 little-endian weights in layer order: names the model in C and on the wire."""
    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(np.ascontiguousarray(state[name], dtype="<f4").tobytes())
    return h.hexdigest()


def save_checkpoint(model: MLP, path: Path, metadata: dict, force: bool = False) -> None:
    path = Path(path)
    meta_path = metadata_path(path)
    for p in (path, meta_path):
        if p.exists() and not force:
            raise FileExistsError(f"{p} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    state = get_state_dict(model)
    arrays = {k: v.numpy() for k, v in state.items()}
    metadata = {**metadata, "architecture": metadata.get("architecture"), "widths": list(model.widths),
                "input_scale": INPUT_SCALE, "weights_sha256": weights_sha256(arrays)}
    tmp = path.with_name(path.name + ".part")
    safe_save(state, str(tmp))
    tmp.replace(path)
    meta_path.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")


def load_state(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Weights as numpy arrays plus metadata, checked against the architecture they claim."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    meta_path = metadata_path(path)
    if not meta_path.is_file():
        raise CheckpointError(f"metadata {meta_path} not found (it is written next to the checkpoint)")
    try:
        metadata = json.loads(meta_path.read_text())
        widths = tuple(int(w) for w in metadata["widths"])
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{meta_path}: not valid checkpoint metadata ({e})") from e
    try:
        state = {k: v.to("CPU").numpy() for k, v in safe_load(str(path)).items()}
    except Exception as e:  # safetensors raises several types for a damaged file
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
    want = expected_shapes(widths)
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != want:
        raise CheckpointError(f"{path}: tensor shapes {got} do not match architecture {widths} ({want})")
    return state, metadata


def load_model(path: Path) -> tuple[MLP, dict]:
    state, metadata = load_state(path)
    model = MLP(tuple(metadata["widths"]))
    for name, t in get_state_dict(model).items():
        t.assign(Tensor(state[name].astype(np.float32))).realize()
    return model, metadata


def numpy_forward(state: dict[str, np.ndarray], x_u8: np.ndarray) -> np.ndarray:
    """Logits for a batch of 28x28 uint8 images, in float32 like the C."""
    x = x_u8.reshape(len(x_u8), -1).astype(np.float32) * np.float32(INPUT_SCALE)
    n = len(state) // 2
    for i in range(n):
        x = x @ state[f"layers.{i}.weight"].T + state[f"layers.{i}.bias"]
        if i < n - 1:
            x = np.maximum(x, 0)
    return x
