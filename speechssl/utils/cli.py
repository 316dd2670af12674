"""Small argparse helpers shared by the ``speechssl.bin`` programs."""
from __future__ import annotations

import argparse


def str2bool(value: str) -> bool:
    """Parse Kaldi-style booleans (true/false; also 1/0, yes/no) for argparse."""
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {value!r}")
