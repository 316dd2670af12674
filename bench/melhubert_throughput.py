"""Pre-training throughput of MelHuBERT: input frames (10 ms) per second of wall time, per update.

Synthetic normalised log-Mel batches of --batch-seconds (utterances of
--utt-seconds), span masks and random targets; each update is forward,
masked cross-entropy, backward and an AdamW step, as in train_melhubert
(without data loading).  bf16 autocast on CUDA.  Prints one markdown row
per configuration.

    tools/venv/bin/python bench/melhubert_throughput.py --threads 2 \\
        --config egs/mini_librispeech/ssl1/conf/melhubert_it1.yaml egs/librispeech/ssl1/conf/melhubert_it1.yaml
"""
from __future__ import annotations

import argparse
import contextlib
import platform
import time

import numpy as np
import torch
import yaml

from speechssl.models.melhubert import MelHuBERT, MelHuBERTConfig, compute_span_mask, masked_prediction_loss


def measure(cfg: MelHuBERTConfig, device: torch.device, batch_seconds: float, utt_seconds: float,
            updates: int, warmup: int) -> float:
    torch.manual_seed(0)
    model = MelHuBERT(cfg).to(device).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    n_utts = max(1, int(batch_seconds // utt_seconds))
    frames = int(utt_seconds * 100)
    feats = torch.randn(n_utts, frames, cfg.num_mel_bins, device=device)
    lengths = torch.full((n_utts,), frames, device=device)
    model_frames = -(-frames // cfg.stack_frames)
    targets = torch.randint(0, cfg.num_clusters, (n_utts, model_frames), device=device)
    rng = np.random.default_rng(0)
    amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()
    elapsed = 0.0
    for step in range(warmup + updates):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        mask = compute_span_mask([model_frames] * n_utts, cfg.mask_prob, cfg.mask_length, rng).to(device)
        with amp:
            logits, _, _ = model(feats, lengths, mask)
            loss, _ = masked_prediction_loss(logits, targets, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= warmup:
            elapsed += time.perf_counter() - start
    return n_utts * frames * updates / elapsed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", nargs="+", required=True, help="train_melhubert YAML files (their model section)")
    p.add_argument("--batch-seconds", type=float, default=40.0, help="audio per update")
    p.add_argument("--utt-seconds", type=float, default=10.0, help="length of each synthetic utterance")
    p.add_argument("--updates", type=int, default=5, help="timed updates")
    p.add_argument("--warmup", type=int, default=1, help="untimed updates first")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    where = torch.cuda.get_device_name(device) + ", bf16" if device.type == "cuda" else \
        f"{platform.processor() or platform.machine()} CPU, {args.threads} threads, fp32"
    print("| model | device | batch (s) | input frames/s | audio s per s |")
    print("|---|---|---|---|---|")
    for path in args.config:
        with open(path, encoding="utf-8") as f:
            cfg = MelHuBERTConfig(**yaml.safe_load(f)["model"])
        fps = measure(cfg, device, args.batch_seconds, args.utt_seconds, args.updates, args.warmup)
        name = f"{cfg.num_layers}x{cfg.hidden_size}, {10 * cfg.stack_frames} ms ({path})"
        print(f"| {name} | {where} | {args.batch_seconds:g} | {fps:,.0f} | {fps / 100:.1f} |", flush=True)


if __name__ == "__main__":
    main()
