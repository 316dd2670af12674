"""Atomic output: a file or directory appears complete or not at all."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, TextIO


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once: os.umask can only be read by setting it


def _default_mode(path: str | Path, directory: bool) -> None:
    """Give a temporary file or directory the permissions a plain open()/mkdir() would (mkstemp makes them private)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_UMASK)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[TextIO]:
    """Write ``path`` through a temporary file in the same directory, renamed on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    _default_mode(tmp, directory=False)
    try:
        kwargs = {} if "b" in mode else {"encoding": encoding}
        with open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Build a directory in ``<path>.tmp-XXXX`` and move it to ``path`` on success.

    An existing ``path`` is replaced only once the new one is complete.  Its
    ``log/`` subdirectory (Kaldi's ``exp/<dir>/log``, possibly being written
    by the job that builds the new directory) is carried over.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{path.name}.tmp-", dir=path.parent))
    _default_mode(tmp, directory=True)
    try:
        yield tmp
        if path.exists():
            if (path / "log").is_dir() and not (tmp / "log").exists():
                os.replace(path / "log", tmp / "log")
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
