"""wav2vec-U generators: features (B, T, D) -> phone logits (B, T', V).

v1 (fairseq ``w2vu``): dropout, then one convolution (kernel 4, stride 1, no bias).
v2 (``w2vu2``): batch norm over the non-padded frames with its weight
initialised to 30, a residual linear layer ``x + W x`` (its output feeds the
auxiliary head), dropout, then a convolution with kernel 9 and stride 3.

The output length is ``ceil(T / stride)``; output frame ``j`` is padding
exactly when input frame ``j * stride`` is.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class GeneratorConfig:
    kernel: int = 4
    stride: int = 1
    dilation: int = 1
    bias: bool = False
    dropout: float = 0.1
    batch_norm: bool = False
    #: Initial batch-norm scale; fairseq uses 30, which can saturate the outputs on MFCC-like inputs.
    batch_norm_weight: float = 30.0
    residual: bool = False


class Generator(nn.Module):
    """Frame-level phone classifier; ``aux_classes > 0`` adds the v2 auxiliary head."""

    def __init__(self, input_dim: int, vocab_size: int, cfg: GeneratorConfig, aux_classes: int = 0):
        super().__init__()
        self.cfg = cfg
        self.input_dim, self.vocab_size = input_dim, vocab_size
        self.bn = nn.BatchNorm1d(input_dim) if cfg.batch_norm else None
        if self.bn is not None:
            nn.init.constant_(self.bn.weight, cfg.batch_norm_weight)
        self.residual = nn.Linear(input_dim, input_dim) if cfg.residual else None
        self.dropout = nn.Dropout(cfg.dropout)
        self.conv = nn.Conv1d(input_dim, vocab_size, cfg.kernel, stride=cfg.stride, dilation=cfg.dilation,
                              padding=(cfg.dilation * (cfg.kernel - 1) + 1) // 2, bias=cfg.bias)
        self.aux_head = nn.Linear(input_dim, aux_classes) if aux_classes > 0 else None

    def forward(self, feats: torch.Tensor, padding_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``logits`` (B, T', V), ``padding_mask`` (B, T') and, with the aux head, ``aux_logits`` (B, T, C)."""
        x = feats.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        if self.bn is not None:
            valid = ~padding_mask
            normed = torch.zeros_like(x)
            normed[valid] = self.bn(x[valid])
            x = normed
        if self.residual is not None:
            x = x + self.residual(x)
        out = {}
        if self.aux_head is not None:
            out["aux_logits"] = self.aux_head(x)
        x = self.dropout(x).masked_fill(padding_mask.unsqueeze(-1), 0.0)
        logits = self.conv(x.transpose(1, 2)).transpose(1, 2)
        out_mask = padding_mask[:, :: self.cfg.stride]
        logits = logits[:, : out_mask.size(1)]
        if logits.size(1) < out_mask.size(1):
            raise ValueError(f"generator conv gives {logits.size(1)} frames for {out_mask.size(1)} expected; "
                             "kernel/dilation/stride combination not supported")
        out["logits"] = logits.masked_fill(out_mask.unsqueeze(-1), 0.0)
        out["padding_mask"] = out_mask
        return out
