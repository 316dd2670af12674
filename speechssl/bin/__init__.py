"""Command-line entry points, run as ``python -m speechssl.bin.<name> --help``."""
