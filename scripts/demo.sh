#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The product doing its job: the trained sentiment model that ships with the Zephyr sample
# -> fit on the NUCLEO-F746ZG -> blob and C sources -> bit-exact on an emulated Cortex-M7, with
# instructions per inference -> sentences classified by the C runtime. Leaves nothing in /tmp.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" TQDM_DISABLE=1
M=samples/bert_classify/model/sentiment_tiny.mcubert
BOARD=nucleo_f746zg
L=128
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}"; "${@:2}" | tee "$T/out"; }

step "1. the model" mcubert info "$M"
step "2. does it fit the board?" mcubert plan "$M" --max-seq-len $L --board $BOARD
fit=$(grep '^fits:' "$T/out"); arena=$(grep -o 'peak_arena_bytes: [0-9]*' "$T/out" | cut -d' ' -f2)
step "3. firmware files" mcubert generate "$M" --max-seq-len $L --out-dir "$T/gen" --name sentiment --c-source
blob=$(grep -o 'blob_bytes: [0-9]*' "$T/out" | cut -d' ' -f2)
step "4. the C runtime on an emulated Cortex-M7 against the integer reference" \
  mcubert verify "$M" --max-seq-len $L --n 8 --target cortex-m7 --board $BOARD
exact=$(grep '^bit-exact:' "$T/out"); instr=$(grep -o '[0-9,]* at '$L' tokens' "$T/out" | head -1)
est=$(grep -o 'at [^ ]* [0-9]* MHz, one instruction per cycle: [0-9.]* ms' "$T/out" | head -1)

printf '\n== 5. sentences through the host C runtime\n'
labels=()
while IFS= read -r s; do
  printf '$ mcubert run %s --text "%s"\n' "$M" "$s"
  mcubert run "$M" --text "$s" | tee "$T/out"
  labels+=("$(sed -n 's/^label: //p' "$T/out")  <- $s")
done <<'SENTENCES'
a gripping, beautifully acted film that stays with you long after the credits roll
two hours of my life i will never get back
one of the warmest and funniest comedies i have seen in years
dull, predictable and far too long
SENTENCES

cat <<SUMMARY

== summary
model      : $M (bert-tiny, Rotten Tomatoes sentiment)
board      : $BOARD, $fit; arena $arena B at $L tokens, blob $blob B in flash
cortex-m7  : $exact against the Python integer reference (QEMU mps2-an500)
speed      : ${instr/ at / instructions per inference at }
             ~${est##*: } ${est%%, one*} (estimate: one instruction per cycle;
             QEMU counts instructions, it does not time the board)
SUMMARY
printf '             %s\n' "${labels[@]}" | sed '1s/^             /labels     : /'
