"""The <stem>_test_vectors.h every exporter writes: MNIST test images, their labels and the
outputs the generated C must reproduce, as C arrays."""
from __future__ import annotations

from typing import Callable

import numpy as np


def test_vectors_text(stem: str, about: str, inputs: np.ndarray, labels: np.ndarray, outputs: np.ndarray,
                      c_type: str = "int32_t", array: str = "outputs",
                      number: Callable[[object], str] = lambda v: str(int(v))) -> str:
    """The header text: `about` finishes the opening comment "Test vectors for <stem>: ...";
    the outputs are <stem>_test_<array>, c_type, each value written by `number`."""
    p = stem.upper()
    rows_in = ",\n".join("    {" + ", ".join(str(int(v)) for v in x.ravel()) + "}" for x in inputs)
    rows_out = ",\n".join("    {" + ", ".join(number(v) for v in y) + "}" for y in outputs)
    return f"""/* Test vectors for {stem}: {about} */
#ifndef {p}_TEST_VECTORS_H
#define {p}_TEST_VECTORS_H
#include <stdint.h>

#define {p}_TEST_COUNT {len(inputs)}
static const uint8_t {stem}_test_inputs[{len(inputs)}][{inputs[0].size}] = {{
{rows_in}
}};
static const uint8_t {stem}_test_labels[{len(inputs)}] = {{{", ".join(str(int(v)) for v in labels)}}};
static const {c_type} {stem}_test_{array}[{len(inputs)}][{outputs.shape[1]}] = {{
{rows_out}
}};

#endif
"""
