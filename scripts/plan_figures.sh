#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Arena plans of bert-tiny and bert-mini (clustered embeddings) for docs/results.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
T=$(mktemp -d)
mcubert new-model --preset bert-tiny --clusters 4 --ranks 64,32,16,0 --seed 1 --out "$T/tiny" >/dev/null
mcubert new-model --preset bert-mini --clusters 4 --ranks 128,64,32,0 --seed 1 --out "$T/mini" >/dev/null
mcubert quantize "$T/tiny" --out "$T/tiny.mcubert" --samples 16 >/dev/null
mcubert quantize "$T/mini" --out "$T/mini.mcubert" --samples 16 >/dev/null
peak() { mcubert plan "$1" --max-seq-len "$2" --schedule "$3" | tail -1 | cut -d' ' -f2; }
# TFLM's arena for an equivalent int8 encoder (bert-tiny), as issue 18 reports it (KiB); not run here.
declare -A TFLM=([64]=152.7 [128]=272.7 [256]=512.7 [512]=1312.7)
echo "| model | L | fine (bytes) | fine (KiB) | layerwise (bytes) | layerwise (KiB) | layerwise / fine | TFLM (KiB) | TFLM / fine |"
echo "|---|---|---|---|---|---|---|---|---|"
for m in tiny mini; do
  for L in 64 128 256 512; do
    f=$(peak "$T/$m.mcubert" "$L" fine); l=$(peak "$T/$m.mcubert" "$L" layerwise)
    t=$([ $m = tiny ] && echo "${TFLM[$L]}" || echo 0)
    python3 -c "t=$t; print(f'| bert-$m | $L | $f | {$f/1024:.1f} | $l | {$l/1024:.1f} | {$l/$f:.1f}x | ' + (f'{t} | {t*1024/$f:.1f}x |' if t else '- | - |'))"
  done
done
rm -rf "$T"
