"""The models that fit the Pico4ML (MLPs and small CNNs), their checkpoints, and numpy forward passes.

Input: the 28x28 uint8 image from preprocessing (white ink on black), scaled as
x = u8 * INPUT_SCALE. Output: 10 logits.

A CNN is "valid" 3x3 convolutions, each followed by ReLU and a 2x2 max pool (floor: an odd
row/column is dropped), then dense layers on the flattened channel-major (C, H, W) features.
No padding and no batch norm, so the int8 version is plain integer arithmetic.
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
# name -> (conv output channels, dense widths after the flattened features)
CNN_ARCHITECTURES: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "cnn8_16_10": ((8, 16), (10,)),
    "cnn8_16_32_10": ((8, 16), (32, 10)),
    "cnn8_24_10": ((8, 24), (10,)),
    "cnn12_24_10": ((12, 24), (10,)),
}
IMAGE_SIDE = 28


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not match its architecture."""


class MLP:
    """Linear layers with ReLU between them. `dropout` acts only while training (TinyGrad's
    TRAINING context): inference, export and the C never see it."""

    def __init__(self, widths: tuple[int, ...], dropout: float = 0.0):
        self.widths = tuple(widths)
        self.dropout = dropout
        self.layers = [nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])]

    def __call__(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = x.relu().dropout(self.dropout)
        return x


def cnn_feature_shape(convs: tuple[int, ...], side: int = IMAGE_SIDE) -> tuple[int, int, int]:
    """(C, H, W) after the convolutions and pools."""
    for _ in convs:
        side = (side - 2) // 2
        if side < 1:
            raise CheckpointError(f"{len(convs)} conv+pool stages shrink a {IMAGE_SIDE}x{IMAGE_SIDE} image to nothing")
    return (convs[-1], side, side)


class CNN:
    """3x3 valid convolutions (ReLU, 2x2 max pool) then dense layers with ReLU between them."""

    def __init__(self, convs: tuple[int, ...], dense: tuple[int, ...], dropout: float = 0.0):
        self.conv_channels, self.dense_widths = tuple(convs), tuple(dense)
        self.dropout = dropout  # on the dense hidden layers, while training only
        chans = (1, *self.conv_channels)
        self.convs = [nn.Conv2d(a, b, 3) for a, b in zip(chans[:-1], chans[1:])]
        c, h, w = cnn_feature_shape(self.conv_channels)
        widths = (c * h * w, *self.dense_widths)
        self.layers = [nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:])]

    @property
    def widths(self) -> tuple[int, ...]:  # what the checkpoint metadata records for the dense part
        c, h, w = cnn_feature_shape(self.conv_channels)
        return (c * h * w, *self.dense_widths)

    def __call__(self, x: Tensor) -> Tensor:
        x = x.reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)
        for conv in self.convs:
            x = conv(x).relu().max_pool2d(2)
        x = x.flatten(1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = x.relu().dropout(self.dropout)
        return x


def is_cnn(arch: str | None) -> bool:
    return arch in CNN_ARCHITECTURES


def build_model(arch: str = DEFAULT_ARCH) -> MLP | CNN:
    if arch in CNN_ARCHITECTURES:
        return CNN(*CNN_ARCHITECTURES[arch])
    if arch not in ARCHITECTURES:
        raise CheckpointError(f"unknown architecture '{arch}'; choose one of "
                              f"{', '.join([*ARCHITECTURES, *CNN_ARCHITECTURES])}")
    return MLP(ARCHITECTURES[arch])


def expected_shapes(widths: tuple[int, ...], convs: tuple[int, ...] = ()) -> dict[str, tuple[int, ...]]:
    shapes = {}
    chans = (1, *convs)
    for i, (a, b) in enumerate(zip(chans[:-1], chans[1:])):
        shapes[f"convs.{i}.weight"] = (b, a, 3, 3)
        shapes[f"convs.{i}.bias"] = (b,)
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


def save_checkpoint(model: MLP | CNN, path: Path, metadata: dict, force: bool = False) -> None:
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
    if isinstance(model, CNN):
        metadata |= {"kind": "cnn", "convs": list(model.conv_channels)}
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
        convs = tuple(int(c) for c in metadata.get("convs", ()))
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{meta_path}: not valid checkpoint metadata ({e})") from e
    try:
        state = {k: v.to("CPU").numpy() for k, v in safe_load(str(path)).items()}
    except Exception as e:  # safetensors raises several types for a damaged file
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from e
    want = expected_shapes(widths, convs)
    got = {k: tuple(v.shape) for k, v in state.items()}
    if got != want:
        raise CheckpointError(f"{path}: tensor shapes {got} do not match architecture {widths} ({want})")
    return state, metadata


def load_model(path: Path) -> tuple[MLP | CNN, dict]:
    state, metadata = load_state(path)
    if metadata.get("convs"):
        model = CNN(tuple(metadata["convs"]), tuple(metadata["widths"][1:]))
    else:
        model = MLP(tuple(metadata["widths"]))
    for name, t in get_state_dict(model).items():
        t.assign(Tensor(state[name].astype(np.float32))).realize()
    return model, metadata


def conv3x3_valid(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """[N, Ci, H, W] * [Co, Ci, 3, 3] -> [N, Co, H-2, W-2] (cross-correlation, as Conv2d), via im2col."""
    n, ci, hh, ww = x.shape
    cols = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))  # N, Ci, H-2, W-2, 3, 3
    cols = cols.transpose(0, 2, 3, 1, 4, 5).reshape(n, hh - 2, ww - 2, ci * 9)
    out = cols @ w.reshape(len(w), -1).T.astype(cols.dtype)                 # N, H-2, W-2, Co
    if b is not None:
        out = out + b
    return out.transpose(0, 3, 1, 2)


def max_pool2(x: np.ndarray) -> np.ndarray:
    """2x2 max pool, stride 2, an odd last row/column dropped (TinyGrad's max_pool2d(2))."""
    n, c, hh, ww = x.shape
    h2, w2 = hh // 2, ww // 2
    return x[:, :, :h2 * 2, :w2 * 2].reshape(n, c, h2, 2, w2, 2).max(axis=(3, 5))


def n_convs(state: dict[str, np.ndarray]) -> int:
    return sum(1 for k in state if k.startswith("convs.") and k.endswith(".weight"))


def numpy_forward(state: dict[str, np.ndarray], x_u8: np.ndarray, batch: int = 2000) -> np.ndarray:
    """Logits for a batch of 28x28 uint8 images, in float32 like the C."""
    nc = n_convs(state)
    if nc:
        if len(x_u8) > batch:  # im2col of a whole test set would take gigabytes
            return np.concatenate([numpy_forward(state, x_u8[i:i + batch], batch)
                                   for i in range(0, len(x_u8), batch)])
        x = x_u8.reshape(len(x_u8), 1, IMAGE_SIDE, IMAGE_SIDE).astype(np.float32) * np.float32(INPUT_SCALE)
        for i in range(nc):
            x = max_pool2(np.maximum(conv3x3_valid(x, state[f"convs.{i}.weight"], state[f"convs.{i}.bias"]), 0))
        x = x.reshape(len(x), -1)
    else:
        x = x_u8.reshape(len(x_u8), -1).astype(np.float32) * np.float32(INPUT_SCALE)
    n = (len(state) - 2 * nc) // 2
    for i in range(n):
        x = x @ state[f"layers.{i}.weight"].T + state[f"layers.{i}.bias"]
        if i < n - 1:
            x = np.maximum(x, 0)
    return x
