"""Stage bookkeeping: done-markers that record what a stage made and from what.

A marker is a JSON file holding a hash of the stage's configuration and of its
inputs.  A rerun with the same hash is skipped; a different hash is refused
until the user asks for a redo, so old outputs are never silently mixed with
a new configuration.  Markers are written last (atomically), so a stage that
was killed midway never looks complete.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any, Iterable

from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

_HASH_LIMIT = 64 << 20  # files larger than this are fingerprinted by size and mtime


def _file_digest(path: Path) -> str:
    st = path.stat()
    if st.st_size > _HASH_LIMIT:
        return f"size={st.st_size},mtime={st.st_mtime_ns}"
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fingerprint(path: str | Path) -> str:
    """Content fingerprint of a file or directory (hidden entries and ``log/`` directories ignored: a stage's
    logs are rewritten by every rerun and never an input)."""
    path = Path(path)
    if not path.exists():
        raise SpeechSSLError(f"stage input {path} does not exist; run the stage that makes it first")
    if path.is_file():
        return _file_digest(path)
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        if any(part.startswith(".") for part in rel.parts) or "log" in rel.parts[:-1] or not p.is_file():
            continue
        h.update(str(rel).encode() + b"\0" + _file_digest(p).encode() + b"\n")
    return h.hexdigest()


class StageMarker:
    """The done-marker of one stage (or one output of a stage).

    ``config`` is any JSON-serialisable mapping; ``inputs`` are the files or
    directories the stage reads.
    """

    def __init__(self, path: str | Path, stage: str, config: dict[str, Any], inputs: Iterable[str | Path] = ()):
        self.path = Path(path)
        self.stage = stage
        self.config = json.loads(json.dumps(config, sort_keys=True, default=str))
        self.inputs = {str(p): fingerprint(p) for p in inputs}
        blob = json.dumps({"config": self.config, "inputs": self.inputs}, sort_keys=True)
        self.digest = hashlib.sha256(blob.encode()).hexdigest()

    def read(self) -> dict[str, Any] | None:
        if not self.path.is_file():
            return None
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    def needs_run(self, outputs: Iterable[str | Path] = (), redo: bool = False) -> bool:
        """True if the stage must run; False if it is done with this configuration.

        Raises :class:`SpeechSSLError` when the outputs were made with another
        configuration or other inputs and ``redo`` is false.
        """
        outputs = [Path(o) for o in outputs]
        old = self.read()
        if old is None:
            return True
        if redo:
            log.info("%s: --redo given; discarding the previous outputs", self.stage)
            self.clear(outputs)
            return True
        if old.get("hash") == self.digest and all(o.exists() for o in outputs):
            log.info("%s: already done with the same configuration and inputs (%s); skipping", self.stage, self.path)
            return False
        if old.get("hash") == self.digest:
            log.warning("%s: marker present but outputs missing; running again", self.stage)
            return True
        raise SpeechSSLError(
            f"{self.stage}: the outputs recorded in {self.path} were made with a different "
            f"configuration or inputs ({self._describe_change(old)}). Rerun with --redo true to discard "
            "them, or write to another directory."
        )

    def _describe_change(self, old: dict[str, Any]) -> str:
        changes = []
        old_cfg, new_cfg = old.get("config", {}), self.config
        for k in sorted(set(old_cfg) | set(new_cfg)):
            if old_cfg.get(k) != new_cfg.get(k):
                changes.append(f"{k}: {old_cfg.get(k)!r} -> {new_cfg.get(k)!r}")
        old_in = old.get("inputs", {})
        for k in sorted(set(old_in) | set(self.inputs)):
            if old_in.get(k) != self.inputs.get(k):
                changes.append(f"input {k} changed")
        return "; ".join(changes) or "unknown change"

    def clear(self, outputs: Iterable[str | Path] = ()) -> None:
        """Remove the marker and the given outputs (a directory's ``log/`` is kept: the
        job that redoes the stage may already be writing its log there)."""
        self.path.unlink(missing_ok=True)
        for o in outputs:
            o = Path(o)
            if o.is_dir():
                for child in o.iterdir():
                    if child.name == "log" and child.is_dir():
                        continue
                    if child.is_dir() and not child.is_symlink():
                        shutil.rmtree(child)
                    else:
                        child.unlink()
            elif o.exists() or o.is_symlink():
                o.unlink()

    def write(self, outputs: Iterable[str | Path] = (), summary: dict[str, Any] | None = None) -> None:
        """Record completion; call only after every output is in place."""
        record = {
            "stage": self.stage,
            "hash": self.digest,
            "config": self.config,
            "inputs": self.inputs,
            "outputs": [str(o) for o in outputs],
            "summary": summary or {},
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        with atomic_write(self.path) as f:
            json.dump(record, f, indent=2, sort_keys=True)
            f.write("\n")
