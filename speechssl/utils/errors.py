"""User-facing errors and the wrapper that turns them into clean CLI exits."""
from __future__ import annotations

import functools
import logging
import sys
from typing import Callable


class SpeechSSLError(Exception):
    """An error caused by the user's input or configuration.

    The message must say what is wrong (file, line, key) and what to do; the
    CLI wrapper prints it without a traceback.
    """


def _log_to_files(err: Exception) -> None:
    """Record the error in the log files of the ``speechssl`` logger (stderr already has it)."""
    logger = logging.getLogger("speechssl")
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, "%s", (err,), None)
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


def cli_main(func: Callable[..., int | None]) -> Callable[..., int]:
    """Wrap a CLI ``main``: print :class:`SpeechSSLError` as ``error: ...`` and exit 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs) -> int:
        try:
            rc = func(*args, **kwargs)
        except SpeechSSLError as e:
            print(f"error: {e}", file=sys.stderr)
            _log_to_files(e)
            return 1
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        return int(rc or 0)

    return wrapper
