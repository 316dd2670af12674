"""Probing what SSL layers encode: frame-level linear phone classifiers per layer."""
from speechssl.probing.phone_probe import (
    ProbeData, find_alignment_ctms, frame_labels, load_probe_data, probe_feature_dirs, read_alignment_ctm,
    train_linear_probe,
)

__all__ = ["ProbeData", "find_alignment_ctms", "frame_labels", "load_probe_data", "probe_feature_dirs",
           "read_alignment_ctm", "train_linear_probe"]
