"""Reading a YAML file with errors that name it."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from speechssl.utils.errors import SpeechSSLError


def read_yaml(path: str | Path, what: str = "YAML file") -> Any:
    """The parsed content of ``path``; a missing file or invalid YAML is an error naming ``what`` and the path."""
    path = Path(path)
    if not path.is_file():
        raise SpeechSSLError(f"{path}: no such {what}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise SpeechSSLError(f"{path}: not valid YAML ({e})") from None
