"""Resumable downloads with checksums, and safe extraction of tar archives."""
from __future__ import annotations

import hashlib
import os
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

_CHUNK = 1 << 20


def md5sum(path: str | Path) -> str:
    """MD5 hex digest of a file, read in chunks."""
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def url_reachable(url: str, timeout: float = 5.0) -> bool:
    """True if a HEAD request to ``url`` succeeds within ``timeout`` seconds."""
    try:
        req = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(req, timeout=timeout):
            return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


def download(url: str, dest: str | Path, md5: str | None = None, timeout: float = 60.0) -> Path:
    """Download ``url`` to ``dest``, resuming a partial ``dest.part``; verify ``md5``.

    A complete file whose checksum matches is not downloaded again.  A checksum
    mismatch removes the download and raises :class:`SpeechSSLError`.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file():
        if md5 is None or md5sum(dest) == md5:
            log.info("%s already downloaded", dest)
            return dest
        log.warning("%s has the wrong checksum; downloading it again", dest)
        dest.unlink()
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    req = urllib.request.Request(url)
    if have:
        req.add_header("Range", f"bytes={have}-")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the part file is already complete
            resp = None
        else:
            raise SpeechSSLError(f"download of {url} failed: HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, OSError) as e:
        raise SpeechSSLError(
            f"cannot reach {url} ({e}); download it by hand into {dest.parent} "
            "or point the recipe at an existing copy"
        ) from None
    if resp is not None:
        with resp:
            if have and resp.status != 206:
                log.info("server does not support resuming; restarting %s", dest.name)
                have = 0
            total = resp.headers.get("Content-Length")
            total = int(total) + have if total is not None else None
            if have:
                log.info("resuming %s at %d bytes", dest.name, have)
            with open(part, "ab" if have else "wb") as f, tqdm(
                total=total, initial=have, unit="B", unit_scale=True, desc=dest.name
            ) as bar:
                for block in iter(lambda: resp.read(_CHUNK), b""):
                    f.write(block)
                    bar.update(len(block))
    if md5 is not None:
        got = md5sum(part)
        if got != md5:
            part.unlink()
            raise SpeechSSLError(
                f"checksum mismatch for {url}: expected md5 {md5}, got {got}; the partial "
                "download was removed, run the stage again"
            )
    os.replace(part, dest)
    return dest


def extract_tar(archive: str | Path, dest: str | Path) -> None:
    """Extract a tar archive into ``dest``, refusing members that escape it."""
    archive, dest = Path(archive), Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            for m in tqdm(members, desc=f"extract {archive.name}", unit="file"):
                tar.extract(m, dest, filter="data")
    except (tarfile.TarError, OSError) as e:
        raise SpeechSSLError(f"{archive}: cannot extract ({e}); delete it and download again") from None
