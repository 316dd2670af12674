"""Training checkpoints: atomic files, RNG states, and configuration fingerprints.

A checkpoint is one ``torch.save`` file written through a temporary file and
renamed, so a run killed while saving leaves the previous checkpoint intact.
It carries the full configuration and a hash of the part of it that shapes
the training trajectory, so a run never resumes from another configuration.
"""
from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import torch

from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError

FORMAT = "speechssl.checkpoint"
FORMAT_VERSION = 1
LAST = "checkpoint_last.pt"
BEST = "checkpoint_best.pt"


def rng_state() -> dict[str, Any]:
    """The state of every random generator a training step may use (python, numpy, torch, CUDA)."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def flatten_config(cfg: dict, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    out: dict[str, Any] = {}
    for key, value in cfg.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten_config(value, name + "."))
        else:
            out[name] = value
    return out


def config_hash(cfg: dict, ignore: Iterable[str] = ()) -> str:
    """SHA-256 (16 hex digits) of the flattened configuration without the ``ignore`` keys."""
    flat = {k: v for k, v in flatten_config(cfg).items() if k not in set(ignore)}
    blob = json.dumps(flat, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def config_diff(old: dict, new: dict, ignore: Iterable[str] = ()) -> list[str]:
    """``key: old -> new`` for every differing flattened key outside ``ignore``."""
    a, b = flatten_config(old), flatten_config(new)
    ignore = set(ignore)
    return [f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}"
            for k in sorted(set(a) | set(b)) if k not in ignore and a.get(k) != b.get(k)]


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically."""
    with atomic_write(path, "wb") as f:
        torch.save({"format": FORMAT, "version": FORMAT_VERSION, **state}, f)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (on CPU)."""
    path = Path(path)
    if not path.is_file():
        raise SpeechSSLError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # truncated or foreign files raise several types
        raise SpeechSSLError(f"{path}: cannot read the checkpoint ({e}); delete it to start over") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SpeechSSLError(f"{path}: not a speechssl training checkpoint")
    if state.get("version") != FORMAT_VERSION:
        raise SpeechSSLError(f"{path}: checkpoint format version {state.get('version')}, this code reads "
                             f"{FORMAT_VERSION}")
    return state


class CheckpointManager:
    """``checkpoint_last.pt`` (every save) and ``checkpoint_best.pt`` (best validation metric) in a directory."""

    def __init__(self, directory: str | Path):
        self.dir = Path(directory)

    @property
    def last(self) -> Path:
        return self.dir / LAST

    @property
    def best(self) -> Path:
        return self.dir / BEST

    def save(self, state: dict[str, Any], is_best: bool) -> None:
        save_checkpoint(self.last, state)
        if is_best:
            save_checkpoint(self.best, state)
