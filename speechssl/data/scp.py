"""Kaldi-style ``key value`` table files (wav.scp, text, utt2spk, ...).

Keys are compared the way ``LC_ALL=C sort`` compares them: by the bytes of
their UTF-8 encoding, which for Python ``str`` is code-point order.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError


def kaldi_sort_key(key: str) -> bytes:
    """Sort key that matches ``LC_ALL=C sort`` on the first field."""
    return key.encode("utf-8")


def read_lines(path: str | Path) -> list[str]:
    """Read a text file as UTF-8 lines (no newlines); name file and line on bad UTF-8."""
    path = Path(path)
    if not path.is_file():
        raise SpeechSSLError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line_no = data[: e.start].count(b"\n") + 1
        raise SpeechSSLError(
            f"{path}:{line_no}: text is not valid UTF-8 (byte 0x{data[e.start]:02x}); "
            "convert the file to UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_table(path: str | Path, allow_empty_value: bool = False) -> list[tuple[str, str, int]]:
    """Read ``key value`` lines as ``(key, value, line_number)`` in file order.

    The value is the rest of the line after the first run of whitespace.
    """
    rows = []
    for n, line in enumerate(read_lines(path), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            raise SpeechSSLError(f"{path}:{n}: empty line; remove it")
        parts = line.split(maxsplit=1)
        key = parts[0]
        value = parts[1].strip() if len(parts) > 1 else ""
        if line[0].isspace():
            raise SpeechSSLError(f"{path}:{n}: line starts with whitespace (key {key!r})")
        if not value and not allow_empty_value:
            raise SpeechSSLError(f"{path}:{n}: key {key!r} has no value")
        rows.append((key, value, n))
    return rows


def read_dict(path: str | Path, allow_empty_value: bool = False) -> dict[str, str]:
    """Read a table into a dict; duplicate keys are an error naming both lines."""
    out: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for key, value, n in read_table(path, allow_empty_value):
        if key in out:
            raise SpeechSSLError(f"{path}:{n}: duplicate key {key!r} (first on line {first_line[key]})")
        out[key] = value
        first_line[key] = n
    return out


def write_table(path: str | Path, items: Mapping[str, str] | Iterable[tuple[str, str]], sort: bool = True) -> None:
    """Write ``key value`` lines atomically, sorted in C order unless ``sort`` is false."""
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    if sort:
        pairs.sort(key=lambda kv: kaldi_sort_key(kv[0]))
    with atomic_write(path) as f:
        for key, value in pairs:
            if not key or any(c.isspace() for c in key):
                raise SpeechSSLError(f"{path}: invalid key {key!r} (keys must be non-empty and contain no whitespace)")
            f.write(f"{key} {value}\n" if value != "" else f"{key}\n")
