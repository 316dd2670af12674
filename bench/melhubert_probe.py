"""Phone-probe benchmark: best MelHuBERT layer against log-Mel and MFCC input (target: >= 10 points better).

Reads the probe table that stage 7 of egs/<corpus>/ssl1/run.sh writes
(``exp/probe_it2/probe.tsv``, from ``speechssl.bin.probe_layers``) and
prints a markdown table: accuracy of every layer, the baselines, and the
margin of the best layer over the best baseline.  Exits 1 when the margin
is below --target points.

    cd egs/mini_librispeech/ssl1 && ./run.sh --stage 7 --stop_stage 7
    tools/venv/bin/python bench/melhubert_probe.py egs/mini_librispeech/ssl1/exp/probe_it2/probe.tsv
"""
from __future__ import annotations

import argparse
import csv
import sys


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("probe_tsv", help="probe.tsv written by probe_layers")
    p.add_argument("--target", type=float, default=10.0, help="required margin in accuracy points")
    args = p.parse_args()
    with open(args.probe_tsv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    layered = [r for r in rows if r["layer"] != "-"]
    baselines = [r for r in rows if r["layer"] == "-"]
    if not layered or not baselines:
        print(f"{args.probe_tsv}: needs layered SSL rows and baseline rows", file=sys.stderr)
        return 1
    print("| features | layer | dim | frames/s | test frame acc. (%) | train acc. (%) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['features']} | {r['layer']} | {r['dim']} | {float(r['frame_rate']):g} | "
              f"{100 * float(r['test_acc']):.1f} | {100 * float(r['train_acc']):.1f} |")
    best = max(layered, key=lambda r: float(r["test_acc"]))
    base = max(baselines, key=lambda r: float(r["test_acc"]))
    margin = 100 * (float(best["test_acc"]) - float(base["test_acc"]))
    print(f"\nbest layer: {best['features']} layer {best['layer']} ({100 * float(best['test_acc']):.1f} %); "
          f"best baseline: {base['features']} ({100 * float(base['test_acc']):.1f} %); margin {margin:+.1f} points "
          f"(target >= {args.target:g}): {'met' if margin >= args.target else 'NOT met'}")
    return 0 if margin >= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
