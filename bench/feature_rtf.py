"""Real-time factor (processing time / audio duration) of feature extraction on this machine.

Measures Kaldi MFCC, Kaldi fbank and a HuBERT-Base-sized model (transformers'
HubertConfig defaults, random weights, nothing downloaded) through the
speechssl upstream interface, and prints one markdown table row.

    tools/venv/bin/python bench/feature_rtf.py [--seconds 30] [--ssl-seconds 4] [--device cpu]
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from speechssl.audio.features import FeatureConfig, compute_features
from speechssl.models.upstream.hf import HFUpstream

SR = 16000


def machine() -> str:
    name = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            name = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{name}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=30.0, help="audio length for MFCC/fbank")
    p.add_argument("--ssl-seconds", type=float, default=4.0, help="audio length for the HuBERT-Base model")
    p.add_argument("--repeats", type=int, default=3, help="timed runs; the fastest is reported")
    p.add_argument("--device", default="cpu", help="device for the SSL model (cpu or cuda)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    rng = np.random.default_rng(args.seed)
    audio = (0.1 * rng.standard_normal(int(args.seconds * SR))).astype(np.float32)
    rtf = {}
    for kind in ("mfcc", "fbank"):
        cfg = FeatureConfig(kind)
        rtf[kind] = best_time(lambda: compute_features(audio, SR, cfg), args.repeats) / args.seconds

    import transformers

    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    model = transformers.HubertModel(transformers.HubertConfig()).eval()
    upstream = HFUpstream(model, normalize_waveform=False).to(device)
    wav = torch.from_numpy(audio[: int(args.ssl_seconds * SR)])[None].to(device)
    lens = torch.tensor([wav.shape[1]], device=device)

    def run_ssl():
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            upstream(wav, lens)
        if device.type == "cuda":
            torch.cuda.synchronize()

    rtf["hubert_base"] = best_time(run_ssl, args.repeats) / args.ssl_seconds
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else machine()
    print("| date | machine | MFCC RTF | fbank RTF | HuBERT-Base RTF (%s, %.0f s) |" % (args.device, args.ssl_seconds))
    print("|---|---|---|---|---|")
    print(f"| {time.strftime('%Y-%m-%d')} | {where} | {rtf['mfcc']:.4f} | {rtf['fbank']:.4f} | {rtf['hubert_base']:.3f} |")


if __name__ == "__main__":
    main()
