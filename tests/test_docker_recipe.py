"""The Docker build recipe (docker/, .devcontainer/) stays equivalent to the tested build:
same SDK and picotool versions, same CMake project, picotool without libusb, output in the
repository's build dir. Docker itself cannot run here, so this checks the recipe's text."""
from __future__ import annotations

import json
import re

from pico4ml.common import fwbuild
from pico4ml.common.paths import FIRMWARE_DIR, REPO_ROOT

DOCKER = REPO_ROOT / "docker"


def test_dockerfile_pins_the_tested_versions():
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM debian:bookworm", text, re.M), "toolchain is Debian bookworm's GCC 12"
    assert f"ARG PICO_SDK_VERSION={fwbuild.SDK_VERSION}" in text
    assert f"ARG PICOTOOL_VERSION={fwbuild.SDK_VERSION}" in text
    assert re.search(r"gcc-arm-none-eabi=15:12\.2\.rel1", text), "cross GCC version pinned"
    assert "--branch ${PICO_SDK_VERSION}" in text and "submodule update --init" in text and "lib/tinyusb" in text
    assert "-DPICOTOOL_NO_LIBUSB=1" in text
    cmake = (FIRMWARE_DIR / "CMakeLists.txt").read_text()
    assert f"set(PICO4ML_SDK_VERSION {fwbuild.SDK_VERSION})" in cmake


def test_compose_build_service_builds_the_uf2_into_the_repo():
    text = (DOCKER / "compose.yaml").read_text()
    assert re.search(r"^services:\s*\n\s+build:", text, re.M)
    assert "..:/work" in text, "the repository is mounted, so the UF2 lands in its build/ dir"
    assert "-S firmware/pico4ml" in text and "-Dpicotool_DIR=" in text
    assert "pico4ml_mnist.uf2" in text


def test_devcontainer_uses_the_same_dockerfile():
    cfg = json.loads((REPO_ROOT / ".devcontainer" / "devcontainer.json").read_text())
    assert cfg["build"]["dockerfile"] == "../docker/Dockerfile"
    assert (REPO_ROOT / ".devcontainer" / cfg["build"]["dockerfile"]).resolve() == (DOCKER / "Dockerfile").resolve()


def test_sdk_import_is_not_copied_into_the_repo():
    assert not list(REPO_ROOT.glob("firmware/**/pico_sdk_import.cmake")), "include the SDK's own copy"
    cmake = (FIRMWARE_DIR / "CMakeLists.txt").read_text()
    assert "include(${PICO_SDK_PATH}/external/pico_sdk_import.cmake)" in cmake
    include = re.search(r"^include\(\$\{PICO_SDK_PATH\}/external/pico_sdk_import\.cmake\)", cmake, re.M)
    project = re.search(r"^project\(", cmake, re.M)
    assert include and project and include.start() < project.start(), "the SDK import must come before project()"
