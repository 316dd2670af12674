"""Shared pytest configuration: the repository root and the recipe environment."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def recipe_env() -> dict[str, str]:
    """Environment for running recipe scripts and CLI programs in subprocesses."""
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / 'tools/venv/bin'}:{ROOT / 'tools/kenlm/bin'}:{env.get('PATH', '')}"
    env["LC_ALL"] = "C"
    env["PYTHONIOENCODING"] = "UTF-8"
    return env


@pytest.fixture(autouse=True)
def _logs_reach_caplog():
    """CLI mains (setup_logging) stop the package logger from propagating; caplog needs it."""
    logging.getLogger("speechssl").propagate = True
    yield
    logging.getLogger("speechssl").propagate = True
