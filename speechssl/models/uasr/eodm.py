"""Empirical output distribution matching (EODM; Liu et al. 2017, Yeh et al. ICLR 2019).

A non-adversarial generator loss: the expected phone unigram and bigram
distributions of the generator's segmented outputs in a batch are pulled
towards those of the unpaired phone text with a KL divergence,
``KL(text || output)``.  Unlike the discriminator's signal it is a fixed
target (``loss.eodm`` > 0 adds it to the GAN's generator loss; off by default).

Matching expectations alone is degenerate: soft (high-entropy) outputs can
match the text's unigrams and bigrams without any one output being right
(on one-hot gold-phone inputs the KL fell to 0.11 at 247 % PER).  The
per-segment entropy (:func:`segment_entropy`) is therefore penalised with it.
Measured on the espeak-ng stand-in (2026-12): with one input frame per gold
phone it solves the phone permutation (29 % PER after 400 steps, where the
GAN stays at 95 %); with the generator's own join segments on 100 Hz inputs
(gold one-hot or MFCC) it does not (115-120 % after 500 steps).  Added to
the GAN on one-frame-per-phone inputs (``loss.eodm=5``, ``loss.code_penalty=0``,
both learning rates 4e-3) it reached 25.7 % oracle PER at update 1000, where
the GAN alone stayed near 12 % frame accuracy and EODM alone reached 32 %;
on MFCC frames with join segments, 100-154 % at update 600.  See
egs/mini_librispeech/uasr1/NOTES.gan.md.
"""
from __future__ import annotations

import numpy as np
import torch

EPS = 1e-6


def text_ngram_stats(sentences: list[np.ndarray], vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Unigram (V,) and bigram (V, V) relative frequencies of id sentences (add-``EPS`` smoothed)."""
    uni = np.full(vocab_size, EPS)
    bi = np.full((vocab_size, vocab_size), EPS)
    for s in sentences:
        np.add.at(uni, s, 1.0)
        np.add.at(bi, (s[:-1], s[1:]), 1.0)
    return uni / uni.sum(), bi / bi.sum()


def eodm_loss(dist: torch.Tensor, mask: torch.Tensor, text_unigram: torch.Tensor,
              text_bigram: torch.Tensor, bigram_weight: float = 1.0) -> torch.Tensor:
    """``KL(text || batch)`` of unigrams plus ``bigram_weight`` times that of bigrams.

    ``dist`` (B, S, V): per-segment phone distributions (zero at padding);
    ``mask`` (B, S): True at padding.
    """
    valid = (~mask).to(dist.dtype).unsqueeze(-1)
    x = dist * valid
    uni = x.sum(dim=(0, 1)) / valid.sum().clamp(min=1.0)
    loss = (text_unigram * (text_unigram.log() - (uni + EPS).log())).sum()
    if bigram_weight > 0 and x.size(1) > 1:
        pairs = torch.einsum("bsv,bsw->vw", x[:, :-1], x[:, 1:])
        n_pairs = (valid[:, :-1] * valid[:, 1:]).sum().clamp(min=1.0)
        bi = pairs / n_pairs
        loss = loss + bigram_weight * (text_bigram * (text_bigram.log() - (bi + EPS).log())).sum()
    return loss


def segment_entropy(dist: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean entropy (nats) of the non-padded segment distributions; 0 for one-hot outputs."""
    p = dist[~mask]
    return -(p * (p + EPS).log()).sum(dim=-1).mean()
