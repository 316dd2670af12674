"""Multiply-accumulates per second of audio: MelHuBERT (10 / 20 ms, and the CPU recipe's model) vs HuBERT Base.

Every model is built with random weights and counted by the same counter
(``torch.utils.flop_counter``: matrix multiplies, convolutions and attention;
MACs = FLOPs / 2) on one utterance of each length, without the prediction
heads.  HuBERT Base is transformers' ``HubertModel(HubertConfig())``
(CNN + 12 x 768 transformer).  Prints a markdown table.

    tools/venv/bin/python bench/melhubert_macs.py [--seconds 1 10]
"""
from __future__ import annotations

import argparse

import torch
import yaml

from speechssl.models.melhubert import MelHuBERT, MelHuBERTConfig, count_macs, macs_per_second


def hubert_base_macs_per_second(seconds: float) -> float:
    from transformers import HubertConfig, HubertModel

    model = HubertModel(HubertConfig())
    wav = torch.zeros(1, int(seconds * 16000))
    return count_macs(model, lambda: model(wav)) / seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, nargs="+", default=[1.0, 10.0], help="utterance lengths")
    p.add_argument("--cpu-config", default="egs/mini_librispeech/ssl1/conf/melhubert_it1.yaml",
                   help="the CPU recipe's model configuration")
    args = p.parse_args()
    torch.manual_seed(0)
    with open(args.cpu_config, encoding="utf-8") as f:
        cpu_model = yaml.safe_load(f)["model"]
    models = {
        "HuBERT Base (transformers, CNN + 12x768)": None,
        "MelHuBERT 12x768, 20 ms": MelHuBERT(MelHuBERTConfig(stack_frames=2)),
        "MelHuBERT 12x768, 10 ms": MelHuBERT(MelHuBERTConfig(stack_frames=1)),
        f"MelHuBERT CPU recipe ({cpu_model['num_layers']}x{cpu_model['hidden_size']}, "
        f"{10 * cpu_model['stack_frames']} ms)": MelHuBERT(MelHuBERTConfig(**cpu_model)),
    }
    base = {s: hubert_base_macs_per_second(s) for s in args.seconds}
    head = " | ".join(f"GMAC/s ({s:g} s utt.) | vs HuBERT" for s in args.seconds)
    print(f"| model | parameters (M) | {head} |")
    print("|---|---|" + "---|---|" * len(args.seconds))
    for name, model in models.items():
        cells = []
        for s in args.seconds:
            macs = base[s] if model is None else macs_per_second(model, s)
            cells.append(f"{macs / 1e9:.2f} | {100 * (macs / base[s] - 1):+.1f} %")
        if model is None:
            from transformers import HubertConfig, HubertModel

            params = sum(p.numel() for p in HubertModel(HubertConfig()).parameters())
        else:
            params = model.num_parameters(with_head=False)
        print(f"| {name} | {params / 1e6:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
