"""Decipherment of acoustic units against the phone trigram: an HMM whose hidden states are phones.

The audio side is a sequence of discrete units per utterance (k-means clusters
of segment vectors).  The hidden phone sequence follows the unpaired text's
interpolated trigram; each phone emits units through P(unit | phone), learnt
by EM (forward-backward) with the trigram held fixed.  A hidden state is the
pair (previous phone, phone), so the trigram is exact.  With ``stay`` > 0 a
phone may emit several consecutive units (over-segmented audio).

This is the classic decipherment view of unsupervised recognition: a
substitution cipher whose key is P(unit | phone), solved with a language model
of the plaintext.  Unlike the GAN it has no adversary to balance, and its
objective (the data likelihood) rises monotonically.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import faiss
import numpy as np
import torch

from speechssl.utils.errors import SpeechSSLError


@dataclass
class DecipherConfig:
    """Options of the unit inventory and of EM."""

    pca_dim: int = 64          # whitened PCA dimensions of the segment vectors (0: standardised only)
    n_units: int = 256         # k-means units
    kmeans_iters: int = 25
    stay: float = 0.15         # probability that a phone emits one more unit
    em_iters: int = 100
    smoothing: float = 1e-3    # pseudo-count added to every emission count
    backoff: float = 3.0       # Witten-Bell-like interpolation constant of the trigram
    batch_size: int = 256      # utterances per forward-backward batch
    seed: int = 1

    def check(self) -> None:
        if self.n_units < 2 or self.em_iters < 1 or self.kmeans_iters < 1 or self.batch_size < 1:
            raise SpeechSSLError("decipher: n_units >= 2, em_iters, kmeans_iters and batch_size >= 1 are required")
        if not 0.0 <= self.stay < 1.0:
            raise SpeechSSLError(f"decipher: stay must be in [0, 1), got {self.stay}")


class UnitInventory:
    """Standardise, whiten and cluster segment vectors into discrete units."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, proj: np.ndarray, centroids: np.ndarray):
        self.mean, self.scale, self.proj, self.centroids = mean, scale, proj, centroids
        self._index = faiss.IndexFlatL2(centroids.shape[1])
        self._index.add(centroids.astype(np.float32))

    @classmethod
    def fit(cls, vectors: np.ndarray, cfg: DecipherConfig) -> "UnitInventory":
        if len(vectors) < cfg.n_units:
            raise SpeechSSLError(f"decipher: {len(vectors)} training segments for {cfg.n_units} units; "
                                 "lower n_units or give more audio")
        x = vectors.astype(np.float64)
        mean, scale = x.mean(0), x.std(0) + 1e-5
        z = (x - mean) / scale
        if cfg.pca_dim and cfg.pca_dim < z.shape[1]:
            val, vec = np.linalg.eigh(np.cov(z, rowvar=False))
            top = np.argsort(val)[::-1][:cfg.pca_dim]
            proj = vec[:, top] / np.sqrt(val[top] + 1e-8)
        else:
            proj = np.eye(z.shape[1])
        km = faiss.Kmeans(proj.shape[1], cfg.n_units, niter=cfg.kmeans_iters, seed=cfg.seed)
        km.train((z @ proj).astype(np.float32))
        return cls(mean, scale, proj, km.centroids.copy())

    def project(self, vectors: np.ndarray) -> np.ndarray:
        return (((vectors - self.mean) / self.scale) @ self.proj).astype(np.float32)

    def assign(self, vectors: np.ndarray) -> np.ndarray:
        """The nearest unit of every row."""
        _, idx = self._index.search(self.project(vectors), 1)
        return idx[:, 0].astype(np.int64)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "scale": self.scale, "proj": self.proj, "centroids": self.centroids}


def phone_trigram(sentences: Sequence[Sequence[int]], n_phones: int, backoff: float = 3.0) -> np.ndarray:
    """Interpolated trigram P(next | prev2, prev1) over ``n_phones`` phones plus a sentence boundary (index
    ``n_phones``): an (N, N, N) array, N = n_phones + 1.  Each order is interpolated with the next lower one,
    weighted by count / (count + backoff * distinct followers)."""
    n, b = n_phones + 1, n_phones
    c3, c2, c1 = np.zeros((n, n, n)), np.zeros((n, n)), np.zeros(n)
    for s in sentences:
        q = [b, b, *s, b]
        np.add.at(c3, (q[:-2], q[1:-1], q[2:]), 1)
        np.add.at(c2, (q[1:-1], q[2:]), 1)
        np.add.at(c1, q[2:], 1)
    if not c1.sum():
        raise SpeechSSLError("phone_trigram: the text has no sentences")

    def interpolate(counts: np.ndarray, lower: np.ndarray) -> np.ndarray:
        total = counts.sum(-1, keepdims=True)
        lam = total / (total + backoff * (counts > 0).sum(-1, keepdims=True) + 1e-9)
        return lam * counts / np.maximum(total, 1e-9) + (1 - lam) * lower

    p1 = (c1 + 0.5) / (c1 + 0.5).sum()
    return interpolate(c3, interpolate(c2, p1[None])[None])


def _pad(units: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(u) for u in units)
    ids = np.zeros((len(units), length), np.int64)
    mask = np.zeros((len(units), length), bool)
    for i, u in enumerate(units):
        ids[i, :len(u)], mask[i, :len(u)] = u, True
    return torch.from_numpy(ids), torch.from_numpy(mask)


