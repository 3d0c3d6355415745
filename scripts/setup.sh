#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what mcubert needs on a fresh Debian machine: a C toolchain, CMake, clang (for
# the fuzzer), the Cortex-M cross toolchain with picolibc and QEMU (for the emulated-core
# tests), and a Python 3.11 virtual environment at .venv with the mcubert package.
# One line per step; apt's and pip's output only when they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*"; }
quiet() {   # run a command, showing its output only if it fails
  local log rc=0
  log=$(mktemp)
  "$@" >"$log" 2>&1 || rc=$?
  if ((rc)); then cat "$log" >&2; rm -f "$log"; say "failed: $*"; exit "$rc"; fi
  rm -f "$log"
}

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
  say "installing Debian packages: ${pkgs[*]} ${xpkgs[*]}"
  quiet $SUDO apt-get update -qq
  if ((${#pkgs[@]})); then
    quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
  fi
  # Without recommends: qemu-system-arm would pull a graphical stack the tests never use.
  if ((${#xpkgs[@]})); then
    quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${xpkgs[@]}"
  fi
else
  say "C, Cortex-M and QEMU toolchains: present"
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  say "creating .venv with $("$PY" --version 2>&1)"
  quiet "$PY" -m venv .venv
fi
# The editable install follows code changes by itself; only a changed pyproject.toml needs pip.
# torch==2.13.0 is pinned there: an unpinned torch would pull CUDA.
stamp=.venv/.mcubert-pyproject.sha256
want=$(sha256sum python/pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! .venv/bin/python -c "import mcubert" 2>/dev/null; then
  say "installing the mcubert package and its pinned dependencies into .venv (pip)"
  quiet .venv/bin/python -m pip install --disable-pip-version-check -e "python[test]"
  echo "$want" >"$stamp"
fi
quiet .venv/bin/python -c "import mcubert, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
say "ready: $(.venv/bin/mcubert --version), torch 2.13.0 (CPU)"
