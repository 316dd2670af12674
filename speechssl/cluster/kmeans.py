"""k-means on frame-level features with bounded memory.

The references (fairseq ``wav2vec_cluster_faiss.py``, ESPnet
``feats_cluster_faiss.py``) concatenate every training frame in RAM before
clustering: about 0.7 TB for LibriSpeech-960 at 1024 dimensions.  Here the
frames are streamed once from a Kaldi ``feats.scp`` through a seeded
reservoir sampler (:class:`FrameReservoir`), so memory is
``max_frames x dim x 4`` bytes whatever the corpus size, and faiss k-means is
fitted on that uniform sample.  Assigning frames to centroids
(:meth:`KMeans.assign`) needs only numpy.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
from tqdm import tqdm

from speechssl.data.scp import read_table
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

_ASSIGN_CHUNK = 8192


def iter_feats(feats_scp: str | Path, progress: bool = True) -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(utt, float32 matrix)`` for every line of a Kaldi ``feats.scp``, in file order.

    Unreadable entries and matrices that are not 2-D or hold NaN/inf raise
    :class:`SpeechSSLError` naming the file, line and utterance.
    """
    import kaldiio

    rows = read_table(feats_scp)
    for utt, value, line in tqdm(rows, desc=f"reading {Path(feats_scp).parent.name}/feats.scp",
                                 unit="utt", disable=not progress):
        try:
            mat = kaldiio.load_mat(value)
        except Exception as e:  # kaldiio raises many kinds on corrupt or missing arks
            raise SpeechSSLError(f"{feats_scp}:{line}: cannot read features of {utt!r} from {value!r} ({e}); "
                                 "re-extract the features of this set") from None
        mat = np.asarray(mat, dtype=np.float32)
        if mat.ndim != 2:
            raise SpeechSSLError(f"{feats_scp}:{line}: features of {utt!r} have shape {mat.shape}; expected frames x dim")
        if not np.isfinite(mat).all():
            raise SpeechSSLError(f"{feats_scp}:{line}: features of {utt!r} contain NaN or inf; re-extract them")
        yield utt, mat


class FrameReservoir:
    """A uniform random sample of at most ``max_frames`` rows from a stream of matrices.

    Classic reservoir sampling (Vitter's algorithm R), vectorised per matrix
    and seeded: the same stream and seed give the same sample.  The buffer is
    allocated once (``max_frames x dim`` float32) and only touched pages count
    towards resident memory.
    """

    def __init__(self, max_frames: int, seed: int = 0):
        if max_frames < 1:
            raise SpeechSSLError(f"max_frames must be >= 1, got {max_frames}")
        self.max_frames = int(max_frames)
        self.rng = np.random.default_rng(seed)
        self.seen = 0
        self.filled = 0
        self._buf: np.ndarray | None = None

    def add(self, mat: np.ndarray, name: str = "matrix") -> None:
        """Offer every row of ``mat`` (frames x dim) to the sample."""
        mat = np.asarray(mat, dtype=np.float32)
        if self._buf is None:
            self._buf = np.empty((self.max_frames, mat.shape[1]), dtype=np.float32)
        elif mat.shape[1] != self._buf.shape[1]:
            raise SpeechSSLError(f"{name}: features have dimension {mat.shape[1]}, earlier ones {self._buf.shape[1]}; "
                                 "all features of a set must come from the same extractor and layer")
        take = min(len(mat), self.max_frames - self.filled)
        self._buf[self.filled:self.filled + take] = mat[:take]
        self.filled += take
        rest = mat[take:]
        if len(rest):
            # Row number t (0-based over the whole stream) replaces slot j ~ U{0..t} when j < max_frames.
            t = self.seen + take + np.arange(len(rest))
            slots = self.rng.integers(0, t + 1)
            keep = np.flatnonzero(slots < self.max_frames)
            # When a slot is drawn twice in this matrix the later row wins, as in the sequential algorithm.
            rev = keep[::-1]
            uniq, first = np.unique(slots[rev], return_index=True)
            self._buf[uniq] = rest[rev[first]]
        self.seen += len(mat)

    @property
    def sample(self) -> np.ndarray:
        """The sampled rows (a view; ``filled x dim``)."""
        if self._buf is None:
            raise SpeechSSLError("no frames were offered to the sampler; is the feats.scp empty?")
        return self._buf[:self.filled]