class TrigramHMM:
    """Phones as hidden states (pairs (previous, current) so that the trigram is exact), units as emissions."""

    def __init__(self, trigram: np.ndarray, stay: float = 0.0):
        self.n_states = trigram.shape[0]            # phones + the boundary
        self.n_phones = self.n_states - 1
        self.trans = torch.tensor(trigram[:, :, :self.n_phones], dtype=torch.float32)  # (a, x) -> y
        self.end = torch.tensor(trigram[:, :, self.n_phones], dtype=torch.float32)     # (a, x) -> boundary
        self.stay = stay

    def forward_backward(self, emis: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor
                         ) -> tuple[float, torch.Tensor]:
        """Log-likelihood of a padded batch and the phone posteriors (n, L, phones); ``emis`` is (phones, units)."""
        n, length = ids.shape
        big, v, bnd = self.n_states, self.n_phones, self.n_phones
        em = emis.T[ids]                                              # n, L, phones
        alpha = torch.zeros(n, big, big)
        alpha[:, bnd, bnd] = 1.0
        alphas, log_scale = [], torch.zeros(n)
        for t in range(length):
            new = torch.zeros(n, big, big)
            new[:, :, :v] = torch.einsum("nax,axy->nxy", alpha, self.trans)
            if t > 0 and self.stay:
                new = (1 - self.stay) * new + self.stay * alpha
            new[:, :, :v] *= em[:, t, None, :]
            new[:, :, v:] = 0
            live = mask[:, t]
            scale = torch.where(live, new.sum((1, 2)), torch.ones(n))
            alpha = torch.where(live[:, None, None], new / scale.clamp_min(1e-30)[:, None, None], alpha)
            log_scale += scale.clamp_min(1e-30).log()
            alphas.append(alpha)
        loglik = (log_scale + (alpha * self.end[None]).sum((1, 2)).clamp_min(1e-30).log()).sum().item()
        lengths = mask.sum(1)
        end = self.end[None].expand(n, big, big)
        beta = end.clone()
        post = torch.zeros(n, length, v)
        for t in range(length - 1, -1, -1):
            g = alphas[t] * beta
            g = g / g.sum((1, 2), keepdim=True).clamp_min(1e-30)
            post[:, t] = g[:, :, :v].sum(1) * mask[:, t, None]
            if t == 0:
                break
            emitted = beta[:, :, :v] * em[:, t, None, :]              # n, x, y
            prev = (1 - self.stay) * torch.einsum("axy,nxy->nax", self.trans, emitted)
            if self.stay:
                prev[:, :, :v] += self.stay * emitted
            prev = prev / prev.amax((1, 2), keepdim=True).clamp_min(1e-30)
            beta = torch.where((t <= lengths - 1)[:, None, None], prev, end)
        return loglik, post

    def posteriors(self, emis: torch.Tensor, units: Sequence[np.ndarray], batch_size: int
                   ) -> tuple[float, list[torch.Tensor]]:
        """Log-likelihood of every utterance together and each utterance's (length, phones) posteriors.
        Batches hold utterances of similar length (less padding); the output keeps the input order."""
        order = sorted(range(len(units)), key=lambda i: len(units[i]))
        loglik, out = 0.0, [None] * len(units)
        for i in range(0, len(order), batch_size):
            chunk = order[i:i + batch_size]
            ids, mask = _pad([units[j] for j in chunk])
            ll, post = self.forward_backward(emis, ids, mask)
            loglik += ll
            for row, j in enumerate(chunk):
                out[j] = post[row, :len(units[j])]
        return loglik, out

    def fit_emissions(self, units: Sequence[np.ndarray], n_units: int, cfg: DecipherConfig,
                      on_iter: Callable[[int, float, torch.Tensor], None] | None = None,
                      start: int = 0, emis: torch.Tensor | None = None) -> torch.Tensor:
        """EM for P(unit | phone) from a seeded random start, or from ``emis`` after iteration ``start`` (a
        resumed run); ``on_iter(iteration, loglik, new_emis)`` after each iteration."""
        if not units or any(len(u) == 0 for u in units):
            raise SpeechSSLError("decipher: every utterance needs at least one unit")
        if emis is None:
            g = torch.Generator().manual_seed(cfg.seed)
            emis = torch.rand(self.n_phones, n_units, generator=g) + 0.5
            emis = emis / emis.sum(1, keepdim=True)
        flat = torch.from_numpy(np.concatenate(units))
        for it in range(start + 1, cfg.em_iters + 1):
            loglik, post = self.posteriors(emis, units, cfg.batch_size)
            counts = torch.full((self.n_phones, n_units), cfg.smoothing)
            counts.index_add_(1, flat, torch.cat(post).T)
            emis = counts / counts.sum(1, keepdim=True)
            if on_iter is not None:
                on_iter(it, loglik, emis)
        return emis

    def decode(self, emis: torch.Tensor, units: Sequence[np.ndarray], batch_size: int) -> list[list[int]]:
        """The most probable phone of every unit (posterior decoding), repeats merged."""
        _, post = self.posteriors(emis, units, batch_size)
        out = []
        for p in post:
            seq = p.argmax(1).tolist()
            out.append([x for j, x in enumerate(seq) if j == 0 or x != seq[j - 1]])
        return out
