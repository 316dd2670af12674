"""Clustering of frame-level features (k-means with bounded memory)."""
