"""wav2vec-U (v1) feature preprocessing as one fitted, saved transform.

The fairseq recipe (``prepare_audio.sh``) runs these steps on frozen SSL
features, each as its own script and file set:

1. k-means (128 clusters) on the *unreduced* features, giving a cluster id per frame;
2. PCA to 512 dimensions (no whitening);
3. mean-pooling of every run of consecutive frames that share a cluster id
   (``merge_clusters.py --pooling mean``), applied to the PCA features;
4. mean-pooling of adjacent pooled frames in pairs (``mean_pool.py
   --subsample-rate 0.5``; an odd last frame stands alone).

:class:`FeatureTransform` holds the k-means centroids and the PCA matrix,
fitted once on a bounded random sample of the *training* frames, and applies
all four steps to any features with numpy: to every set's feats.scp, and at
inference to the upstream's output inside a packed model.  It is saved as
plain arrays (``transform.npz``) plus JSON (``transform.json``), never as
pickled code.  Each step can be switched off (``pca_dim=0``,
``n_clusters=0``, ``pair_pool=False``).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from speechssl.cluster.kmeans import KMeans, fit_kmeans, iter_feats, sample_frames
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

FORMAT = "speechssl.FeatureTransform"
FORMAT_VERSION = 1
CONFIG_FILE = "transform.json"
ARRAYS_FILE = "transform.npz"


# ----------------------------------------------------------------------------- pooling

def pool_runs(feats: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Mean of every run of consecutive frames with the same id (one output row per run)."""
    feats = np.asarray(feats)
    ids = np.asarray(ids)
    if len(feats) != len(ids):
        raise SpeechSSLError(f"pool_runs: {len(feats)} frames but {len(ids)} cluster ids")
    if len(feats) == 0:
        return feats.astype(np.float32)
    starts = np.concatenate([[0], np.flatnonzero(ids[1:] != ids[:-1]) + 1])
    counts = np.diff(np.concatenate([starts, [len(ids)]]))
    sums = np.add.reduceat(feats.astype(np.float64), starts, axis=0)
    return (sums / counts[:, None]).astype(np.float32)


def pool_pairs(feats: np.ndarray) -> np.ndarray:
    """Mean of frames (0,1), (2,3), ...; an odd last frame is kept as it is (ceil(T/2) rows)."""
    feats = np.asarray(feats, dtype=np.float32)
    if feats.ndim != 2:
        raise SpeechSSLError(f"pool_pairs: expected frames x dim, got shape {feats.shape}")
    n_pairs = len(feats) // 2
    paired = feats[:2 * n_pairs].reshape(n_pairs, 2, feats.shape[1]).mean(axis=1, dtype=np.float64).astype(np.float32)
    return np.concatenate([paired, feats[2 * n_pairs:]], axis=0)


# ----------------------------------------------------------------------------- the transform

