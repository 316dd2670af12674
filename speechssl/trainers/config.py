"""Nested training configurations: defaults, then a YAML file, then ``--set key.sub=value``.

Every trainer (GAN, CTC, pre-training) loads its configuration this way, so
an unknown key is always an error naming the file or override and the key.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.yaml_file import read_yaml


def merge_config(base: dict, update: dict, where: str, prefix: str = "") -> dict:
    """``base`` updated by ``update``; keys absent from ``base`` are refused."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        name = f"{prefix}{key}"
        if key not in out:
            raise SpeechSSLError(f"{where}: unknown configuration key {name!r}; known keys at this level: "
                                 f"{', '.join(sorted(out))}")
        if isinstance(out[key], dict):
            if not isinstance(value, dict):
                raise SpeechSSLError(f"{where}: {name!r} must be a mapping")
            out[key] = merge_config(out[key], value, where, name + ".")
        else:
            out[key] = value
    return out


def load_nested_config(defaults: dict[str, Any], path: str | Path | None, overrides=()) -> dict[str, Any]:
    """``defaults`` updated by the YAML file ``path`` and ``key.sub=value`` strings (values parsed as YAML)."""
    cfg = copy.deepcopy(defaults)
    if path is not None:
        path = Path(path)
        loaded = read_yaml(path, "configuration file") or {}
        if not isinstance(loaded, dict):
            raise SpeechSSLError(f"{path}: the configuration must be a mapping")
        cfg = merge_config(cfg, loaded, str(path))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SpeechSSLError(f"--set {item!r}: expected key.sub=value")
        nested: Any = yaml.safe_load(raw)
        for part in reversed(key.strip().split(".")):
            nested = {part: nested}
        cfg = merge_config(cfg, nested, f"--set {item}")
    return cfg
