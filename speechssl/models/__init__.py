"""Models: the SSL upstream interface (``speechssl.models.upstream``) and our own models."""
