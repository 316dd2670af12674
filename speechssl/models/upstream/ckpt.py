"""Read ``torch.save`` checkpoints written by other toolkits without importing them.

fairseq checkpoints pickle objects of fairseq (meters, dataclass configs)
and omegaconf beside the weights.  The unpickler here replaces any class it
cannot import by an inert :class:`MissingClass` subclass that keeps the
pickled state, so the tensors and plain-Python configuration come through.
Checkpoints are pickles: load only files you trust.
"""
from __future__ import annotations

import pickle
import types
from pathlib import Path
from typing import Any

import torch

from speechssl.utils.errors import SpeechSSLError


class MissingClass:
    """Stand-in for a class that is not importable here; keeps what was pickled."""

    pickled_module = ""
    pickled_name = ""

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.pickled_args = args
        return obj

    def __init__(self, *args, **kwargs):
        self.pickled_kwargs = kwargs

    def __setstate__(self, state):
        self.pickled_state = state

    def __repr__(self) -> str:
        return f"<unimportable {self.pickled_module}.{self.pickled_name}>"


_STANDINS: dict[tuple[str, str], type] = {}


class _LenientUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError):
            key = (module, name)
            if key not in _STANDINS:
                _STANDINS[key] = type(name, (MissingClass,), {"pickled_module": module, "pickled_name": name})
            return _STANDINS[key]


def _lenient_pickle_module() -> types.ModuleType:
    mod = types.ModuleType("speechssl_lenient_pickle")
    mod.Unpickler = _LenientUnpickler
    mod.load = lambda f, **kw: _LenientUnpickler(f, **kw).load()
    mod.__version__ = "1"
    return mod


def load_checkpoint(path: str | Path) -> Any:
    """Unpickle a checkpoint file on CPU; unknown classes become :class:`MissingClass` objects."""
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_lenient_pickle_module())
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        raise SpeechSSLError(
            f"{path}: cannot be read as a PyTorch checkpoint ({type(e).__name__}: {e}); "
            "give a transformers save_pretrained directory or a fairseq/speechssl .pt checkpoint"
        ) from None
