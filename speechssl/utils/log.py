"""Logging in the icefall/Kaldi style: time, file and line on every message."""
from __future__ import annotations

import logging
import sys
from pathlib import Path

_FORMAT = "%(asctime)s (%(module)s:%(lineno)d) %(levelname)s: %(message)s"


def setup_logging(level: str = "INFO", log_file: str | Path | None = None) -> logging.Logger:
    """Configure the ``speechssl`` logger to stderr and, optionally, a log file."""
    logger = logging.getLogger("speechssl")
    logger.setLevel(level.upper())
    logger.handlers.clear()
    logger.propagate = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_file, encoding="utf-8")
        fh.setFormatter(logging.Formatter(_FORMAT))
        logger.addHandler(fh)
    return logger


def get_logger(name: str = "speechssl") -> logging.Logger:
    """The package logger (children share its handlers)."""
    if not name.startswith("speechssl"):
        name = "speechssl." + name
    return logging.getLogger(name)
