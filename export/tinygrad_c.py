"""Render a TinyGrad computation to one dependency-free C function.

This is the only module that touches TinyGrad internals (pinned in pyproject.toml and
constraints.txt), so a version bump changes this file alone. It schedules the forward pass, lowers
it with TinyGrad's own ClangRenderer, and stitches the kernels into

    void <name>(const <in_t> *input, <out_t> *output);

with every weight (any buffer the graph reads but never writes) as a `static const`
array, so it stays in flash, and every intermediate as a static array (no heap,
no stack frames of kilobytes). Rendering is scalar (no optimiser upcasts, no
threads), so the result contains no clang vector extensions and any C11 compiler
(gcc, arm-none-eabi-gcc) accepts it.
"""
from __future__ import annotations

import re
from importlib.metadata import version
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from tinygrad import Context, Device, Tensor, dtypes
from tinygrad.dtype import DType
from tinygrad.engine.realize import compile_linear
from tinygrad.uop.ops import Ops

TINYGRAD_VERSION = version("tinygrad")  # the installed one, named in every generated file
C_TYPES = {dtypes.float32: "float", dtypes.int8: "int8_t", dtypes.uint8: "uint8_t", dtypes.int16: "int16_t",
           dtypes.uint16: "uint16_t", dtypes.int32: "int32_t", dtypes.uint32: "uint32_t", dtypes.bool: "_Bool"}
NP_TYPES = {dtypes.float32: np.float32, dtypes.int8: np.int8, dtypes.uint8: np.uint8, dtypes.int16: np.int16,
            dtypes.uint16: np.uint16, dtypes.int32: np.int32, dtypes.uint32: np.uint32, dtypes.bool: np.bool_}


class RenderError(RuntimeError):
    """The graph uses something this exporter cannot turn into portable C."""


@dataclass
class RenderedC:
    """The pieces of the generated C file, assembled by `source()`."""
    func_name: str
    input_type: str
    output_type: str
    input_size: int
    output_size: int
    constants: list[tuple[str, str, np.ndarray]] = field(default_factory=list)  # (name, ctype, values)
    scratch: list[tuple[str, str, int]] = field(default_factory=list)            # (name, ctype, count)
    kernels: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)

    @property
    def const_bytes(self) -> int:
        return sum(v.nbytes for _, _, v in self.constants)

    @property
    def scratch_bytes(self) -> int:
        return sum(n * np.dtype(_np_of_ctype(t)).itemsize for _, t, n in self.scratch)

    def source(self, header_name: str, banner: str) -> str:
        out = [banner, f'#include "{header_name}"', "#include <stdint.h>", ""]
        for name, ctype, values in self.constants:
            out.append(f"static const {ctype} {name}[{values.size}] = {{")
            out.extend(_format_values(values.ravel(), ctype))
            out.append("};")
            out.append("")
        for name, ctype, count in self.scratch:
            out.append(f"static {ctype} {name}[{count}];")
        out.append("")
        out.extend(self.kernels)
        out.append(f"void {self.func_name}(const {self.input_type} *input, {self.output_type} *output) {{")
        out.extend(f"    {c}" for c in self.calls)
        out.append("}")
        return "\n".join(out) + "\n"


def _np_of_ctype(ctype: str):
    return {C_TYPES[d]: NP_TYPES[d] for d in C_TYPES}[ctype]


def _format_values(values: np.ndarray, ctype: str, per_line: int = 8) -> list[str]:
    if ctype == "float":
        if not np.all(np.isfinite(values)):
            raise RenderError("weights contain NaN or infinity")
        # %.9g round-trips every float32; a literal needs a '.' or an exponent before the f suffix
        items = []
        for v in values.astype(np.float32).tolist():
            s = "%.9g" % v
            items.append(s + ("f" if ("." in s or "e" in s) else ".0f"))
    else:
        items = [str(int(v)) for v in values.tolist()]
    return ["    " + ", ".join(items[i:i + per_line]) + "," for i in range(0, len(items), per_line)]


_SIGNATURE = re.compile(r"^void (\w+)\((.*)\) \{$", re.M)


def _portable_kernel(src: str, read_only: set[int]) -> tuple[str, str]:
    """Make a rendered kernel static, mark read-only buffers const, and reject vector extensions."""
    if "ext_vector_type" in src or "__attribute__" in src or "__builtin" in src:
        raise RenderError("rendered kernel uses clang-only extensions; render with optimisations off")
    m = _SIGNATURE.search(src)
    if m is None:
        raise RenderError("unexpected kernel signature from TinyGrad's renderer:\n" + src[:400])
    params = []
    for i, param in enumerate(m.group(2).split(", ")):
        params.append(("const " + param) if i in read_only and "*" in param else param)
    body = src[:m.start()] + f"static void {m.group(1)}({', '.join(params)}) {{" + src[m.end():]
    return m.group(1), body.strip() + "\n"


