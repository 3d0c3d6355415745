#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end demo on the host: random bert-tiny with a clustered embedding -> int8 model
# file -> arena plan -> generated blob/header -> bit-exact check of the C runtime -> classify.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
T=${DEMO_DIR:-$(mktemp -d)}
set -x
mcubert new-model --preset bert-tiny --clusters 4 --ranks 64,32,16,0 --seed 1 --out "$T/m"
mcubert quantize "$T/m" --out "$T/m.mcubert"
mcubert plan "$T/m.mcubert" --max-seq-len 128
mcubert generate "$T/m.mcubert" --max-seq-len 128 --out-dir "$T/gen" --name demo_model
mcubert verify "$T/m.mcubert" --max-seq-len 128 --n 10
mcubert verify "$T/m.mcubert" --max-seq-len 128 --n 3 --schedule layerwise
mcubert run "$T/m.mcubert" --text "a gripping, beautifully acted film"
