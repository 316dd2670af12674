"""Corpora, one module per corpus (``prepare_<corpus>()``, ``download_<corpus>()``), and the
synthesized stand-in corpora that take their place where the real ones cannot be had."""
