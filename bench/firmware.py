"""Benchmark of the firmware: code size for the Cortex-M0+, memory use of the SDK build,
and the accuracy of the full pipeline on the simulated camera test set.

    python bench/firmware.py                  # everything that can be measured here
    python bench/firmware.py --frames 500     # a smaller camera set (faster)
    python bench/firmware.py --model float    # the float build and the float pipeline

1. Every portable C file (firmware/pico4ml/core, core/model) cross-compiled with
   arm-none-eabi-gcc -mcpu=cortex-m0plus -mthumb -Os: text/data/bss per file and in total.
2. Where the Pico SDK is found ($PICO_SDK_PATH or ~/.pico-sdk/sdk/<version>): the firmware
   built (incrementally, under build/firmware*/), its static SRAM and flash use counted
   from the ELF (see pico4ml.common.fwbuild for exactly what is counted).
3. The board's pipeline, C preprocessing (default parameters) + the exported net(), built
   for the host and run through ctypes on the simulated camera test set
   (pico4ml.train.camera_set: 324x324 frames), and on the same frames 2x2-binned to
   162x162, which is what the firmware's camera mode delivers.

Prints its figures and ends with one JSON line of them (null where not measured).
"""
from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from pico4ml.common import fwbuild, manifest
from pico4ml.common.cbuild import BuildError
from pico4ml.common.paths import CORE_DIR
from pico4ml.host_twin.classify import FramePipeline

CROSS_FLAGS = ["-mcpu=cortex-m0plus", "-mthumb", "-Os", "-std=c11", "-Wall", "-Wextra"]


