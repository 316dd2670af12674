"""Fixtures for the job-dispatch tests: a live one-node Slurm, and the queue.sh runner."""
from __future__ import annotations

import os
import re
import subprocess
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUEUE_SH = ROOT / "utils" / "queue.sh"


@pytest.fixture(scope="session")
def local_slurm() -> str:
    """Start tools/slurm/start_local_slurm.sh (state in $SPEECHSSL_SLURM_DIR or
    /tmp/speechssl-slurm) and point SLURM_CONF at it; skip, saying why, when it cannot
    start.  Stops the daemons afterwards unless they were already running."""
    state = os.environ.get("SPEECHSSL_SLURM_DIR", "/tmp/speechssl-slurm")
    start = ROOT / "tools/slurm/start_local_slurm.sh"
    try:
        out = subprocess.run([str(start), state], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        out = None
    match = re.search(r"^export SLURM_CONF=(\S+)$", out.stdout, re.M) if out else None
    if out is None or out.returncode != 0 or match is None:
        reason = "local Slurm did not start: " + (out.stderr.strip()[-600:] if out else "timed out after 120 s")
        warnings.warn(reason)
        pytest.skip(reason)
    started_here = "already running" not in out.stderr
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = match.group(1)
    yield match.group(1)
    if previous is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = previous
    if started_here:
        subprocess.run([str(ROOT / "tools/slurm/stop_local_slurm.sh"), state], capture_output=True, timeout=60)


@pytest.fixture
def queue_sh(recipe_env, tmp_path):
    """Run ``utils/queue.sh ARGS`` in ``tmp_path``; returns the CompletedProcess."""

    def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([str(QUEUE_SH), *args], cwd=tmp_path, env={**recipe_env, **(env or {})},
                              capture_output=True, text=True, timeout=120)

    return run
