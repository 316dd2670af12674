"""wav2vec-U 2.0 auxiliary targets: MFCC k-means labels at the SSL frame rate.

wav2vec-U 2.0 adds a loss that predicts, from the generator's hidden layer,
a k-means label (64 clusters) of the MFCCs (13 + deltas + delta-deltas,
100 Hz) of each frame.  The fairseq script for it lacks the k-means fitting
step (fairseq #4615, #5088) and labels only the training set.  Here the
k-means is fitted on a bounded random sample of the training set's MFCC
frames, saved with the feature transform, and applied to every set; the
100 Hz labels are brought to the SSL frame rate (50 Hz for wav2vec 2.0 /
HuBERT) so that there is exactly one label per SSL frame.

Labels are written as a Kaldi text table ``utt2aux`` (``utt l1 l2 ...``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from speechssl.audio.features import FeatureConfig, compute_features
from speechssl.audio.io import iter_utterances
from speechssl.cluster.kmeans import KMeans, fit_kmeans, iter_feats, sample_frames
from speechssl.data.scp import read_dict
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

AUX_CONFIG_FILE = "aux.json"
AUX_ARRAYS_FILE = "aux.npz"
#: The MFCCs of wav2vec-U 2.0 / HuBERT's first iteration: 13 coefficients with deltas and delta-deltas.
MFCC_CONFIG = FeatureConfig(feat_type="mfcc", num_ceps=13, deltas=True)
#: How many frames the MFCC-implied length may differ from the SSL frame count before it is an error.
MAX_LENGTH_MISMATCH = 2


def align_labels(labels: np.ndarray, n_frames: int, src_rate: float, dst_rate: float, utt: str = "utterance") -> np.ndarray:
    """Resample frame labels from ``src_rate`` to exactly ``n_frames`` frames at ``dst_rate``.

    Target frame ``j`` takes the label of the source frame that starts at the
    same time (index ``floor(j * src_rate / dst_rate)``); for MFCC at 100 Hz and
    wav2vec 2.0 at 50 Hz both windows start at sample ``320 j``.  A length
    disagreement of more than :data:`MAX_LENGTH_MISMATCH` target frames means
    the two come from different audio and is an error.
    """
    labels = np.asarray(labels)
    ratio = src_rate / dst_rate
    implied = len(labels) / ratio
    if len(labels) == 0 or abs(implied - n_frames) > MAX_LENGTH_MISMATCH:
        raise SpeechSSLError(
            f"{utt}: {len(labels)} MFCC frames ({implied:.1f} at {dst_rate:g} Hz) do not match its {n_frames} SSL "
            "frames; the SSL features and the audio differ (e.g. VAD applied to one only). Re-extract them from "
            "the same data directory"
        )
    idx = np.minimum(np.floor(np.arange(n_frames) * ratio).astype(np.int64), len(labels) - 1)
    return labels[idx].astype(np.int32)


@dataclass
class AuxTargets:
    """The fitted MFCC k-means and the frame rates it converts between."""

    kmeans: KMeans
    ssl_frame_rate: float = 50.0
    fit_info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, datadir: str | Path, n_clusters: int = 64, max_frames: int = 200_000, seed: int = 0,
            ssl_frame_rate: float = 50.0, niter: int = 50, nredo: int = 3) -> "AuxTargets":
        """Fit the MFCC k-means on a reservoir sample of a (training) data directory's frames."""
        datadir = Path(datadir)

        def mfccs():
            for utt, wav, sr in tqdm(iter_utterances(datadir), desc=f"MFCC {datadir.name}", unit="utt"):
                yield utt, compute_features(wav, sr, MFCC_CONFIG, utt)

        sample, counts = sample_frames(mfccs(), max_frames, seed)
        kmeans, stats = fit_kmeans(sample, n_clusters, niter, nredo, seed)
        return cls(kmeans, ssl_frame_rate, {"datadir": str(datadir), **counts, "kmeans": stats})

    def labels(self, wav: np.ndarray, sr: int, n_ssl_frames: int, utt: str = "utterance") -> np.ndarray:
        """One label per SSL frame of an utterance's waveform."""
        mfcc = compute_features(wav, sr, MFCC_CONFIG, utt)
        return align_labels(self.kmeans.assign(mfcc), n_ssl_frames, MFCC_CONFIG.frame_rate, self.ssl_frame_rate, utt)

    def write_table(self, datadir: str | Path, utt2num_frames: dict[str, int], out_path: str | Path) -> dict[str, int]:
        """Label every utterance of ``datadir`` that has SSL features; write ``utt2aux`` atomically.

        ``utt2num_frames`` gives the SSL frame count of each utterance.  Utterances
        without SSL features are skipped and counted.
        """
        datadir = Path(datadir)
        stats = {"labelled": 0, "no_ssl_features": 0}
        with atomic_write(out_path) as f:
            for utt, wav, sr in tqdm(iter_utterances(datadir), desc=f"aux targets {datadir.name}", unit="utt"):
                if utt not in utt2num_frames:
                    stats["no_ssl_features"] += 1
                    continue
                labels = self.labels(wav, sr, utt2num_frames[utt], utt)
                f.write(utt + " " + " ".join(map(str, labels.tolist())) + "\n")
                stats["labelled"] += 1
        if stats["no_ssl_features"]:
            log.warning("aux targets: %d utterance(s) of %s have no SSL features and were skipped",
                        stats["no_ssl_features"], datadir)
        if stats["labelled"] == 0:
            raise SpeechSSLError(f"{datadir}: no utterance has SSL features; are the data and feature dirs of the same set?")
        return stats

    def save(self, directory: str | Path) -> None:
        """Write ``aux.json`` and ``aux.npz`` into ``directory``."""
        directory = Path(directory)
        self.kmeans.save(directory / AUX_ARRAYS_FILE)
        meta = {"ssl_frame_rate": self.ssl_frame_rate, "mfcc_frame_rate": MFCC_CONFIG.frame_rate,
                "mfcc_dim": MFCC_CONFIG.dim, "n_clusters": self.kmeans.n_clusters, "fit_info": self.fit_info}
        with atomic_write(directory / AUX_CONFIG_FILE) as f:
            json.dump(meta, f, indent=2, sort_keys=True)
            f.write("\n")

    @classmethod
    def load(cls, directory: str | Path) -> "AuxTargets":
        directory = Path(directory)
        path = directory / AUX_CONFIG_FILE
        if not path.is_file():
            raise SpeechSSLError(f"{directory}: no auxiliary-target model ({AUX_CONFIG_FILE}); fit it with "
                                 "speechssl.bin.fit_feature_transform --aux-clusters 64")
        meta = json.loads(path.read_text(encoding="utf-8"))
        return cls(KMeans.load(directory / AUX_ARRAYS_FILE), float(meta["ssl_frame_rate"]), meta.get("fit_info", {}))

    @staticmethod
    def exists(directory: str | Path) -> bool:
        return (Path(directory) / AUX_CONFIG_FILE).is_file()


def read_utt2num_frames(feats_dir: str | Path) -> dict[str, int]:
    """SSL frame counts of a feature directory: ``utt2num_frames``, else the shapes in ``feats.scp``."""
    feats_dir = Path(feats_dir)
    table = feats_dir / "utt2num_frames"
    if table.is_file():
        out = {}
        for utt, value in read_dict(table).items():
            if not value.isdigit():
                raise SpeechSSLError(f"{table}: utterance {utt!r} has {value!r}; expected a frame count")
            out[utt] = int(value)
        return out
    return {utt: len(mat) for utt, mat in iter_feats(feats_dir / "feats.scp")}
