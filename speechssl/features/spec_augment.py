"""SpecAugment-style masking of feature batches for training (Park et al., 2019).

Self-training fits a CTC model to labels with errors in them; masking spans of
frames and of feature dimensions keeps the model from memorising each
utterance's labels and makes it lean on context instead (the noisy student
recipe).  Masked values are set to 0, the mean of per-utterance normalised
features.  Randomness comes from torch's global generator, which the trainers
seed from the config and checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import torch

from speechssl.utils.errors import SpeechSSLError


@dataclass(frozen=True)
class SpecAugmentConfig:
    """Per utterance: ``time_masks`` spans of 1..``time_width`` frames and ``freq_masks`` spans of
    1..``freq_width`` feature dimensions; 0 masks disable that axis."""

    time_masks: int = 0
    time_width: int = 0
    freq_masks: int = 0
    freq_width: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> "SpecAugmentConfig":
        d = dict(d or {})
        unknown = sorted(set(d) - {f.name for f in fields(cls)})
        if unknown:
            raise SpeechSSLError(f"augment: unknown keys {unknown}; known: {[f.name for f in fields(cls)]}")
        cfg = cls(**{k: int(v) for k, v in d.items()})
        for name in ("time", "freq"):
            masks, width = getattr(cfg, f"{name}_masks"), getattr(cfg, f"{name}_width")
            if masks < 0 or width < 0 or (masks > 0 and width < 1):
                raise SpeechSSLError(f"augment: {name}_masks {masks} needs {name}_width >= 1 (got {width}); "
                                     "both must be >= 0")
        return cfg

    @property
    def enabled(self) -> bool:
        return self.time_masks > 0 or self.freq_masks > 0


def _spans(n: int, count: int, width: int, limits: torch.Tensor) -> torch.Tensor:
    """(B, n) mask of ``count`` random spans of 1..``width`` positions per row, inside ``limits[b]`` positions."""
    b = limits.numel()
    widths = torch.randint(1, width + 1, (b, count))
    room = (limits[:, None] - widths).clamp_min(0) + 1
    starts = (torch.rand(b, count) * room).long()
    pos = torch.arange(n)[None, None, :]
    hit = (pos >= starts[..., None]) & (pos < (starts + widths)[..., None])
    return hit.any(dim=1)


def spec_augment(feats: torch.Tensor, padding_mask: torch.Tensor, cfg: SpecAugmentConfig) -> torch.Tensor:
    """A masked copy of ``feats`` (B, T, D); ``padding_mask`` (B, T) is True on padding, so that time masks fall
    inside each utterance."""
    if not cfg.enabled:
        return feats
    b, t, d = feats.shape
    keep = torch.ones(b, t, d, dtype=torch.bool)
    if cfg.time_masks:
        lengths = (~padding_mask).sum(dim=1).cpu()
        keep &= ~_spans(t, cfg.time_masks, cfg.time_width, lengths)[:, :, None]
    if cfg.freq_masks:
        keep &= ~_spans(d, cfg.freq_masks, min(cfg.freq_width, d), torch.full((b,), d))[:, None, :]
    return feats * keep.to(feats.device, feats.dtype)
