#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite: set-up, then pytest (which builds the C runtime in its variants).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"` for the quick subset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The emulated-core tests skip without their tools; here a missing tool must fail instead.
export MCUBERT_REQUIRE_QEMU=1
# The Twister-schema tests skip when no Zephyr schema is at hand (a user's clone); .ci/run
# makes them mandatory (python/tests/test_zephyr_yaml.py).
exec .venv/bin/python -m pytest python/tests -ra --durations=15 "$@"
