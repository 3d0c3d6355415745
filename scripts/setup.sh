#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what mcubert needs on a fresh Debian machine: a C toolchain, CMake, clang (for
# the fuzzer) and a Python 3.11 virtual environment at .venv with the mcubert package.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for tool in cc cmake clang; do
  command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if ((${#need[@]})); then
  pkgs=()
  for t in "${need[@]}"; do
    case "$t" in cc) pkgs+=(gcc libc6-dev) ;; cmake) pkgs+=(cmake make) ;; clang) pkgs+=(clang) ;; esac
  done
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null
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