def sample_frames(mats: Iterable[tuple[str, np.ndarray]], max_frames: int, seed: int = 0) -> tuple[np.ndarray, dict[str, int]]:
    """Reservoir-sample at most ``max_frames`` rows from ``(name, matrix)`` pairs.

    Returns the sample and counts (utterances, frames_seen, frames_sampled).
    """
    reservoir = FrameReservoir(max_frames, seed)
    n_utts = 0
    for name, mat in mats:
        reservoir.add(mat, name)
        n_utts += 1
    sample = reservoir.sample
    return sample, {"utterances": n_utts, "frames_seen": reservoir.seen, "frames_sampled": len(sample)}


@dataclass
class KMeans:
    """Fitted centroids; assignment is the nearest centroid in Euclidean distance."""

    centroids: np.ndarray  # (n_clusters, dim) float32

    @property
    def n_clusters(self) -> int:
        return self.centroids.shape[0]

    @property
    def dim(self) -> int:
        return self.centroids.shape[1]

    def assign(self, feats: np.ndarray) -> np.ndarray:
        """Nearest-centroid index (int32) of every row of ``feats``."""
        feats = np.asarray(feats, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != self.dim:
            raise SpeechSSLError(f"features of shape {feats.shape} do not match the k-means dimension {self.dim}")
        c = self.centroids
        c_sq = (c * c).sum(axis=1)
        out = np.empty(len(feats), dtype=np.int32)
        for i in range(0, len(feats), _ASSIGN_CHUNK):
            x = feats[i:i + _ASSIGN_CHUNK]
            # |x - c|^2 = |x|^2 - 2 x.c + |c|^2; |x|^2 is constant per row.
            out[i:i + len(x)] = np.argmin(c_sq[None, :] - 2.0 * (x @ c.T), axis=1)
        return out

    def save(self, path: str | Path) -> None:
        """Write the centroids to ``path`` (``.npz``) atomically."""
        with atomic_write(path, "wb") as f:
            np.savez(f, centroids=self.centroids)

    @classmethod
    def load(cls, path: str | Path) -> "KMeans":
        path = Path(path)
        if not path.is_file():
            raise SpeechSSLError(f"{path}: k-means model not found; run the stage that fits it first")
        with np.load(path, allow_pickle=False) as z:
            return cls(np.ascontiguousarray(z["centroids"], dtype=np.float32))


def fit_kmeans(sample: np.ndarray, n_clusters: int, niter: int = 50, nredo: int = 3, seed: int = 0,
               verbose: bool = False) -> tuple[KMeans, dict[str, Any]]:
    """Fit faiss k-means on ``sample`` (every row is used: faiss's own sub-sampling is turned off).

    Defaults follow wav2vec-U (50 iterations, 3 restarts, best kept).
    Returns the model and fit statistics (objective, mean squared distance).
    """
    import faiss

    sample = np.ascontiguousarray(sample, dtype=np.float32)
    if sample.ndim != 2:
        raise SpeechSSLError(f"k-means needs a frames x dim matrix, got shape {sample.shape}")
    n, dim = sample.shape
    if n_clusters < 1:
        raise SpeechSSLError(f"the number of clusters must be >= 1, got {n_clusters}")
    if n < n_clusters:
        raise SpeechSSLError(f"only {n} frames for {n_clusters} clusters; use fewer clusters or more data")
    if n < 39 * n_clusters:
        log.warning("k-means: %d frames for %d clusters (< 39 per cluster); centroids will be noisy", n, n_clusters)
    km = faiss.Kmeans(dim, n_clusters, niter=niter, nredo=nredo, seed=seed, verbose=verbose,
                      max_points_per_centroid=math.ceil(n / n_clusters) + 1)
    km.train(sample)
    objective = float(km.obj[-1]) if len(km.obj) else float("nan")
    stats = {"frames": n, "dim": dim, "n_clusters": n_clusters, "niter": niter, "nredo": nredo, "seed": seed,
             "objective": objective, "mean_sq_distance": objective / n}
    log.info("k-means: %d clusters on %d x %d frames, mean squared distance %.4g", n_clusters, n, dim, objective / n)
    return KMeans(np.ascontiguousarray(km.centroids, dtype=np.float32)), stats


def fit_kmeans_on_scp(feats_scp: str | Path, n_clusters: int, max_frames: int = 200_000, seed: int = 0,
                      niter: int = 50, nredo: int = 3) -> tuple[KMeans, dict[str, Any]]:
    """Stream ``feats_scp`` once, reservoir-sample ``max_frames`` frames, fit k-means on them."""
    sample, counts = sample_frames(iter_feats(feats_scp), max_frames, seed)
    model, stats = fit_kmeans(sample, n_clusters, niter, nredo, seed)
    return model, {**counts, **stats}
