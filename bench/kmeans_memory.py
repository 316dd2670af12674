"""Peak memory and time of k-means fitting: our bounded sample vs. holding every frame.

Three ways to fit k-means on the frames of a Kaldi feats.scp, each run in a
fresh subprocess whose peak resident memory (``ru_maxrss``) is reported:

* ``ours``: stream the scp once through the seeded reservoir sampler
  (``--max-frames`` frames kept), faiss k-means on the sample
  (``speechssl.cluster.kmeans.fit_kmeans_on_scp``);
* ``faiss-default``: every frame read into one array preallocated from
  ``utt2num_frames`` (no list, no concatenation copy), then
  ``faiss.Kmeans`` with its defaults (which trains on at most 256 points per
  centroid, picked at random from the array);
* ``reference``: the fairseq/ESPnet way: a list of every utterance's matrix,
  ``np.concatenate``, then ``faiss.Kmeans`` told to use every frame
  (``max_points_per_centroid = number of frames``).

All use the same iterations (``--niter``, 1 restart) so that times compare;
the references themselves use 50 iterations x 3 restarts.  The synthetic data
(Gaussian blobs, ``--dim`` dims, 500-frame utterances) is written to
``--workdir`` at each size in ``--frames``; the largest should be 10x the
smallest to show that our peak memory stays flat.

Usage::

    tools/venv/bin/python bench/kmeans_memory.py --frames 20000,200000
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

UTT_FRAMES = 500
METHODS = ("ours", "faiss-default", "reference")


def write_synthetic(path: Path, n_frames: int, dim: int, seed: int) -> Path:
    """An ark/scp of ``n_frames`` frames (Gaussian blobs) split into 500-frame utterances."""
    import kaldiio

    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((256, dim)).astype(np.float32) * 3
    path.mkdir(parents=True, exist_ok=True)
    scp = path / "feats.scp"
    lengths = []
    with kaldiio.WriteHelper(f"ark,scp:{path / 'feats.ark'},{scp}") as writer:
        for i in range(0, n_frames, UTT_FRAMES):
            n = min(UTT_FRAMES, n_frames - i)
            mat = centers[rng.integers(0, len(centers), n)] + rng.standard_normal((n, dim), dtype=np.float32)
            utt = f"utt{i // UTT_FRAMES:07d}"
            writer(utt, mat)
            lengths.append(f"{utt} {n}\n")
    (path / "utt2num_frames").write_text("".join(lengths))
    return scp


def run_method(method: str, scp: Path, clusters: int, niter: int, max_frames: int, seed: int) -> dict:
    """Fit with one method in this process; report time and peak RSS."""
    import faiss
    import kaldiio

    from speechssl.cluster.kmeans import fit_kmeans_on_scp
    from speechssl.utils.log import setup_logging

    setup_logging("WARNING")
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if method == "ours":
        _, stats = fit_kmeans_on_scp(scp, clusters, max_frames=max_frames, seed=seed, niter=niter, nredo=1)
        used = stats["frames_sampled"]
    else:
        mats = kaldiio.load_scp(str(scp))
        if method == "reference":
            x = np.concatenate([mats[k] for k in mats])
            km = faiss.Kmeans(x.shape[1], clusters, niter=niter, nredo=1, seed=seed, max_points_per_centroid=len(x))
            used = len(x)
        else:
            lengths = [int(line.split()[1]) for line in (scp.parent / "utt2num_frames").read_text().splitlines()]
            x = np.empty((sum(lengths), mats[next(iter(mats))].shape[1]), dtype=np.float32)
            n = 0
            for k in mats:
                m = mats[k]
                x[n:n + len(m)] = m
                n += len(m)
            km = faiss.Kmeans(x.shape[1], clusters, niter=niter, nredo=1, seed=seed)
            used = min(len(x), 256 * clusters)
        km.train(x)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"method": method, "fit_s": round(seconds, 2), "peak_rss_mb": round(peak_mb, 1),
            "import_rss_mb": round(baseline_mb, 1), "frames_used": int(used)}


def measure(method: str, scp: Path, args: argparse.Namespace) -> dict:
    """Run :func:`run_method` in a fresh interpreter so peak RSS is its own."""
    cmd = [sys.executable, __file__, "--worker", method, "--scp", str(scp), "--clusters", str(args.clusters),
           "--niter", str(args.niter), "--max-frames", str(args.max_frames), "--seed", str(args.seed)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", default="20000,200000", help="comma-separated corpus sizes in frames")
    p.add_argument("--dim", type=int, default=512, help="feature dimension (default: %(default)s)")
    p.add_argument("--clusters", type=int, default=128, help="k-means clusters (default: %(default)s)")
    p.add_argument("--niter", type=int, default=10, help="k-means iterations for every method (default: %(default)s)")
    p.add_argument("--max-frames", type=int, default=20000, help="our sample bound (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of data and k-means (default: %(default)s)")
    p.add_argument("--workdir", default=None, help="where the synthetic arks go (default: a temporary directory)")
    p.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--scp", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.worker:
        print(json.dumps(run_method(args.worker, Path(args.scp), args.clusters, args.niter, args.max_frames, args.seed)))
        return 0

    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="kmeans_bench."))
    rows = []
    try:
        for n in [int(v) for v in args.frames.split(",")]:
            scp = write_synthetic(workdir / f"n{n}", n, args.dim, args.seed)
            data_mb = n * args.dim * 4 / 2**20
            for method in METHODS:
                r = measure(method, scp, args)
                rows.append({"frames": n, "data_mb": round(data_mb, 1), **r})
                print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nk-means, {args.dim} dims, {args.clusters} clusters, {args.niter} iterations x 1 restart; "
          f"ours keeps <= {args.max_frames} frames\n")
    print("| frames | data (MB) | method | frames used | fit time (s) | peak RSS (MB) | RSS after imports (MB) |")
    print("|---:|---:|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['frames']} | {r['data_mb']} | {r['method']} | {r['frames_used']} | {r['fit_s']} | "
              f"{r['peak_rss_mb']} | {r['import_rss_mb']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
