"""Shared helpers: user-facing errors, logging, atomic file output, stage bookkeeping."""
