"""pico4ml-export-cnn-int8: render the int8 CNN to C with TinyGrad's C renderer.

The integer forward pass of pico4ml.train.quantize_cnn is written as TinyGrad tensor ops
(3x3 windows as views of the input, uint8 x int8 products summed in int32, clamp,
multiply, shift, 2x2 max) and rendered through export/tinygrad_c.py like the MLPs.
TinyGrad fuses each convolution with its requantisation and pool into one kernel, so
only the pooled uint8 maps are stored. Writes into firmware/pico4ml/core/model/:

  model_cnn_int8.c               void net_cnn_int8(const uint8_t *input, int32_t *output)
  model_cnn_int8.h               sizes, scales, hashes
  model_cnn_int8_test_vectors.h  MNIST test images with the reference int32 outputs

    pico4ml-export-cnn-int8 --model models/cnn8_24_10_int8.safetensors --force
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tinygrad import Tensor, dtypes

from pico4ml.common.argtypes import ranged
from pico4ml.common.paths import MODEL_C_DIR, REPO_ROOT
from pico4ml.export.export import ModelTooBigError, check_fits
from pico4ml.export.files import display_path, refuse_existing, run_cli, write_all
from pico4ml.export.int8 import c_source
from pico4ml.export.test_vectors import test_vectors_text
from pico4ml.export.tinygrad_c import TINYGRAD_VERSION, RenderedC, RenderError, render_function
from pico4ml.train.models import IMAGE_SIDE
from pico4ml.train.quantize import QuantizeError
from pico4ml.train.quantize_cnn import QuantizedCNN, cnn_int8_forward, load_quantized

PREFIX = "model_cnn_int8"
FUNC = "net_cnn_int8"
DEFAULT_MODEL = REPO_ROOT / "models" / "cnn8_24_10_int8.safetensors"
# Scalar unrolling per rendered kernel (0, 1: the convs; then the dense layers): the 3x3
# window of each conv unrolled. Measured on the emulated M0+ for cnn8_24_10: none 5.75 M
# cycles (cnn8_16_10), 3x3 unrolled 2.54 M; also upcasting 2 output channels 3.04 M, the
# dense layer's 10 outputs by 5 2.66 M (register pressure on the M0+'s 8 low registers).
KERNEL_OPTS: dict[int, list[tuple[str, int, int]]] = {0: [("UNROLL", 0, 3), ("UNROLL", 0, 3)],
                                                      1: [("UNROLL", 1, 3), ("UNROLL", 1, 3)]}


def tinygrad_cnn_int8(q: QuantizedCNN) -> tuple[callable, dict[int, str]]:
    """The integer forward pass as a TinyGrad function of one uint8[784] image, and C names
    for its constants (keyed by id of their realized buffers)."""
    consts: dict[str, Tensor] = {}
    for name, a in q.tensors().items():
        key = name.replace("convs.", "c").replace("layers.", "l").replace(".", "_")
        consts[key] = Tensor(np.ascontiguousarray(a)).realize()
    names = {id(t.uop.base.buffer): f"{PREFIX}_{n}" for n, t in consts.items()}
    rnd = 1 << (q.shift - 1)

    def requant(acc: Tensor, cap: Tensor, mult: Tensor) -> Tensor:
        return ((acc.maximum(0).minimum(cap) * mult + rnd) >> q.shift).cast(dtypes.uint8)

    def conv_pool(h: Tensor, i: int) -> Tensor:
        w = consts[f"c{i}_weight"]
        co, ci = w.shape[0], w.shape[1]
        side = h.shape[-1] - 2
        # [1, ci, side, side, 3, 3] windows: views only, no copies
        win = h.cast(dtypes.int32).reshape(1, ci, side + 2, side + 2)._pool((3, 3))
        acc = (win.reshape(1, 1, ci, side, side, 3, 3) * w.cast(dtypes.int32).reshape(1, co, ci, 1, 1, 3, 3)) \
            .sum((2, 5, 6), dtype=dtypes.int32).reshape(co, side, side)
        acc = acc + consts[f"c{i}_bias"].reshape(co, 1, 1)
        qv = requant(acc, consts[f"c{i}_cap"].reshape(co, 1, 1), consts[f"c{i}_mult"].reshape(co, 1, 1))
        o = side // 2
        # uint8 maps in RAM, not int32: contiguous() stores the pooled bytes before the next cast
        return qv[:, :o * 2, :o * 2].reshape(co, o, 2, o, 2).max((2, 4)).contiguous()

    def dense(h: Tensor, i: int) -> Tensor:
        w = consts[f"l{i}_weight"]
        return (h.cast(dtypes.int32).reshape(-1, 1) * w.cast(dtypes.int32)).sum(0, dtype=dtypes.int32)

    def forward(x: Tensor) -> Tensor:
        h = x.reshape(1, IMAGE_SIDE, IMAGE_SIDE)
        for i in range(len(q.convs)):
            h = conv_pool(h, i)
        h = h.reshape(-1)
        for i in range(len(q.hidden)):
            acc = dense(h, i) + consts[f"l{i}_bias"]
            h = requant(acc, consts[f"l{i}_cap"], consts[f"l{i}_mult"]).contiguous()
        n = len(q.hidden)
        return dense(h, n) * consts[f"l{n}_mult"] + consts[f"l{n}_bias"]

    return forward, names


def render_cnn_int8(q: QuantizedCNN, func: str = FUNC, kernel_opts=None) -> RenderedC:
    forward, names = tinygrad_cnn_int8(q)
    return render_function(forward, (IMAGE_SIDE * IMAGE_SIDE,), dtypes.uint8, func, names,
                           KERNEL_OPTS if kernel_opts is None else kernel_opts)


def header_text(q: QuantizedCNN, r: RenderedC, source: Path) -> str:
    m = q.metadata
    p = PREFIX.upper()
    convs = "-".join(str(c) for c in q.conv_channels)
    return f"""/* {PREFIX}.h: the int8 {m.get('architecture', '')} MNIST CNN. Generated by pico4ml-export-cnn-int8 from
 * {display_path(source)} with TinyGrad {TINYGRAD_VERSION}'s C renderer. Do not edit: re-quantise / re-export instead.
 *
 * Input: the 28x28 uint8 image from preprocessing as it is (white ink = 255 on black = 0,
 * row-major). Layers: 3x3 valid convolutions with {convs} channels, each with ReLU +
 * requantisation + 2x2 max pool, then dense {'-'.join(str(w) for w in q.widths)}. Output: 10 int32 logits,
 * logit = output * {p}_OUTPUT_SCALE (argmax needs no scaling). Integer only, constants const
 * (flash); {FUNC}() uses {p}_SCRATCH_BYTES of static RAM, no heap.
 */
