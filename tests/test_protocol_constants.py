"""Every constant the C and the Python share agrees: message ids, flags, sizes, error, status and
reason codes, stream mask bits, camera modes, versions.

The names come from parsing the C headers (core/protocol.h, and the wire-visible parts of
preprocess.h, classifier.h and device.h); their values from the C compiler itself (a program
generated here prints each one), so a macro expression or an enum counts as the compiler sees
it. Each must have its Python counterpart with the same value, and each Python protocol
constant must have its C one: a constant added on one side only fails here."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from conftest import host_build
from pico4ml.common import pp_params
from pico4ml.common import protocol as P
from pico4ml.common.paths import CORE_DIR
from pico4ml.train import preprocess as train_pp

pytestmark = pytest.mark.hostc

# Constants of the other headers that reach the wire, C name -> name in common/protocol.py.
ALIASES = {"CLASSIFIER_DIGIT": "STATUS_DIGIT", "CLASSIFIER_NO_DIGIT": "STATUS_NO_DIGIT",
           "CLASSIFIER_UNSURE": "STATUS_UNSURE", "CLASSIFIER_KIND_FLOAT": "MODEL_FLOAT",
           "CLASSIFIER_KIND_INT8": "MODEL_INT8", "DEVICE_DEFAULT_STREAM_MASK": "STREAM_DEFAULT"}
DEFAULTS = {"DEVICE_DEFAULT_MAX_SIDE": P.SetStream().max_side}  # a default of a message field
# Python protocol constants with no C twin, and why.
PYTHON_ONLY = {"MAX_ENCODED"}  # PROTO_COBS_MAX(PROTO_MAX_PACKET), a function-like macro: checked below


def c_names(header: Path, prefix: str) -> list[str]:
    """Object-like #defines and enum members starting with prefix (function-like macros skipped)."""
    text = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
    names = re.findall(rf"^\s*#define\s+({prefix}\w*)[ \t]+\S", text, flags=re.M)
    for body in re.findall(r"enum\s*\w*\s*\{(.*?)\}", text, flags=re.S):
        names += re.findall(rf"\b({prefix}\w*)\s*=", body)
    return list(dict.fromkeys(n for n in names if n != f"{header.stem.upper()}_H"))


@pytest.fixture(scope="module")
def c_values(tmp_path_factory) -> dict[str, int]:
    names = (c_names(CORE_DIR / "protocol.h", "PROTO") + c_names(CORE_DIR / "preprocess.h", "PP_")
             + list(ALIASES) + list(DEFAULTS))
    src = tmp_path_factory.mktemp("constants") / "print_constants.c"
    lines = [f'    printf("%s %lld\\n", "{n}", (long long)({n}));' for n in names]
    lines.append('    printf("COBS_MAX_PACKET %lld\\n", (long long)PROTO_COBS_MAX(PROTO_MAX_PACKET));')
    src.write_text('#include <stdio.h>\n#include "device.h"\n\nint main(void) {\n' + "\n".join(lines)
                   + "\n    return 0;\n}\n")
    exe = host_build("print_constants", [src], include_dirs=[CORE_DIR, CORE_DIR / "model"])
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=60).stdout
    values = {k: int(v) for k, v in (line.split() for line in out.splitlines())}
    assert len(values) == len(names) + 1
    return values


def python_value(c_name: str):
    """The Python counterpart of a C constant, or None when there is none."""
    if c_name in ALIASES:
        return getattr(P, ALIASES[c_name])
    if c_name in DEFAULTS:
        return DEFAULTS[c_name]
    if c_name == "PROTOCOL_VERSION":
        return P.PROTOCOL_VERSION
    if c_name.startswith("PP_"):
        name = c_name[3:]
        for module in (pp_params, P, train_pp):
            if hasattr(module, name):
                return getattr(module, name)
        return None
    name = c_name.removeprefix("PROTO_")
    if name in P.MESSAGE_NAMES:
        return P.MESSAGE_NAMES[name].TYPE
    m = re.fullmatch(r"(\w+?)(_HDR)?_SIZE", name)
    if m and m.group(1) in P.MESSAGE_NAMES:
        cls = P.MESSAGE_NAMES[m.group(1)]
        return cls._layout().size if m.group(2) else cls.fixed_size()
    if name == "SET_STREAM_SIZE":
        return P.SetStream.fixed_size()
    return getattr(P, name, None)


def test_the_headers_have_what_this_test_expects(c_values):
    # a parser that found nothing would pass everything below
    assert len([n for n in c_values if n.startswith("PROTO")]) > 70
    for n in ("PROTO_CANDIDATES", "PROTO_STATUS_UNSURE", "PROTO_CAM_MODE_FULL", "PP_CAND_WEAKER", "PP_ND_EMPTY",
              "PROTO_STREAM_LOG", "PROTO_ERR_UNSUPPORTED", "PROTO_RESULT_SIZE", "PP_PARAMS_SIZE"):
        assert n in c_values, n


def test_every_c_constant_has_the_same_value_in_python(c_values):
    missing, differ = [], []
    for name, value in c_values.items():
        if name == "COBS_MAX_PACKET":
            continue
        py = python_value(name)
        if py is None:
            missing.append(name)
        elif int(py) != value:
            differ.append(f"{name}: C {value}, Python {py}")
    assert not missing, f"C constants with no Python counterpart: {missing}"
    assert not differ, "C and Python disagree: " + "; ".join(differ)
    assert c_values["COBS_MAX_PACKET"] == P.MAX_ENCODED == P.cobs_max(P.MAX_PACKET)


def test_every_python_constant_has_a_c_twin(c_values):
    c_side = {ALIASES.get(n, n.removeprefix("PROTO_").removeprefix("PP_")) for n in c_values}
    py_consts = {n for n, v in vars(P).items() if n.isupper() and isinstance(v, int) and not n.startswith("_")}
    extra = py_consts - c_side - PYTHON_ONLY
    assert not extra, f"Python protocol constants missing from the C headers: {sorted(extra)}"
    # and every message type of the Python table has its C type code
    assert {f"PROTO_{name}" for name in P.MESSAGE_NAMES} <= set(c_values)


def test_camera_modes_the_firmware_builds_with_are_the_wire_ones():
    """CMakeLists.txt maps PICO4ML_CAM_MODE to the protocol's numbers by hand."""
    cmake = (CORE_DIR.parent / "CMakeLists.txt").read_text()
    assert re.search(r"set\(PICO4ML_CAM_MODE_VALUE (\d)\)\s*# PROTO_CAM_MODE_FULL", cmake).group(1) == \
        str(P.CAM_MODE_FULL)
    assert re.search(r"set\(PICO4ML_CAM_MODE_VALUE (\d)\)\s*# PROTO_CAM_MODE_BINNED", cmake).group(1) == \
        str(P.CAM_MODE_BINNED)
