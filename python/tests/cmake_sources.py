# SPDX-License-Identifier: Apache-2.0
"""The runtime's C sources as cmake/mcubert_sources.cmake lists them (one list for every build)."""
from __future__ import annotations

import re

from mcubert.targets.host import REPO


def _list(text: str, name: str) -> list[str]:
    body = re.search(rf"set\({name}\s(.*?)\)", text, re.S).group(1)
    out = []
    for s in body.split():
        ref = re.fullmatch(r"\$\{(\w+)\}", s)
        out += _list(text, ref.group(1)) if ref else [s.replace("${MCUBERT_DIR}", str(REPO))]
    return out


def runtime_sources() -> list[str]:
    return _list((REPO / "cmake" / "mcubert_sources.cmake").read_text(), "MCUBERT_SOURCES")
