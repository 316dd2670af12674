"""The pin files under tools/ agree with the full lock (tools/constraints.txt).

A pin that differs from the lock makes pip's resolution impossible at install
time (``tools/install_espnet.sh`` installs its list with the lock as
constraints), so a lock refresh must carry every other list along.
"""
import re
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "tools"
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==(\S+)")


def read_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = PIN.match(line.split("#", 1)[0].strip())
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(3)
    return pins


def satisfies(locked: str, pinned: str) -> bool:
    """PEP 440 ``==``: a pin without a local label (``2.13.0``) also matches ``2.13.0+cpu``."""
    return locked == pinned or ("+" not in pinned and locked.split("+", 1)[0] == pinned)


@pytest.mark.parametrize("name", ["requirements.txt", "requirements-espnet.txt"])
def test_pins_agree_with_the_lock(name):
    lock = read_pins(TOOLS / "constraints.txt")
    pins = read_pins(TOOLS / name)
    assert pins, f"no pins read from tools/{name}"
    differ = {k: (v, lock[k]) for k, v in pins.items() if k in lock and not satisfies(lock[k], v)}
    assert not differ, f"tools/{name} pins differ from tools/constraints.txt (pin, lock): {differ}"


def test_every_direct_requirement_is_locked():
    lock = read_pins(TOOLS / "constraints.txt")
    missing = sorted(set(read_pins(TOOLS / "requirements.txt")) - set(lock))
    assert not missing, f"tools/requirements.txt pins not in tools/constraints.txt: {missing}"