#ifndef {p}_H
#define {p}_H

#include <stdint.h>

#define {p}_NAME "{m.get('architecture', 'cnn')}-int8"
#define {p}_INPUT_SIZE {r.input_size}
#define {p}_OUTPUT_SIZE {r.output_size}
#define {p}_SHIFT {q.shift}
#define {p}_OUTPUT_SCALE {q.output.out_scale:.9g}f
#define {p}_WEIGHTS_SHA256 "{q.sha256()}"
#define {p}_FLOAT_WEIGHTS_SHA256 "{m.get('float_weights_sha256', '')}"
#define {p}_WEIGHT_BYTES {r.const_bytes}
#define {p}_SCRATCH_BYTES {r.scratch_bytes}
#define {p}_MNIST_ACCURACY_PPM {round(m.get('int8_accuracy', 0) * 1e6)}

void {FUNC}(const uint8_t *input, int32_t *output);

#endif
"""


def cnn_test_vectors_text(inputs: np.ndarray, labels: np.ndarray, outputs: np.ndarray) -> str:
    return test_vectors_text(PREFIX, "MNIST test images (CC BY-SA 3.0, LeCun/Cortes/Burges) and the int32\n"
                             " * outputs of the numpy integer reference (pico4ml.train.quantize_cnn.cnn_int8_forward), which\n"
                             f" * {FUNC}() must equal exactly. Generated by pico4ml-export-cnn-int8. Do not edit.",
                             inputs, labels, outputs)


def export_cnn_int8(int8_model: Path, out_dir: Path, vectors: int = 8, data_dir: str | None = None,
                    force: bool = False) -> list[Path]:
    """Write model_cnn_int8.c/.h and model_cnn_int8_test_vectors.h into out_dir; returns their paths."""
    from pico4ml.train.data import load_mnist
    outputs = [out_dir / f"{PREFIX}.c", out_dir / f"{PREFIX}.h", out_dir / f"{PREFIX}_test_vectors.h"]
    refuse_existing(outputs, force)
    q = load_quantized(int8_model)
    r = render_cnn_int8(q)
    check_fits(r.const_bytes, r.scratch_bytes)  # before anything is written
    _, _, x_test, y_test = load_mnist(data_dir)
    inputs, labels = x_test[:vectors], y_test[:vectors]
    banner = (f"/* {PREFIX}.c: integer forward pass of the {q.metadata.get('architecture', '')} CNN rendered by "
              f"TinyGrad {TINYGRAD_VERSION} (ClangRenderer, scalar).\n * Generated by pico4ml-export-cnn-int8 from "
              f"{display_path(int8_model)}. Do not edit. int8 sha256 {q.sha256()[:16]}... */")
    texts = [c_source(r, banner, f"{PREFIX}.h", "static const"), header_text(q, r, int8_model),
             cnn_test_vectors_text(inputs, labels, cnn_int8_forward(q, inputs))]
    return write_all(outputs, texts)


def main(argv: list[str] | None = None) -> int:
    from pico4ml.train.data import MnistError
    p = argparse.ArgumentParser(prog="pico4ml-export-cnn-int8", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                   help="int8 CNN from pico4ml-quantize (default %(default)s)")
    p.add_argument("--out-dir", type=Path, default=MODEL_C_DIR, help="where the C files go (default %(default)s)")
    p.add_argument("--vectors", type=ranged(int, 1, 10000), default=8,
                   help="number of MNIST test vectors to emit (1..10000)")
    p.add_argument("--data-dir", help="MNIST directory (for the test vectors)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    args = p.parse_args(argv)
    return run_cli(lambda: export_cnn_int8(args.model, args.out_dir, args.vectors, args.data_dir, args.force),
                   args.out_dir, (QuantizeError, MnistError, RenderError, ModelTooBigError))


if __name__ == "__main__":
    sys.exit(main())
