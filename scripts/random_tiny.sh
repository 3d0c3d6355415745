#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The random bert-tiny of the issue-18 arena figures, as `mcubert bench` makes it
# (python/mcubert/tools/bench.py, _random_model): 512 positions, a clustered embedding of
# 4 clusters with ranks 64,32,16,0, seed 0, calibrated on 8 random sequences of <= 128 tokens.
#   bash scripts/random_tiny.sh OUT.mcubert
#   mcubert plan OUT.mcubert --max-seq-len 128     # peak_arena_bytes is the last line
# RANKS=16,8,4,1 gives the smaller embedding whose blob fits the F746's 1 MiB of flash at 512
# positions (the 512-token sample build, docs/results.md).
# The plan depends only on the model's dimensions, not on its weights.
set -euo pipefail
out=${1:?usage: $0 OUT.mcubert}
MCUBERT=${MCUBERT:-mcubert}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
$MCUBERT new-model --preset bert-tiny --clusters 4 --ranks "${RANKS:-64,32,16,0}" --seed 0 --out "$T/tiny"
$MCUBERT quantize "$T/tiny" --out "$out" --samples 8 --max-len 128 --seed 0