@dataclass
class TransformConfig:
    """What to fit and apply.  Defaults are wav2vec-U v1's (PCA 512, 128 clusters, pair pooling)."""

    pca_dim: int = 512          #: output dimension of PCA; 0 disables PCA
    n_clusters: int = 128       #: k-means clusters for run pooling; 0 disables run pooling
    pair_pool: bool = True      #: mean-pool adjacent frames in pairs at the end
    max_frames: int = 200_000   #: bound on the training frames sampled (memory: max_frames x dim x 4 bytes)
    kmeans_iters: int = 50
    kmeans_redo: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pca_dim < 0 or self.n_clusters < 0 or self.max_frames < 1:
            raise SpeechSSLError(f"invalid transform config {asdict(self)}: pca_dim and n_clusters must be >= 0, "
                                 "max_frames >= 1")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TransformConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SpeechSSLError(f"unknown transform option(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)


class FeatureTransform:
    """PCA, cluster-run mean pooling and pair pooling, fitted on train and applied to any set."""

    def __init__(self, config: TransformConfig, input_dim: int, pca_matrix: np.ndarray | None = None,
                 pca_bias: np.ndarray | None = None, kmeans: KMeans | None = None,
                 fit_info: dict[str, Any] | None = None):
        self.config = config
        self.input_dim = int(input_dim)
        self.pca_matrix = pca_matrix  # (pca_dim, input_dim): y = x @ A.T + b
        self.pca_bias = pca_bias
        self.kmeans = kmeans
        self.fit_info = fit_info or {}
        if (config.pca_dim > 0) != (pca_matrix is not None) or (config.n_clusters > 0) != (kmeans is not None):
            raise SpeechSSLError("FeatureTransform: the arrays do not match the config (PCA or k-means missing)")

    @property
    def output_dim(self) -> int:
        return self.config.pca_dim if self.config.pca_dim > 0 else self.input_dim

    # -- fitting ---------------------------------------------------------------

    @classmethod
    def fit(cls, sample: np.ndarray, config: TransformConfig, fit_info: dict[str, Any] | None = None) -> "FeatureTransform":
        """Fit k-means and PCA on a frames x dim ``sample`` (already bounded by the caller)."""
        sample = np.ascontiguousarray(sample, dtype=np.float32)
        if sample.ndim != 2 or len(sample) == 0:
            raise SpeechSSLError(f"cannot fit a feature transform on an array of shape {sample.shape}")
        dim = sample.shape[1]
        info = dict(fit_info or {})
        kmeans = None
        if config.n_clusters > 0:
            kmeans, km_stats = fit_kmeans(sample, config.n_clusters, config.kmeans_iters, config.kmeans_redo,
                                          config.seed)
            info["kmeans"] = km_stats
        pca_matrix = pca_bias = None
        if config.pca_dim > 0:
            pca_matrix, pca_bias, explained = _fit_pca(sample, config.pca_dim)
            info["pca_explained_variance"] = explained
            log.info("PCA %d -> %d keeps %.1f%% of the variance", dim, config.pca_dim, 100 * explained)
        return cls(config, dim, pca_matrix, pca_bias, kmeans, info)

    @classmethod
    def fit_scp(cls, feats_scp: str | Path, config: TransformConfig) -> "FeatureTransform":
        """Stream a training ``feats.scp`` once, sample ``config.max_frames`` frames, fit on them."""
        sample, counts = sample_frames(iter_feats(feats_scp), config.max_frames, config.seed)
        log.info("sampled %d of %d frames (%d utterances) from %s", counts["frames_sampled"],
                 counts["frames_seen"], counts["utterances"], feats_scp)
        return cls.fit(sample, config, {"feats_scp": str(feats_scp), **counts})

    # -- applying --------------------------------------------------------------

    def _check(self, feats: np.ndarray) -> np.ndarray:
        feats = np.asarray(feats, dtype=np.float32)
        if feats.ndim != 2 or feats.shape[1] != self.input_dim:
            raise SpeechSSLError(f"features of shape {tuple(feats.shape)} do not fit this transform, which was "
                                 f"fitted on {self.input_dim}-dim features; use the same upstream and layer")
        return feats

    def reduce(self, feats: np.ndarray) -> np.ndarray:
        """PCA only (identity when PCA is off)."""
        feats = self._check(feats)
        if self.pca_matrix is None:
            return feats
        return (feats @ self.pca_matrix.T + self.pca_bias).astype(np.float32)

    def cluster_ids(self, feats: np.ndarray) -> np.ndarray:
        """Per-frame cluster ids of the unreduced features (requires ``n_clusters > 0``)."""
        if self.kmeans is None:
            raise SpeechSSLError("this transform has no k-means (n_clusters=0); no cluster ids to give")
        return self.kmeans.assign(self._check(feats))

    def apply(self, feats: np.ndarray) -> np.ndarray:
        """Frames x input_dim -> pooled frames x output_dim (float32)."""
        feats = self._check(feats)
        out = self.reduce(feats)
        if self.kmeans is not None:
            out = pool_runs(out, self.kmeans.assign(feats))
        if self.config.pair_pool:
            out = pool_pairs(out)
        return out

    # -- persistence -----------------------------------------------------------

    def save(self, directory: str | Path) -> None:
        """Write ``transform.json`` and ``transform.npz`` into ``directory`` (atomically, file by file)."""
        directory = Path(directory)
        arrays = {}
        if self.pca_matrix is not None:
            arrays.update(pca_matrix=self.pca_matrix, pca_bias=self.pca_bias)
        if self.kmeans is not None:
            arrays["centroids"] = self.kmeans.centroids
        with atomic_write(directory / ARRAYS_FILE, "wb") as f:
            np.savez(f, **arrays)
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "config": asdict(self.config),
                "input_dim": self.input_dim, "output_dim": self.output_dim, "fit_info": self.fit_info}
        with atomic_write(directory / CONFIG_FILE) as f:
            json.dump(meta, f, indent=2, sort_keys=True, default=float)
            f.write("\n")

    @classmethod
    def load(cls, directory: str | Path) -> "FeatureTransform":
        """Read a transform written by :meth:`save`."""
        directory = Path(directory)
        cfg_path, arr_path = directory / CONFIG_FILE, directory / ARRAYS_FILE
        if not cfg_path.is_file() or not arr_path.is_file():
            raise SpeechSSLError(f"{directory}: no feature transform ({CONFIG_FILE} and {ARRAYS_FILE}); "
                                 "run speechssl.bin.fit_feature_transform first")
        try:
            meta = json.loads(cfg_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise SpeechSSLError(f"{cfg_path}: invalid JSON ({e}); refit the transform") from None
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise SpeechSSLError(f"{cfg_path}: not a {FORMAT} version {FORMAT_VERSION} file "
                                 f"(format={meta.get('format')!r}, version={meta.get('version')!r})")
        config = TransformConfig.from_dict(meta["config"])
        with np.load(arr_path, allow_pickle=False) as z:
            arrays = {k: np.ascontiguousarray(z[k], dtype=np.float32) for k in z.files}
        kmeans = KMeans(arrays["centroids"]) if "centroids" in arrays else None
        return cls(config, meta["input_dim"], arrays.get("pca_matrix"), arrays.get("pca_bias"), kmeans,
                   meta.get("fit_info", {}))


def _fit_pca(sample: np.ndarray, pca_dim: int) -> tuple[np.ndarray, np.ndarray, float]:
    """faiss PCA without whitening: returns (A, b, explained variance fraction) with y = x @ A.T + b."""
    import faiss

    n, dim = sample.shape
    if pca_dim > dim:
        raise SpeechSSLError(f"PCA to {pca_dim} dimensions is impossible from {dim}-dim features; lower pca_dim")
    if n < pca_dim:
        log.warning("PCA: only %d frames for %d output dimensions; the trailing components are arbitrary", n, pca_dim)
    pca = faiss.PCAMatrix(dim, pca_dim, 0.0)
    pca.max_points_per_d = max(1, -(-n // dim))  # use the whole sample, not faiss's own sub-sample
    pca.train(sample)
    a = faiss.vector_to_array(pca.A).reshape(pca_dim, dim).astype(np.float32)
    b = faiss.vector_to_array(pca.b).astype(np.float32)
    eig = faiss.vector_to_array(pca.eigenvalues)
    explained = float(eig[:pca_dim].sum() / eig.sum()) if eig.sum() > 0 else 1.0
    return a, b, explained
