"""Kaldi data directories: reading, writing, validating and transforming them."""
