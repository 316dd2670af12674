"""Fit k-means on the frames of a feature directory and write cluster targets for pre-training.

Example (MelHuBERT stage 1 on log-Mel; stage 2 on layer 8 of the stage-1 model)::

    python -m speechssl.bin.make_kmeans_targets --n-clusters 100 \\
        dump/fbank/train exp/kmeans_fbank train=dump/fbank/train dev=dump/fbank/dev
    python -m speechssl.bin.make_kmeans_targets --n-clusters 100 \\
        dump/ssl_it1/train/layer8 exp/kmeans_it1_l8 train=dump/ssl_it1/train/layer8 dev=dump/ssl_it1/dev/layer8

The model is fitted with faiss on a seeded uniform sample of at most
--max-frames frames of <fit-feats-dir>/feats.scp (memory: max-frames x dim x
4 bytes) and saved as <km-dir>/km.npz; every NAME=DIR pair then gets
<km-dir>/NAME.km with one line "<utt> c1 c2 ..." per utterance (one cluster
per frame, at the features' frame rate).  Done markers in <km-dir>/.done
skip finished work; a changed configuration or input is refused unless
--redo true.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechssl.cluster.kmeans import KMeans, fit_kmeans_on_scp, iter_feats
from speechssl.utils.atomic import atomic_write
from speechssl.utils.cli import add_config_option, parse_args, str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="make_kmeans_targets", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("fit_feats", help="feature directory (feats.scp) whose frames the k-means is fitted on")
    p.add_argument("km_dir", help="output directory: km.npz and NAME.km target files")
    p.add_argument("sets", nargs="*", metavar="NAME=DIR",
                   help="feature directories to label; targets go to <km-dir>/NAME.km")
    p.add_argument("--n-clusters", type=int, default=100, help="number of clusters (MelHuBERT paper: 512)")
    p.add_argument("--max-frames", type=int, default=200000, help="frames sampled for fitting")
    p.add_argument("--niter", type=int, default=50, help="k-means iterations")
    p.add_argument("--nredo", type=int, default=3, help="k-means restarts (the best is kept)")
    p.add_argument("--seed", type=int, default=1, help="seed of the frame sample and the k-means initialisation")
    p.add_argument("--redo", type=str2bool, default=False,
                   help="discard outputs made with another configuration instead of refusing to run")
    p.add_argument("--log-file", default=None, help="also write the log here")
    return p


def _parse_sets(items: list[str]) -> dict[str, Path]:
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path or "/" in name:
            raise SpeechSSLError(f"{item!r}: expected NAME=DIR (e.g. train=dump/fbank/train)")
        if name in out:
            raise SpeechSSLError(f"set name {name!r} given twice")
        out[name] = Path(path)
    return out


def write_targets(model: KMeans, feats_dir: Path, out: Path) -> int:
    """Label every frame of ``feats_dir/feats.scp``; return the number of utterances."""
    n = 0
    with atomic_write(out) as f:
        for utt, mat in iter_feats(feats_dir / "feats.scp"):
            f.write(utt + " " + " ".join(map(str, model.assign(mat).tolist())) + "\n")
            n += 1
    return n


@cli_main
def main(argv=None) -> int:
    args = parse_args(add_config_option(get_parser()), argv)
    setup_logging(log_file=args.log_file)
    km_dir, fit_dir = Path(args.km_dir), Path(args.fit_feats)
    sets = _parse_sets(args.sets)
    for d in [fit_dir, *sets.values()]:
        if not (d / "feats.scp").is_file():
            raise SpeechSSLError(f"{d}/feats.scp: not found; give feature directories written by dump_features")
    config = {k: getattr(args, k) for k in ("n_clusters", "max_frames", "niter", "nredo", "seed")}
    km_path = km_dir / "km.npz"
    fit_marker = StageMarker(km_dir / ".done" / "fit.json", f"k-means fit on {fit_dir}", config,
                             [fit_dir / "feats.scp"])
    if fit_marker.needs_run([km_path], redo=args.redo):
        model, stats = fit_kmeans_on_scp(fit_dir / "feats.scp", args.n_clusters, args.max_frames, args.seed,
                                         args.niter, args.nredo)
        model.save(km_path)
        fit_marker.write([km_path], summary=stats)
    model = KMeans.load(km_path)
    for name, feats_dir in sets.items():
        out = km_dir / f"{name}.km"
        marker = StageMarker(km_dir / ".done" / f"{name}.json", f"k-means targets of {feats_dir}",
                             {"set": str(feats_dir)}, [km_path, feats_dir / "feats.scp"])
        if marker.needs_run([out], redo=args.redo):
            n = write_targets(model, feats_dir, out)
            marker.write([out], summary={"utterances": n})
            log.info("wrote %s (%d utterances, %d clusters)", out, n, model.n_clusters)
    return 0


if __name__ == "__main__":
    sys.exit(main())
