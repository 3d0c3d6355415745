#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what mcubert needs on a fresh Debian machine: a C toolchain, CMake, clang (for
# the fuzzer), the Cortex-M cross toolchain with picolibc and QEMU (for the emulated-core
# tests), and a Python 3.11 virtual environment at .venv with the mcubert package.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in cc cmake clang arm-none-eabi-gcc qemu-system-arm; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
# picolibc is a separate package from the cross compiler.
if command -v arm-none-eabi-gcc >/dev/null 2>&1 &&
   [ "$(arm-none-eabi-gcc -print-file-name=picolibc.specs)" = picolibc.specs ]; then
  need+=(picolibc)
fi
if ((${#need[@]})); then
  pkgs=() xpkgs=()
  for t in "${need[@]}"; do
    case "$t" in
      cc) pkgs+=(gcc libc6-dev) ;; cmake) pkgs+=(cmake make) ;; clang) pkgs+=(clang) ;;
      arm-none-eabi-gcc) xpkgs+=(gcc-arm-none-eabi picolibc-arm-none-eabi) ;;
      picolibc) xpkgs+=(picolibc-arm-none-eabi) ;; qemu-system-arm) xpkgs+=(qemu-system-arm) ;;
    esac
  done
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  if ((${#pkgs[@]})); then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
  fi
  # Without recommends: qemu-system-arm would pull a graphical stack the tests never use.
  if ((${#xpkgs[@]})); then
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${xpkgs[@]}" >/dev/null
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# torch==2.13.0 is pinned in python/pyproject.toml: an unpinned torch would pull CUDA.
if ! out=$(.venv/bin/python -m pip install -q --disable-pip-version-check -e "python[test]" 2>&1); then
  echo "$out" >&2
  exit 1
fi
.venv/bin/python -c "import mcubert, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
