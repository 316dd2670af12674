#!/usr/bin/env bash
# Kaldi-style entry point; options: python3 -m speechssl.bin.combine_data_dirs --help (python3 of the active env, e.g. tools/venv via path.sh).
exec python3 -m speechssl.bin.combine_data_dirs "$@"