def portable_sizes(model: str | None) -> dict[str, dict[str, int]] | None:
    """{file: {text, data, bss}} for the portable C of one firmware build (None without the cross compiler)."""
    if shutil.which("arm-none-eabi-gcc") is None or shutil.which("arm-none-eabi-size") is None:
        return None
    entry = manifest.get(model)
    files = entry.portable_sources()
    defines = entry.defines()
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        for src in files:
            obj = Path(tmp) / (src.stem + ".o")
            cmd = ["arm-none-eabi-gcc", *CROSS_FLAGS, *defines, f"-I{CORE_DIR}", f"-I{CORE_DIR / 'model'}",
                   "-c", str(src), "-o", str(obj)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                raise RuntimeError(f"cross compile of {src.name} failed:\n{p.stderr}")
            out = subprocess.run(["arm-none-eabi-size", str(obj)], capture_output=True, text=True, check=True).stdout
            text, data, bss = (int(v) for v in re.findall(r"^\s*(\d+)\s+(\d+)\s+(\d+)", out, re.M)[0])
            sizes[str(src.relative_to(CORE_DIR))] = {"text": text, "data": data, "bss": bss}
    return sizes


def bin2x2(frames: np.ndarray) -> np.ndarray:
    """The sensor's 2x2 binning: mean of each 2x2 block, rounded."""
    f = frames.astype(np.uint16)
    s = f[:, 0::2, 0::2] + f[:, 1::2, 0::2] + f[:, 0::2, 1::2] + f[:, 1::2, 1::2]
    return ((s + 2) // 4).astype(np.uint8)


def accuracy(pipe: FramePipeline, frames: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    pred = np.array([pipe.classify(f)[0] for f in frames])
    return float((pred == labels).mean()), pred


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=2000, help="camera test frames to score (default %(default)s)")
    p.add_argument("--model", choices=manifest.choices(), default=manifest.default_name(),
                   help="which manifest model the firmware and the pipeline use (default %(default)s, as CMake's)")
    p.add_argument("--no-build", action="store_true", help="do not build the firmware even if the SDK is present")
    p.add_argument("--data-dir", help="MNIST directory (default: see pico4ml.train.data)")
    args = p.parse_args(argv)
    figures: dict = {"model": manifest.get(args.model).name}

    # 1. portable C for the M0+
    sizes = portable_sizes(args.model)
    if sizes is None:
        print("portable C sizes: skipped (arm-none-eabi-gcc not installed)")
        figures.update(portable_text=None, portable_data=None, portable_bss=None, portable_code_text=None)
    else:
        print(f"portable C, arm-none-eabi-gcc {' '.join(CROSS_FLAGS)}:")
        print(f"  {'file':28s} {'text':>9s} {'data':>6s} {'bss':>7s}")
        for name, s in sizes.items():
            print(f"  {name:28s} {s['text']:9d} {s['data']:6d} {s['bss']:7d}")
        tot = {k: sum(s[k] for s in sizes.values()) for k in ("text", "data", "bss")}
        code = sum(s["text"] for n, s in sizes.items() if not n.startswith("model/"))
        print(f"  {'total':28s} {tot['text']:9d} {tot['data']:6d} {tot['bss']:7d}"
              f"   (code without the model: {code} B text)")
        figures.update(portable_text=tot["text"], portable_data=tot["data"], portable_bss=tot["bss"],
                       portable_code_text=code)

    # 2. the SDK build
    figures.update(sram_static_bytes=None, flash_bytes=None)
    sdk = fwbuild.find_pico_sdk()
    if args.no_build:
        print("firmware: not built (--no-build)")
    elif sdk is None:
        print("firmware: skipped (Pico SDK not found: set PICO_SDK_PATH)")
    else:
        t0 = time.perf_counter()
        try:
            fw = fwbuild.build_firmware(sdk=sdk, model=args.model)
        except fwbuild.FirmwareBuildError as e:
            print(f"firmware: build failed: {e}", file=sys.stderr)
        else:
            m = fwbuild.memory_use(fw.elf)
            print(f"firmware ({sdk}, {time.perf_counter() - t0:.0f} s): {fw.elf}"
                  f"{'' if fw.uf2 else ' (no UF2: no picotool)'}")
            print(f"  static SRAM {m['sram_static_bytes']} B of {m['sram_budget_bytes']} B budget: "
                  + ", ".join(f"{k} {v}" for k, v in m["sram_sections"].items()))
            print(f"  flash {m['flash_bytes']} B of {m['flash_budget_bytes']} B budget")
            sec = m["sram_sections"]
            figures.update(sram_static_bytes=m["sram_static_bytes"], flash_bytes=m["flash_bytes"],
                           sram_budget_bytes=m["sram_budget_bytes"], flash_budget_bytes=m["flash_budget_bytes"],
                           sram_sections=sec, sram_vector_table=sec.get(".ram_vector_table", 0),
                           sram_data=sec.get(".data", 0), sram_bss=sec.get(".bss", 0), sram_heap=sec.get(".heap", 0),
                           sram_stack0=sec.get(".stack_dummy", 0), sram_stack1=sec.get(".stack1_dummy", 0))

    # 3. camera accuracy of the full pipeline
    figures.update(camera_accuracy=None, camera_accuracy_binned162=None, camera_frames=0)
    try:
        from pico4ml.train.camera_set import camera_test_set
        pipe = FramePipeline(model=args.model)
        frames, labels, printed = camera_test_set(args.frames, data_dir=args.data_dir)
    except (BuildError, OSError, RuntimeError, ImportError) as e:
        print(f"camera accuracy: skipped ({e})")
    else:
        t0 = time.perf_counter()
        acc, pred = accuracy(pipe, frames, labels)
        acc162, _ = accuracy(pipe, bin2x2(frames), labels)
        dt = time.perf_counter() - t0
        ok = pred == labels
        print(f"camera test set: {len(labels)} frames {frames.shape[1]}x{frames.shape[2]}, model {pipe.model_name}")
        print(f"  C preprocessing + net(): {acc:.4f} (handwritten {ok[~printed].mean():.4f}, "
              f"printed {ok[printed].mean():.4f})")
        print(f"  same frames 2x2-binned to 162x162 (the firmware's mode): {acc162:.4f}   [{dt:.1f} s]")
        figures.update(camera_accuracy=acc, camera_accuracy_binned162=acc162, camera_frames=int(len(labels)))

    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
