# SPDX-License-Identifier: Apache-2.0
"""The runtime's C sources as cmake/mcubert_sources.cmake lists them (one list for every build)."""
from __future__ import annotations

import re

from mcubert.host import REPO


def runtime_sources() -> list[str]:
    text = (REPO / "cmake" / "mcubert_sources.cmake").read_text()
    body = re.search(r"set\(MCUBERT_SOURCES(.*?)\)", text, re.S).group(1)
    return [s.replace("${MCUBERT_DIR}", str(REPO)) for s in body.split()]
