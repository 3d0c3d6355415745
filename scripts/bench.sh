#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The benchmark behind docs/results.md: instruction counts on the emulated Cortex-M7.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python -m pip install -q --disable-pip-version-check -e "python[bench]"
mkdir -p docs/img
exec .venv/bin/mcubert bench --json docs/bench.json --plot docs/img/bench_insn_per_mac.png "$@"
