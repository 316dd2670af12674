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

EM from a random start over hundreds of units is slow and lands in poor
optima, so it runs coarse to fine: a few random starts of EM over a coarse
k-means of the same vectors (fewer parameters: each coarse unit pools its fine
units' counts), the start of highest likelihood expanded to the fine units
(each fine unit inherits its coarse unit's probability, shared in proportion
to the units' counts), and EM over the fine units from there.  Optionally a
third, finer inventory (``refine_units``, a k-means of the same vectors with
more clusters, each joined to its nearest unit) is expanded from the fine
solution the same way and refined for ``refine_iters`` iterations: more units
are purer (closer to one phone each) but too many to start EM on.

Where EM lands depends on its start and on the k-means units (on the mini
stand-in, 35-54 % PER over four seeds), so with ``runs`` > 1 several
independent decipherments (seeds ``seed``, ``seed`` + 1, ...: their own units
and coarse starts; speechssl.bin.decipher_units runs them in parallel processes
where it has the threads) are joined: their units are several views (streams)
of the same segments, a segment's emission score is the geometric mean of the
streams' P(unit | phone), and ``joint_iters`` iterations of EM share one
E-step over all streams while re-estimating each stream's emissions.  The
runs' errors differ, so the joint labels are better than any run's and vary
far less with the seeds.  A run's final likelihood predicts its error rate
well (on the mini stand-in, twelve runs ranked by likelihood were nearly in
PER order), so with ``keep`` only the most likely runs are joined: runs
stuck in a poor optimum would pull the joint EM towards theirs.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
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
    coarse_units: int = 64     # units of the coarse EM stage (0, or not below n_units: no coarse stage)
    coarse_iters: int = 40     # EM iterations of each coarse start
    restarts: int = 1          # random starts of the coarse stage; the one of highest likelihood goes on
    stay: float = 0.15         # probability that a phone emits one more unit
    em_iters: int = 100        # EM iterations over the fine units
    refine_units: int = 0      # a finer inventory refined after the fine stage (0, or not above n_units: none)
    refine_iters: int = 20     # EM iterations over the refine units
    smoothing: float = 1e-3    # pseudo-count added to every emission count
    backoff: float = 3.0       # Witten-Bell-like interpolation constant of the trigram
    batch_size: int = 256      # utterances per forward-backward batch
    runs: int = 1              # independent decipherments (units and starts from seeds seed, seed + 1, ...)
    joint_iters: int = 10      # EM iterations over the runs' units as joint streams (with runs > 1)
    keep: int = 0              # join only this many runs, those of highest final log-likelihood (0: all)
    seed: int = 1

    def check(self) -> None:
        if self.n_units < 2 or self.em_iters < 1 or self.kmeans_iters < 1 or self.batch_size < 1:
            raise SpeechSSLError("decipher: n_units >= 2, em_iters, kmeans_iters and batch_size >= 1 are required")
        if self.coarse_units < 0 or (self.has_coarse_stage and (self.coarse_units < 2 or self.coarse_iters < 1
                                                                 or self.restarts < 1)):
            raise SpeechSSLError("decipher: a coarse stage needs coarse_units >= 2, coarse_iters >= 1 and "
                                 "restarts >= 1 (coarse_units 0 turns it off)")
        if not 0.0 <= self.stay < 1.0:
            raise SpeechSSLError(f"decipher: stay must be in [0, 1), got {self.stay}")
        if self.refine_units < 0 or (self.has_refine_stage and self.refine_iters < 1):
            raise SpeechSSLError("decipher: a refine stage needs refine_iters >= 1 (refine_units 0 turns it off)")
        if self.runs < 1 or self.joint_iters < 0 or not 0 <= self.keep <= self.runs:
            raise SpeechSSLError(f"decipher: runs must be >= 1, joint_iters >= 0 and keep in [0, runs] (got runs "
                                 f"{self.runs}, joint_iters {self.joint_iters}, keep {self.keep})")

    @property
    def joined_runs(self) -> int:
        """How many runs the joint EM joins."""
        return self.keep or self.runs

    @property
    def has_coarse_stage(self) -> bool:
        return 0 < self.coarse_units < self.n_units

    @property
    def has_refine_stage(self) -> bool:
        return self.refine_units > self.n_units


class UnitInventory:
    """Standardise, whiten and cluster segment vectors into discrete units."""

    def __init__(self, mean: np.ndarray, scale: np.ndarray, proj: np.ndarray, centroids: np.ndarray,
                 parent: np.ndarray | None = None, refine_centroids: np.ndarray | None = None,
                 refine_parent: np.ndarray | None = None):
        self.mean, self.scale, self.proj, self.centroids = mean, scale, proj, centroids
        self.parent = parent        # the coarse unit of every unit (None: no coarse stage)
        self.refine_centroids = refine_centroids  # the finer inventory of the refine stage (None: none)
        self.refine_parent = refine_parent        # the unit of every refine unit
        self._index = _flat_index(centroids)
        self._refine_index = _flat_index(refine_centroids) if refine_centroids is not None else None

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
        y = (z @ proj).astype(np.float32)
        km.train(y)
        parent = refine_centroids = refine_parent = None
        if cfg.has_coarse_stage:     # a coarse k-means of the same vectors; each unit joins the nearest coarse one
            coarse = faiss.Kmeans(y.shape[1], cfg.coarse_units, niter=cfg.kmeans_iters, seed=cfg.seed)
            coarse.train(y)
            parent = coarse.index.search(km.centroids, 1)[1][:, 0].astype(np.int64)
        if cfg.has_refine_stage:     # a finer k-means; each of its units joins the nearest unit
            if len(vectors) < cfg.refine_units:
                raise SpeechSSLError(f"decipher: {len(vectors)} training segments for {cfg.refine_units} refine "
                                     "units; lower refine_units or give more audio")
            fine = faiss.Kmeans(y.shape[1], cfg.refine_units, niter=cfg.kmeans_iters, seed=cfg.seed)
            fine.train(y)
            refine_centroids = fine.centroids.copy()
            refine_parent = km.index.search(refine_centroids, 1)[1][:, 0].astype(np.int64)
        return cls(mean, scale, proj, km.centroids.copy(), parent, refine_centroids, refine_parent)

    @classmethod
    def from_state_dict(cls, state: dict[str, np.ndarray]) -> "UnitInventory":
        """The inventory :meth:`state_dict` describes."""
        return cls(state["mean"], state["scale"], state["proj"], state["centroids"], state.get("coarse_parent"),
                   state.get("refine_centroids"), state.get("refine_parent"))

    def project(self, vectors: np.ndarray) -> np.ndarray:
        return (((vectors - self.mean) / self.scale) @ self.proj).astype(np.float32)

    def assign(self, vectors: np.ndarray) -> np.ndarray:
        """The nearest unit of every row."""
        _, idx = self._index.search(self.project(vectors), 1)
        return idx[:, 0].astype(np.int64)

    def assign_refined(self, vectors: np.ndarray) -> np.ndarray:
        """The nearest refine unit of every row (an inventory with a refine stage)."""
        if self._refine_index is None:
            raise SpeechSSLError("decipher: this unit inventory has no refine units")
        _, idx = self._refine_index.search(self.project(vectors), 1)
        return idx[:, 0].astype(np.int64)

    def state_dict(self) -> dict[str, np.ndarray]:
        out = {"mean": self.mean, "scale": self.scale, "proj": self.proj, "centroids": self.centroids}
        if self.parent is not None:
            out["coarse_parent"] = self.parent
        if self.refine_centroids is not None:
            out.update(refine_centroids=self.refine_centroids, refine_parent=self.refine_parent)
        return out


def _flat_index(centroids: np.ndarray) -> faiss.IndexFlatL2:
    index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(centroids.astype(np.float32))
    return index


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
    """Phones as hidden states (pairs (previous, current) so that the trigram is exact), units as emissions.

    The forward and backward variables of state (a, x) (previous phone a, phone x) are held as ``[x, n, a]``
    (n: the utterances of a batch), so that every step is one batched matrix product over x."""

    def __init__(self, trigram: np.ndarray, stay: float = 0.0):
        self.n_states = trigram.shape[0]            # phones + the boundary
        self.n_phones = v = self.n_states - 1
        self.stay = stay
        move = torch.tensor(trigram[:, :, :v], dtype=torch.float32) * (1 - stay)   # (a, x) -> y, not staying
        self.to_next = move.permute(1, 0, 2).contiguous()                 # [x, a, y]
        self.from_next = move.permute(1, 2, 0).contiguous()               # [x, y, a]
        self.end = torch.tensor(trigram[:, :, v], dtype=torch.float32).T.contiguous()[:, None, :]  # [x, 1, a]
        self._buffers: dict[str, torch.Tensor] = {}

    def _buffer(self, name: str, *shape: int) -> torch.Tensor:
        """A tensor of ``shape`` (contents undefined) in memory kept from batch to batch: fresh buffers of the
        steps' size cost more to allocate and touch than a step's arithmetic."""
        size = math.prod(shape)
        if name not in self._buffers or self._buffers[name].numel() < size:
            self._buffers[name] = torch.empty(size)
        return self._buffers[name][:size].view(shape)

    def forward_backward(self, em: torch.Tensor, mask: torch.Tensor) -> tuple[float, torch.Tensor]:
        """Log-likelihood of a padded batch and the phone posteriors (n, L, phones); ``em`` (n, L, phones) holds
        every position's emission score under every phone (:func:`emission_scores`)."""
        n, length = mask.shape
        big, v = self.n_states, self.n_phones
        em_t = em.permute(1, 2, 0)[:, :, :, None]                          # [t, y, n, 1]
        lengths = mask.sum(1)
        alpha = torch.zeros(big, n, big)
        alpha[v, :, v] = 1.0                                               # (boundary, boundary)
        alphas = self._buffer("alphas", length, big, n, big)               # every step's, for the backward pass
        product, swapped = self._buffer("product", big, n, v), self._buffer("swapped", n, big, v)
        # the first move has no choice to stay, so it is not scaled by 1 - stay
        log_scale = torch.full((n,), -math.log(1 - self.stay))
        for t in range(length):
            new = alphas[t]
            new[v].zero_()                                                 # no move ends in the boundary
            torch.bmm(alpha, self.to_next, out=product)                    # [x, n, y]
            # to [y, n, x] through [n, x, y]: two copies with short strides are faster than one with long ones
            new[:v] = swapped.copy_(product.transpose(0, 1)).permute(2, 0, 1)
            if t > 0 and self.stay:
                new.add_(alpha, alpha=self.stay)
            new[:v] *= em_t[t]
            scale = new.sum((0, 2)).clamp_min(1e-30)
            done = lengths <= t                                            # padding: alpha stays
            if done.any():
                scale[done] = 1.0
                new[:, done] = alpha[:, done]
            log_scale += scale.log()
            alpha = new.div_(scale[None, :, None])
        loglik = (log_scale + (alpha * self.end).sum((0, 2)).clamp_min(1e-30).log()).sum().item()
        end = self.end.expand(big, n, big)
        beta = end.clone()
        post = torch.empty(length, v, n)
        emitted, stayed = self._buffer("emitted", v, n, big), self._buffer("stayed", v, n, big)
        swapped, product = self._buffer("swapped", n, v, big), self._buffer("product", big, n, v)
        betas = self._buffer("betas", 2, big, n, big)
        for t in range(length - 1, -1, -1):
            g = torch.mul(alphas[t][:v], beta[:v], out=stayed).sum(2)      # [x, n]: alpha has no boundary phone
            post[t] = g / g.sum(0, keepdim=True).clamp_min(1e-30) * mask[None, :, t]
            if t == 0:
                break
            torch.mul(beta[:v], em_t[t], out=emitted)                      # [y, n, x]
            product.copy_(swapped.copy_(emitted.transpose(0, 1)).permute(2, 0, 1))   # [x, n, y]
            prev = torch.bmm(product, self.from_next, out=betas[t % 2])   # [x, n, a]
            if self.stay:
                prev[:v] += torch.mul(emitted, self.stay, out=stayed)
            prev /= prev.sum((0, 2), keepdim=True).clamp_min(1e-30)      # any scale: posteriors are normalised
            after_end = lengths <= t
            if after_end.any():
                prev[:, after_end] = end[:, after_end]
            beta = prev
        return loglik, post.permute(2, 0, 1)

    def posteriors(self, emis: torch.Tensor, units: Sequence[np.ndarray], batch_size: int
                   ) -> tuple[float, list[torch.Tensor]]:
        """Log-likelihood of every utterance together and each utterance's (length, phones) posteriors."""
        return self.joint_posteriors([emis], [units], batch_size)

    def joint_posteriors(self, emissions: Sequence[torch.Tensor], streams: Sequence[Sequence[np.ndarray]],
                         batch_size: int) -> tuple[float, list[torch.Tensor]]:
        """:meth:`posteriors` of several unit streams of the same segments (``streams[r][i]``: utterance i's
        units in stream r, emitted through ``emissions[r]``; :func:`emission_scores`).  Batches hold utterances
        of similar length (less padding); the output keeps the input order."""
        units = streams[0]
        if len(emissions) != len(streams) or any(len(s) != len(units) for s in streams):
            raise SpeechSSLError("decipher: every stream needs its emissions and the units of every utterance")
        order = sorted(range(len(units)), key=lambda i: len(units[i]))
        loglik, out = 0.0, [None] * len(units)
        for i in range(0, len(order), batch_size):
            chunk = order[i:i + batch_size]
            padded = [_pad([s[j] for j in chunk]) for s in streams]
            if any(not torch.equal(m, padded[0][1]) for _, m in padded):
                raise SpeechSSLError("decipher: the unit streams differ in the number of segments of an utterance")
            ll, post = self.forward_backward(emission_scores(emissions, [ids for ids, _ in padded]), padded[0][1])
            loglik += ll
            for row, j in enumerate(chunk):
                out[j] = post[row, :len(units[j])]
        return loglik, out

    def em_iteration(self, emis: torch.Tensor, units: Sequence[np.ndarray], smoothing: float, batch_size: int
                     ) -> tuple[float, torch.Tensor]:
        """One EM iteration: the log-likelihood under ``emis`` and the re-estimated P(unit | phone)."""
        loglik, new = self.joint_em_iteration([emis], [units], smoothing, batch_size)
        return loglik, new[0]

    def joint_em_iteration(self, emissions: Sequence[torch.Tensor], streams: Sequence[Sequence[np.ndarray]],
                           smoothing: float, batch_size: int) -> tuple[float, list[torch.Tensor]]:
        """:meth:`em_iteration` of several unit streams: one E-step over their joint emission scores, then
        every stream's P(unit | phone) re-estimated from the shared posteriors."""
        loglik, post = self.joint_posteriors(emissions, streams, batch_size)
        post = torch.cat(post).T
        new = []
        for emis, units in zip(emissions, streams):
            counts = torch.full(emis.shape, smoothing)
            counts.index_add_(1, torch.from_numpy(np.concatenate(units)), post)
            new.append(counts / counts.sum(1, keepdim=True))
        return loglik, new


def emission_scores(emissions: Sequence[torch.Tensor], ids: Sequence[torch.Tensor]) -> torch.Tensor:
    """(n, L, phones) emission scores of a padded batch: P(unit | phone) of one stream of units (``ids``: n, L),
    for several streams of the same segments the geometric mean of theirs (each stream a view of the segment;
    their product would count the same evidence once per stream against the trigram)."""
    if len(emissions) == 1:
        return emissions[0].T[ids[0]]
    logs = sum(e.clamp_min(1e-30).log().T[i] for e, i in zip(emissions, ids))
    return (logs / len(emissions)).exp()


def random_emissions(n_phones: int, n_units: int, seed: int) -> torch.Tensor:
    """A seeded random start of P(unit | phone): every entry within a factor 3 of the others."""
    emis = torch.rand(n_phones, n_units, generator=torch.Generator().manual_seed(seed)) + 0.5
    return emis / emis.sum(1, keepdim=True)


def expand_emissions(coarse: torch.Tensor, parent: np.ndarray, unit_counts: np.ndarray) -> torch.Tensor:
    """Fine P(unit | phone) from coarse: unit u gets P(parent[u] | phone) times u's share of its coarse unit's
    count (``unit_counts`` + 1, so that unseen units keep a little mass)."""
    counts = unit_counts.astype(np.float64) + 1.0
    share = counts / np.bincount(parent, weights=counts, minlength=coarse.shape[1])[parent]
    fine = coarse[:, torch.from_numpy(parent)] * torch.from_numpy(share).float()
    return fine / fine.sum(1, keepdim=True)


@dataclass
class EMState:
    """Where coarse-to-fine EM stands: enough to resume it exactly."""

    step: int = 0                                   # EM iterations done, over every start and both stages
    emis: torch.Tensor | None = None                # P(unit | phone) after ``step``
    best_emis: torch.Tensor | None = None           # the finished coarse start of highest log-likelihood so far
    logliks: list[float] = field(default_factory=list)  # the final log-likelihood of every finished coarse start
    loglik: float | None = None                     # the log-likelihood of the data under the last iteration's input

    @property
    def best_loglik(self) -> float:
        return max(self.logliks, default=-math.inf)


def run_config(cfg: DecipherConfig, run: int) -> DecipherConfig:
    """The configuration of run ``run`` (0-based) of a multi-run decipherment: a single run of its own seed."""
    return dataclasses.replace(cfg, seed=cfg.seed + run, runs=1)


def total_em_iterations(cfg: DecipherConfig, coarse_stage: bool) -> int:
    """EM iterations of :func:`decipher_em`, over every coarse start, the fine and the refine stage."""
    return ((cfg.restarts * cfg.coarse_iters if coarse_stage else 0) + cfg.em_iters
            + (cfg.refine_iters if cfg.has_refine_stage else 0))


def decipher_em(hmm: TrigramHMM, units: Sequence[np.ndarray], cfg: DecipherConfig, parent: np.ndarray | None,
                state: EMState | None = None, on_iter: Callable[[EMState, str, float], None] | None = None,
                refined: Sequence[np.ndarray] | None = None, refine_parent: np.ndarray | None = None
                ) -> torch.Tensor:
    """P(unit | phone) by coarse-to-fine EM (module docstring): ``cfg.restarts`` starts of ``cfg.coarse_iters``
    iterations over the coarse units ``parent[unit]`` (when ``parent`` is given), the start of highest final
    log-likelihood expanded, then ``cfg.em_iters`` over the units; with a refine stage (``cfg.refine_units``)
    that solution expanded to the ``refined`` units (each belonging to unit ``refine_parent[r]``) and
    ``cfg.refine_iters`` more, returning P(refine unit | phone).  Continues from ``state`` (a resumed run);
    ``on_iter(state, stage, loglik)`` after every iteration, ``stage`` being "coarse 2/3", "fine" or "refine"."""
    if not units or any(len(u) == 0 for u in units):
        raise SpeechSSLError("decipher: every utterance needs at least one unit")
    if cfg.has_refine_stage and (refined is None or refine_parent is None or len(refined) != len(units)):
        raise SpeechSSLError("decipher: a refine stage needs the refine units of every utterance and their parents")
    total = total_em_iterations(cfg, parent is not None)
    fine_end = total - (cfg.refine_iters if cfg.has_refine_stage else 0)
    coarse_steps = fine_end - cfg.em_iters
    coarse_units = [parent[u] for u in units] if parent is not None else []
    st = state if state is not None else EMState()
    while st.step < total:
        if st.step < coarse_steps:
            start, it = divmod(st.step, cfg.coarse_iters)
            if it == 0:
                st.emis = random_emissions(hmm.n_phones, cfg.coarse_units, cfg.seed + start)
            loglik, st.emis = hmm.em_iteration(st.emis, coarse_units, cfg.smoothing, cfg.batch_size)
            stage = f"coarse {start + 1}/{cfg.restarts}"
            if it + 1 == cfg.coarse_iters:
                if loglik > st.best_loglik:
                    st.best_emis = st.emis
                st.logliks.append(loglik)
        elif st.step < fine_end:
            if st.step == coarse_steps:
                st.emis = (expand_emissions(st.best_emis, parent, np.bincount(np.concatenate(units),
                                                                              minlength=len(parent)))
                           if parent is not None else random_emissions(hmm.n_phones, cfg.n_units, cfg.seed))
            loglik, st.emis = hmm.em_iteration(st.emis, units, cfg.smoothing, cfg.batch_size)
            stage = "fine"
        else:
            if st.step == fine_end:
                st.emis = expand_emissions(st.emis, refine_parent, np.bincount(np.concatenate(refined),
                                                                               minlength=len(refine_parent)))
            loglik, st.emis = hmm.em_iteration(st.emis, refined, cfg.smoothing, cfg.batch_size)
            stage = "refine"
        st.step += 1
        st.loglik = loglik
        if on_iter is not None:
            on_iter(st, stage, loglik)
    return st.emis


@dataclass
class JointState:
    """Where joint EM over several runs' unit streams stands: enough to resume it exactly."""

    step: int = 0
    emissions: list[torch.Tensor] = field(default_factory=list)  # every stream's P(unit | phone) after ``step``
    loglik: float | None = None


def joint_em(hmm: TrigramHMM, streams: Sequence[Sequence[np.ndarray]], cfg: DecipherConfig, state: JointState,
             on_iter: Callable[[JointState], None] | None = None) -> list[torch.Tensor]:
    """``cfg.joint_iters`` iterations of EM over several runs' unit streams of the same segments
    (:meth:`TrigramHMM.joint_em_iteration`), from ``state`` (its ``emissions``: every run's own solution, or a
    resumed state); ``on_iter(state)`` after every iteration.  Returns every stream's P(unit | phone)."""
    while state.step < cfg.joint_iters:
        state.loglik, state.emissions = hmm.joint_em_iteration(state.emissions, streams, cfg.smoothing,
                                                               cfg.batch_size)
        state.step += 1
        if on_iter is not None:
            on_iter(state)
    return state.emissions
