"""Linear phone probing of every layer of an SSL model (and of baseline features) with gold alignments.

Example (the stand-in corpus writes gold boundaries in *.alignment.ctm)::

    python -m speechssl.bin.probe_layers --ctm-dir downloads/LibriSpeech \\
        --feats melhubert dump/ssl_it2/train dump/ssl_it2/test \\
        --feats fbank dump/fbank/train dump/fbank/test \\
        --feats mfcc dump/mfcc/train dump/mfcc/test exp/probe

Each --feats NAME TRAIN TEST names two dump_features outputs: a feature
directory (feats.scp, feat_info.json) or, for SSL dumps, a directory of
layer<L>/ subdirectories (every layer is probed).  A linear softmax
classifier is trained per feature set / layer on a seeded sample of the
training frames and scored on the test frames (frame accuracy, silence
included).  Outputs in <out-dir>: probe.tsv (one row per probe), probe.png
(accuracy by layer, baselines as horizontal lines) and best.json (the best
layer of each layered feature set: the layer to use for UASR).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from speechssl.probing.phone_probe import find_alignment_ctms, probe_feature_dirs, read_alignment_ctm
from speechssl.utils.atomic import atomic_write
from speechssl.utils.cli import add_config_option, parse_args
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)
COLUMNS = ["features", "layer", "dim", "frame_rate", "classes", "train_frames", "test_frames", "train_acc", "test_acc"]


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="probe_layers", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", help="output directory: probe.tsv, probe.png, best.json")
    p.add_argument("--feats", nargs=3, action="append", required=True, metavar=("NAME", "TRAIN_DIR", "TEST_DIR"),
                   help="a feature set to probe (repeatable); SSL dumps with layer<L>/ subdirectories are probed "
                        "layer by layer")
    p.add_argument("--ctm-dir", action="append", default=[],
                   help="directory searched recursively for *.alignment.ctm gold alignments (repeatable)")
    p.add_argument("--ctm", action="append", default=[], help="a CTM alignment file (repeatable)")
    p.add_argument("--max-train-frames", type=int, default=100000, help="training frames sampled per probe")
    p.add_argument("--max-test-frames", type=int, default=50000, help="test frames sampled per probe")
    p.add_argument("--epochs", type=int, default=10, help="passes over the training frames")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate of the probe")
    p.add_argument("--seed", type=int, default=1, help="seed of the frame samples and the probe")
    p.add_argument("--log-file", default=None, help="also write the log here")
    return p


def write_plot(rows: list[dict], path: Path) -> None:
    """Accuracy by layer for layered feature sets; single feature sets as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    layered = sorted({r["features"] for r in rows if r["layer"] is not None})
    for name in layered:
        pts = sorted((r["layer"], r["test_acc"]) for r in rows if r["features"] == name)
        ax.plot([p[0] for p in pts], [100 * p[1] for p in pts], marker="o", label=name)
    for i, r in enumerate(r for r in rows if r["layer"] is None):
        ax.axhline(100 * r["test_acc"], linestyle="--", color=f"C{len(layered) + i}", label=r["features"])
    ax.set_xlabel("layer (0 = transformer input)")
    ax.set_ylabel("phone frame accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format="png", dpi=90)
    plt.close(fig)


@cli_main
def main(argv=None) -> int:
    args = parse_args(add_config_option(get_parser()), argv)
    setup_logging(log_file=args.log_file)
    ctms = [Path(c) for c in args.ctm] + [p for d in args.ctm_dir for p in find_alignment_ctms(d)]
    if not ctms:
        raise SpeechSSLError("no gold alignments: give --ctm-dir or --ctm")
    alignments = read_alignment_ctm(ctms)
    log.info("%d aligned utterances from %d CTM files", len(alignments), len(ctms))
    rows = probe_feature_dirs([tuple(f) for f in args.feats], alignments, args.max_train_frames,
                              args.max_test_frames, args.epochs, args.lr, args.seed)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "probe.tsv") as f:
        f.write("\t".join(COLUMNS) + "\n")
        for r in rows:
            f.write("\t".join("-" if r[c] is None else f"{r[c]:.4f}" if isinstance(r[c], float) else str(r[c])
                              for c in COLUMNS) + "\n")
    best = {}
    for name in sorted({r["features"] for r in rows if r["layer"] is not None}):
        top = max((r for r in rows if r["features"] == name), key=lambda r: r["test_acc"])
        best[name] = {"layer": top["layer"], "test_acc": top["test_acc"]}
    with atomic_write(out / "best.json") as f:
        json.dump({"best_layer": best, "baselines": {r["features"]: r["test_acc"] for r in rows
                                                     if r["layer"] is None}}, f, indent=2)
        f.write("\n")
    write_plot(rows, out / "probe.png")
    for name, b in best.items():
        log.info("best layer of %s: %d (test frame accuracy %.4f)", name, b["layer"], b["test_acc"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
