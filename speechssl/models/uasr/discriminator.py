"""The wav2vec-U discriminator: a (causal) convolutional network over phone distributions.

``Conv(V -> C, k)``, then ``depth - 1`` blocks ``Conv(C -> C, k) + dropout + GELU``,
then ``Conv(C -> 1, k)``; the per-position scores are averaged over the
non-padded positions, giving one logit per sequence (high = "generated").
Causal convolutions pad ``dilation * (k - 1)`` frames on the left only.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class DiscriminatorConfig:
    channels: int = 384
    depth: int = 2
    kernel: int = 6
    dilation: int = 1
    causal: bool = True
    dropout: float = 0.0


class _PaddedConv(nn.Conv1d):
    """A length-preserving convolution, causal (left padding) or centred."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int, causal: bool):
        super().__init__(cin, cout, kernel, dilation=dilation)
        total = dilation * (kernel - 1)
        self.pad = (total, 0) if causal else (total // 2, total - total // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.pad))


class Discriminator(nn.Module):
    def __init__(self, vocab_size: int, cfg: DiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        layers: list[nn.Module] = [_PaddedConv(vocab_size, cfg.channels, cfg.kernel, cfg.dilation, cfg.causal),
                                   nn.Dropout(cfg.dropout)]
        for _ in range(cfg.depth - 1):
            layers += [_PaddedConv(cfg.channels, cfg.channels, cfg.kernel, cfg.dilation, cfg.causal),
                       nn.Dropout(cfg.dropout), nn.GELU()]
        layers.append(_PaddedConv(cfg.channels, 1, cfg.kernel, cfg.dilation, cfg.causal))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, padding_mask: torch.Tensor | None) -> torch.Tensor:
        """(B, T, V) distributions and (B, T) padding mask -> (B,) logits."""
        if padding_mask is not None:
            x = x.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        scores = self.net(x.transpose(1, 2)).squeeze(1)  # (B, T)
        if padding_mask is None:
            return scores.mean(dim=1)
        valid = (~padding_mask).to(scores.dtype)
        return (scores * valid).sum(dim=1) / valid.sum(dim=1).clamp(min=1.0)
