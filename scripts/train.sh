#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Reproduce the trained sentiment model from scratch: set-up, then the whole resumable
# pipeline (data, teacher, student, search, int8, evaluation): what made the shipped
# samples/bert_classify/model/sentiment_tiny.mcubert. Extra arguments go to `mcubert pipeline`,
# e.g. --ship samples/bert_classify/model/sentiment_tiny.mcubert or --baselines svd,adaptive,prune.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec mcubert pipeline --out "${MCUBERT_RUN_DIR:-runs/rt}" "$@"
