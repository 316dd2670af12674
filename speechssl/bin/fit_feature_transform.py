"""Fit the wav2vec-U feature transform (k-means, PCA) and the 2.0 auxiliary targets on the training set.

Example (wav2vec-U: PCA 512, 128 clusters, run + pair pooling)::

    python -m speechssl.bin.fit_feature_transform dump/ssl/train exp/feature_transform

Example (wav2vec-U 2.0: raw features, 64-cluster MFCC auxiliary targets)::

    python -m speechssl.bin.fit_feature_transform --pca-dim 0 --n-clusters 0 --pair-pool false \\
        --aux-clusters 64 dump/ssl/train exp/feature_transform_v2

<feats-dir> holds the training set's SSL features (feats.scp, Kaldi ark); for
auxiliary targets it (or --aux-data-dir) must also hold the audio (wav.scp) the
features were extracted from.  Only a seeded uniform random sample of at most
--max-frames frames is kept in memory (max_frames x dim x 4 bytes), whatever the
corpus size.  The result, <transform-dir>/transform.{json,npz} (plus aux/ when
--aux-clusters > 0), is applied to every set by apply_feature_transform and by
packed models at inference.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from speechssl.uasr.aux_targets import AuxTargets
from speechssl.uasr.preprocess import FeatureTransform, TransformConfig
from speechssl.utils.atomic import atomic_dir
from speechssl.utils.cli import add_config_option, parse_args
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("feats_dir", help="training-set feature directory with feats.scp")
    p.add_argument("transform_dir", help="output directory for the fitted transform (replaced atomically)")
    p.add_argument("--pca-dim", type=int, default=512, help="PCA output dimension; 0 disables PCA (default: %(default)s)")
    p.add_argument("--n-clusters", type=int, default=128,
                   help="k-means clusters whose runs are mean-pooled; 0 disables run pooling (default: %(default)s)")
    p.add_argument("--pair-pool", default="true", choices=["true", "false"],
                   help="mean-pool adjacent frames in pairs after run pooling (default: %(default)s)")
    p.add_argument("--max-frames", type=int, default=200_000,
                   help="frames sampled from the training set for k-means and PCA (default: %(default)s)")
    p.add_argument("--kmeans-iters", type=int, default=50, help="k-means iterations (default: %(default)s)")
    p.add_argument("--kmeans-redo", type=int, default=3,
                   help="k-means restarts, the best is kept (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the frame sample and of k-means (default: %(default)s)")
    p.add_argument("--aux-clusters", type=int, default=0,
                   help="MFCC k-means clusters for wav2vec-U 2.0 auxiliary targets (64 in the paper); "
                        "0 fits none (default: %(default)s)")
    p.add_argument("--aux-data-dir", default=None,
                   help="data directory with the training audio for auxiliary targets (default: <feats-dir>)")
    p.add_argument("--ssl-frame-rate", type=float, default=50.0,
                   help="frame rate (Hz) of the SSL features, which auxiliary labels are aligned to "
                        "(default: %(default)s)")
    p.add_argument("--redo", default="false", choices=["true", "false"],
                   help="discard a transform fitted with other options or inputs and fit again (default: %(default)s)")
    p.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    p.add_argument("--log-file", default=None, help="also write the log here")
    return p


@cli_main
def main(argv=None) -> int:
    args = parse_args(add_config_option(get_parser()), argv)
    setup_logging(args.log_level, args.log_file)
    feats_scp = Path(args.feats_dir) / "feats.scp"
    if not feats_scp.is_file():
        raise SpeechSSLError(f"{feats_scp}: not found; extract the SSL features of the training set first")
    if args.aux_clusters < 0:
        raise SpeechSSLError(f"--aux-clusters must be >= 0, got {args.aux_clusters}")
    config = TransformConfig(pca_dim=args.pca_dim, n_clusters=args.n_clusters, pair_pool=args.pair_pool == "true",
                             max_frames=args.max_frames, kmeans_iters=args.kmeans_iters,
                             kmeans_redo=args.kmeans_redo, seed=args.seed)
    aux_dir = Path(args.aux_data_dir or args.feats_dir)
    inputs = [feats_scp] + ([aux_dir / "wav.scp"] if args.aux_clusters else [])
    stage_config = {**asdict(config), "aux_clusters": args.aux_clusters, "ssl_frame_rate": args.ssl_frame_rate}
    out = Path(args.transform_dir)
    marker = StageMarker(out / ".done.json", "fit_feature_transform", stage_config, inputs=inputs)
    if not marker.needs_run([out], redo=args.redo == "true"):
        return 0
    with atomic_dir(out) as tmp:
        transform = FeatureTransform.fit_scp(feats_scp, config)
        transform.save(tmp)
        summary = {"input_dim": transform.input_dim, "output_dim": transform.output_dim}
        if args.aux_clusters:
            aux = AuxTargets.fit(aux_dir, args.aux_clusters, args.max_frames, args.seed, args.ssl_frame_rate,
                                 args.kmeans_iters, args.kmeans_redo)
            aux.save(tmp / "aux")
            summary["aux_clusters"] = args.aux_clusters
        StageMarker(tmp / ".done.json", marker.stage, stage_config, inputs=inputs).write([out], summary)
    log.info("feature transform %d -> %d dims written to %s", transform.input_dim, transform.output_dim, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
