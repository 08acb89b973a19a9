"""pico4ml-export-int8: render the int8 model to C with TinyGrad's C renderer.

The integer forward pass of pico4ml.train.quantize is written as TinyGrad tensor ops
(uint8 x int8 products summed in int32, clamp, multiply, shift) and rendered through
export/tinygrad_c.py, like the float model. Writes into firmware/pico4ml/core/model/:

  model_int8.c               void net_int8(const uint8_t *input, int32_t *output)
  model_int8.h               sizes, scales, hashes, and the constants (extern, so the
                             hand-written net_int8_fast.c shares the one copy in flash)
  model_int8_test_vectors.h  MNIST test images with the reference int32 outputs

The output is 10 int32 logits on one common scale: logit = output * MODEL_INT8_OUTPUT_SCALE.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
from tinygrad import Tensor, dtypes

from pico4ml.export.export import ModelTooBigError, check_fits
from pico4ml.export.files import display_path, refuse_existing, run_cli, write_all
from pico4ml.export.test_vectors import test_vectors_text
from pico4ml.export.tinygrad_c import TINYGRAD_VERSION, RenderedC, RenderError, render_function
from pico4ml.train.quantize import QuantizedMLP, QuantizeError, int8_forward, int8_path, load_quantized
from pico4ml.common.argtypes import ranged
from pico4ml.common.paths import DEFAULT_CHECKPOINT, MODEL_C_DIR

PREFIX = "model_int8"
# Scalar unrolling for the hidden layer's kernel: 8 outputs x 2 inputs per loop step
# keeps accumulators in registers on the M0+ (4.45 M -> 2.47 M cycles in bench/rp2040.py).
KERNEL_OPTS = {0: [("UPCAST", 0, 8), ("UNROLL", 0, 2)], 1: [("UPCAST", 0, 5)]}


def _tensor(a: np.ndarray) -> Tensor:
    return Tensor(np.ascontiguousarray(a)).realize()


def tinygrad_int8(q: QuantizedMLP) -> tuple[callable, dict[int, str]]:
    """The integer forward pass as a TinyGrad function of one uint8[784] image, and C names
    for its constants (keyed by id of their realized buffers)."""
    consts: dict[str, Tensor] = {}
    for name, a in q.tensors().items():
        consts[PREFIX + "_" + name.replace("layers.", "l").replace(".", "_")] = _tensor(a)
    names = {id(t.uop.base.buffer): n for n, t in consts.items()}
    rnd = 1 << (q.shift - 1)

    def forward(x: Tensor) -> Tensor:
        h = x
        for i in range(len(q.hidden)):
            w, b = consts[f"{PREFIX}_l{i}_weight"], consts[f"{PREFIX}_l{i}_bias"]
            cap, mult = consts[f"{PREFIX}_l{i}_cap"], consts[f"{PREFIX}_l{i}_mult"]
            acc = (h.cast(dtypes.int32).reshape(-1, 1) * w.cast(dtypes.int32)).sum(0, dtype=dtypes.int32) + b
            h = ((acc.maximum(0).minimum(cap) * mult + rnd) >> q.shift).cast(dtypes.uint8)
        n = len(q.hidden)
        w, b, mult = consts[f"{PREFIX}_l{n}_weight"], consts[f"{PREFIX}_l{n}_bias"], consts[f"{PREFIX}_l{n}_mult"]
        acc = (h.cast(dtypes.int32).reshape(-1, 1) * w.cast(dtypes.int32)).sum(0, dtype=dtypes.int32)
        return acc * mult + b

    return forward, names


def _values(values: np.ndarray, per_line: int = 20) -> list[str]:
    items = [str(int(v)) for v in values.ravel().tolist()]
    return ["    " + ", ".join(items[i:i + per_line]) + "," for i in range(0, len(items), per_line)]


_KERNEL_PARAMS = re.compile(r"^(static void \w+\()(.*)(\) \{)$", re.M)


def _fixed_width_params(kernel: str) -> str:
    """TinyGrad's C says `int*` for int32 buffers; arm-none-eabi's int32_t is `long`, so say int32_t
    in kernel parameter lists (the bodies' scalar `int`s are 32-bit on both targets)."""
    def fix(params: str) -> str:
        return re.sub(r"(?<!unsigned )\bint\*", "int32_t*", params.replace("unsigned int*", "uint32_t*"))
    return _KERNEL_PARAMS.sub(lambda m: m.group(1) + fix(m.group(2)) + m.group(3), kernel)


def c_source(r: RenderedC, banner: str, header: str = f"{PREFIX}.h", storage: str = "_Alignas(4) const") -> str:
    """RenderedC's pieces with fixed-width parameters; by default the constants external
    (declared in the header, for net_int8_fast.c) and word-aligned so net_int8_fast.c can
    read four weights with one load."""
    out = [banner, f'#include "{header}"', "#include <stdint.h>", ""]
    for name, ctype, values in r.constants:
        out += [f"{storage} {ctype} {name}[{values.size}] = {{", *_values(values), "};", ""]
    out += [f"static {ctype} {name}[{count}];" for name, ctype, count in r.scratch] + [""]
    out += [_fixed_width_params(k) for k in r.kernels]
    out.append(f"void {r.func_name}(const {r.input_type} *input, {r.output_type} *output) {{")
    out += [f"    {c}" for c in r.calls] + ["}"]
    return "\n".join(out) + "\n"



def header_text(q: QuantizedMLP, r: RenderedC, source: Path) -> str:
    m = q.metadata
    widths = q.widths
    decls = "\n".join(f"extern const {ctype} {name}[{values.size}];" for name, ctype, values in r.constants)
    return f"""/* {PREFIX}.h: the int8 {m.get('architecture', '')} MNIST model. Generated by pico4ml-export-int8 from
 * {display_path(source)} with TinyGrad {TINYGRAD_VERSION}'s C renderer. Do not edit: re-quantise / re-export instead.
 *
 * Input: the 28x28 uint8 image from preprocessing as it is (white ink = 255 on black = 0,
 * row-major); its scale is 1/255, the float model's. Output: {widths[-1]} int32 logits on one
 * common scale, logit = output * MODEL_INT8_OUTPUT_SCALE (argmax needs no scaling).
 * Integer only: int8 weights (per-output-channel scales), uint8 activations, int32 sums,
 * requantisation (min(max(acc, 0), cap) * mult + 2^(SHIFT-1)) >> SHIFT. Constants are const
 * (flash); net_int8() uses MODEL_INT8_SCRATCH_BYTES of static RAM, no heap.
 */
#ifndef MODEL_INT8_H
#define MODEL_INT8_H

#include <stdint.h>

#define MODEL_INT8_NAME "{m.get('architecture', 'mlp')}-int8"
#define MODEL_INT8_INPUT_SIZE {widths[0]}
#define MODEL_INT8_HIDDEN_SIZE {widths[1]}
#define MODEL_INT8_OUTPUT_SIZE {widths[-1]}
#define MODEL_INT8_LAYERS {len(widths) - 1}
#define MODEL_INT8_SHIFT {q.shift}
#define MODEL_INT8_OUTPUT_SCALE {q.output.out_scale:.9g}f
#define MODEL_INT8_WEIGHTS_SHA256 "{q.sha256()}"
#define MODEL_INT8_FLOAT_WEIGHTS_SHA256 "{m.get('float_weights_sha256', '')}"
#define MODEL_INT8_WEIGHT_BYTES {r.const_bytes}
#define MODEL_INT8_SCRATCH_BYTES {r.scratch_bytes}
#define MODEL_INT8_MNIST_ACCURACY_PPM {round(m.get('int8_accuracy', 0) * 1e6)}

void net_int8(const uint8_t *input, int32_t *output);

/* The constants (weights input-major: l<i>_weight[in][out]). */
{decls}

#endif
"""


def int8_test_vectors_text(inputs: np.ndarray, labels: np.ndarray, outputs: np.ndarray) -> str:
    return test_vectors_text(PREFIX, "MNIST test images (CC BY-SA 3.0, LeCun/Cortes/Burges) and the int32\n"
                             " * outputs of the numpy integer reference (pico4ml.train.quantize.int8_forward), which net_int8()\n"
                             " * must equal exactly. Generated by pico4ml-export-int8. Do not edit.", inputs, labels, outputs)


def render_int8(q: QuantizedMLP, func: str = "net_int8") -> RenderedC:
    forward, names = tinygrad_int8(q)
    return render_function(forward, (q.widths[0],), dtypes.uint8, func, names, KERNEL_OPTS)


def export_int8(int8_model: Path, out_dir: Path, vectors: int = 8, data_dir: str | None = None,
                force: bool = False) -> list[Path]:
    """Write model_int8.c/.h and model_int8_test_vectors.h into out_dir; returns their paths."""
    from pico4ml.train.data import load_mnist
    outputs = [out_dir / f"{PREFIX}.c", out_dir / f"{PREFIX}.h", out_dir / f"{PREFIX}_test_vectors.h"]
    refuse_existing(outputs, force)
    q = load_quantized(int8_model)
    if len(q.widths) != 3:
        raise RenderError("the int8 export (and net_int8_fast.c) supports one hidden layer")
    r = render_int8(q)
    check_fits(r.const_bytes, r.scratch_bytes)  # before anything is written
    _, _, x_test, y_test = load_mnist(data_dir)
    inputs, labels = x_test[:vectors], y_test[:vectors]
    banner = (f"/* {PREFIX}.c: integer forward pass of {q.metadata.get('architecture', '')} rendered by TinyGrad "
              f"{TINYGRAD_VERSION} (ClangRenderer, scalar).\n * Generated by pico4ml-export-int8 from "
              f"{display_path(int8_model)}. Do not edit. int8 sha256 {q.sha256()[:16]}... */")
    texts = [c_source(r, banner), header_text(q, r, int8_model),
             int8_test_vectors_text(inputs, labels, int8_forward(q, inputs))]
    return write_all(outputs, texts)


def main(argv: list[str] | None = None) -> int:
    from pico4ml.train.data import MnistError
    p = argparse.ArgumentParser(prog="pico4ml-export-int8", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=int8_path(DEFAULT_CHECKPOINT),
                   help="int8 model from pico4ml-quantize (default %(default)s)")
    p.add_argument("--out-dir", type=Path, default=MODEL_C_DIR, help="where the C files go (default %(default)s)")
    p.add_argument("--vectors", type=ranged(int, 1, 10000), default=8,
                   help="number of MNIST test vectors to emit (1..10000)")
    p.add_argument("--data-dir", help="MNIST directory (for the test vectors)")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    args = p.parse_args(argv)
    return run_cli(lambda: export_int8(args.model, args.out_dir, args.vectors, args.data_dir, args.force),
                   args.out_dir, (QuantizeError, MnistError, RenderError, ModelTooBigError))


if __name__ == "__main__":
    sys.exit(main())
