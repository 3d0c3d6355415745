#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite: set-up, then pytest (which builds the C runtime in its variants).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The emulated-core tests skip without their tools; here a missing tool must fail instead.
export MCUBERT_REQUIRE_QEMU=1
# Twister YAML checks need Zephyr's schema in ../shared/zephyr (python/tests/test_zephyr_yaml.py).
export MCUBERT_REQUIRE_ZEPHYR_SCHEMA=1
exec .venv/bin/python -m pytest python/tests -q "$@"
