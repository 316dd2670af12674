"""Unsupervised speech recognition (wav2vec-U family): feature preprocessing, auxiliary targets, GAN training."""
