"""speechssl: self-supervised speech models made useful where labels are scarce."""

__version__ = "0.1.0"
