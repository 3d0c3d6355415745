# SPDX-License-Identifier: Apache-2.0
"""west.yml is a valid manifest for Zephyr 3.7 LTS that fetches only what the boards need, and
zephyr/module.yml uses nothing Zephyr 3.7 rejects."""
from __future__ import annotations

import yaml
from west.manifest import validate

from mcubert.targets import host


def test_west_manifest():
    data = yaml.safe_load((host.REPO / "west.yml").read_text())
    validate(data)                                   # west's own schema; raises if invalid
    zephyr = next(p for p in data["manifest"]["projects"] if p["name"] == "zephyr")
    assert zephyr["revision"].startswith("v3.7.")
    assert sorted(zephyr["import"]["name-allowlist"]) == ["cmsis", "hal_stm32"]


def test_module_yml():
    m = yaml.safe_load((host.REPO / "zephyr" / "module.yml").read_text())
    assert m["name"] == "mcubert"
    assert m["build"] == {"cmake": ".", "kconfig": "Kconfig"}
    assert "package-managers" not in m                # Zephyr 3.7's module schema rejects it
    assert set(m) <= {"name", "build"}                # settings only where used