def _with_kernel_opts(linear, kernel_opts: dict[int, list[tuple[str, int, int]]]):
    """Attach explicit optimisations, e.g. {0: [("UPCAST", 0, 8), ("UNROLL", 0, 2)]}, to the i-th kernel."""
    from dataclasses import replace
    from tinygrad.codegen.opt import Opt, OptOps
    calls = []
    for i, call in enumerate(linear.src):
        sink = call.src[0]
        if i in kernel_opts:
            opts = tuple(Opt(OptOps[op], axis, arg) for op, axis, arg in kernel_opts[i])
            sink = sink.replace(arg=replace(sink.arg, opts_to_apply=opts))
        calls.append(call.replace(src=(sink, *call.src[1:])))
    return linear.replace(src=tuple(calls))


def render_function(fn: Callable[[Tensor], Tensor], input_shape: tuple[int, ...], input_dtype: DType,
                    func_name: str, names: dict[int, str] | None = None,
                    kernel_opts: dict[int, list[tuple[str, int, int]]] | None = None) -> RenderedC:
    """Render `fn(input) -> output` to C. `names` maps id(Buffer) of weights to readable array names.

    `kernel_opts` (optional) gives explicit scalar unrolling per kernel index, e.g.
    {0: [("UPCAST", 0, 8), ("UNROLL", 0, 2)]}; everything else is rendered unoptimised.
    """
    renderer = Device["CPU"].renderer
    saved = renderer.has_threads, renderer.supports_float4
    renderer.has_threads = False  # one core_id-free loop nest per kernel, not a thread pool
    renderer.supports_float4 = False  # unrolled loads stay scalar: no clang vector types
    try:
        x = Tensor.empty(*input_shape, dtype=input_dtype).realize()
        out = fn(x)
        if not isinstance(out, Tensor):
            raise RenderError("the function must return one Tensor")
        linear = out.schedule_linear()
        if kernel_opts:
            linear = _with_kernel_opts(linear, kernel_opts)
        # PARALLEL=0: compile in this process, where the renderer settings above apply
        # (worker processes would build their own default renderer)
        with Context(NOOPT=1, PARALLEL=0):
            linear = compile_linear(linear)
    finally:
        renderer.has_threads, renderer.supports_float4 = saved
    in_buf, out_buf = x.uop.base.buffer, out.uop.base.buffer
    names = names or {}

    written = set()
    for call in linear.src:
        prg = call.src[0]
        if prg.op is not Ops.PROGRAM:
            raise RenderError(f"schedule step {prg.op} is not a kernel (copies or custom functions cannot be exported)")
        args = call.src[1:]
        written |= {args[i].key for i in prg.arg.outs}

    result = RenderedC(func_name, C_TYPES[input_dtype], C_TYPES[out.dtype], int(np.prod(input_shape)),
                       int(np.prod(out.shape)))
    arg_names: dict[bytes, str] = {}
    seen_kernels: dict[str, str] = {}
    for call in linear.src:
        prg = call.src[0]
        args = call.src[1:]
        params = []
        for u in args:
            if u.is_bound_var:
                raise RenderError("symbolic shapes are not supported by the C export")
            if u.key not in arg_names:
                buf = u.buffer if u.op is Ops.BUFFER else None
                ctype = C_TYPES.get(u.dtype.base if hasattr(u.dtype, "base") else u.dtype)
                if ctype is None:
                    raise RenderError(f"dtype {u.dtype} has no C type in the export")
                if buf is in_buf:
                    arg_names[u.key] = "input"
                elif buf is out_buf:
                    arg_names[u.key] = "output"
                elif u.key in written:
                    name = f"scratch{len(result.scratch)}"
                    result.scratch.append((name, ctype, int(np.prod(u.shape))))
                    arg_names[u.key] = name
                elif buf is not None:
                    name = names.get(id(buf), f"const{len(result.constants)}")
                    data = np.frombuffer(bytes(buf.as_memoryview()), dtype=NP_TYPES[u.dtype]).copy()
                    result.constants.append((name, ctype, data))
                    arg_names[u.key] = name
                else:
                    raise RenderError(f"cannot export a kernel argument of kind {u.op}")
            params.append(arg_names[u.key])
        src = [s for s in prg.src if s.op is Ops.SOURCE][0].arg
        read_only = set(prg.arg.ins) - set(prg.arg.outs)
        kname, body = _portable_kernel(src, read_only)
        if seen_kernels.get(kname, body) != body:
            raise RenderError(f"two different kernels are both named {kname}")
        if kname not in seen_kernels:
            seen_kernels[kname] = body
            result.kernels.append(body)
        result.calls.append(f"{kname}({', '.join(params)});")
    return result


def buffer_names(state: dict[str, Tensor]) -> dict[int, str]:
    """id(Buffer) -> C identifier for each realized weight tensor."""
    return {id(t.uop.base.buffer): re.sub(r"\W", "_", k) for k, t in state.items()}
