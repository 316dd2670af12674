"""MelHuBERT: HuBERT-style masked prediction on log-Mel features (arXiv 2211.09944).

The model has no CNN front end.  Normalised log-Mel frames (40-dim at 10 ms,
or two frames stacked into 80 dims at 20 ms) go through a linear input
projection, a convolutional positional embedding, a LayerNorm and a stack of
post-LN transformer layers; a linear head predicts one k-means cluster per
frame.  During pre-training, spans of *input* frames are replaced by zeros
(the training-set mean after normalisation) and the cross-entropy is taken on
the masked frames only.

Hidden-state numbering follows :mod:`speechssl.models.upstream`: state 0 is
the input of the first transformer layer (projection + positional embedding
+ LayerNorm), state i the output of transformer layer i.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechssl.utils.errors import SpeechSSLError


@dataclass
class MelHuBERTConfig:
    """Architecture and masking options (defaults: the paper's 12-layer 20 ms model)."""

    num_mel_bins: int = 40
    stack_frames: int = 2  # 1: 10 ms frames; 2: two frames stacked, 20 ms
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    ffn_size: int = 3072
    dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.0
    input_dropout: float = 0.1
    pos_conv_kernel: int = 128
    pos_conv_groups: int = 16
    num_clusters: int = 512
    mask_prob: float = 0.53  # share of (stacked) frames masked; see compute_span_mask
    mask_length: int = 5

    def __post_init__(self) -> None:
        problems = []
        if self.stack_frames not in (1, 2):
            problems.append(f"stack_frames must be 1 (10 ms) or 2 (20 ms), got {self.stack_frames}")
        if self.hidden_size % self.num_heads:
            problems.append(f"hidden_size {self.hidden_size} is not a multiple of num_heads {self.num_heads}")
        if self.hidden_size % self.pos_conv_groups:
            problems.append(f"hidden_size {self.hidden_size} is not a multiple of pos_conv_groups {self.pos_conv_groups}")
        if not 0.0 <= self.mask_prob < 1.0:
            problems.append(f"mask_prob must be in [0, 1), got {self.mask_prob}")
        if self.mask_length < 1 or self.num_layers < 1 or self.num_clusters < 2:
            problems.append("mask_length and num_layers must be >= 1 and num_clusters >= 2")
        if problems:
            raise SpeechSSLError("invalid MelHuBERT model configuration: " + "; ".join(problems))

    @property
    def input_dim(self) -> int:
        return self.num_mel_bins * self.stack_frames

    @classmethod
    def from_dict(cls, values: dict[str, Any], where: str = "model") -> "MelHuBERTConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SpeechSSLError(f"{where}: unknown MelHuBERT option(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(sorted(known))}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def stack_frames(feats: torch.Tensor, lengths: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenate every ``n`` consecutive frames: ``[B, T, D]`` -> ``[B, ceil(T/n), n*D]`` (zero-padded)."""
    if n == 1:
        return feats, lengths
    b, t, d = feats.shape
    pad = (-t) % n
    if pad:
        feats = F.pad(feats, (0, 0, 0, pad))
    return feats.reshape(b, (t + pad) // n, n * d), torch.div(lengths + n - 1, n, rounding_mode="floor")


def compute_span_mask(lengths: torch.Tensor | list[int], mask_prob: float, mask_length: int,
                      rng: np.random.Generator, max_len: int | None = None) -> torch.Tensor:
    """Boolean ``[B, max_len]`` mask of non-overlapping spans covering ``mask_prob`` of each utterance.

    Each utterance of ``n`` frames gets ``k = round(mask_prob * n / mask_length)``
    spans of ``mask_length`` frames placed uniformly at random without overlap
    (``k`` positions drawn among the ``n - k*(mask_length-1)`` free slots), so
    exactly ``k * mask_length`` frames are masked.  Unlike fairseq's HuBERT
    masking, where ``mask_prob`` counts span starts and overlaps make the
    masked share smaller (about 53 % for mask_prob 0.7 and length 5: one frame
    escapes all 5 spans that could cover it with probability ``(1-0.14)^5``),
    ``mask_prob`` here *is* the masked share.
    """
    lengths = [int(n) for n in (lengths.tolist() if torch.is_tensor(lengths) else lengths)]
    max_len = max(lengths) if max_len is None else max_len
    mask = np.zeros((len(lengths), max_len), dtype=bool)
    for b, n in enumerate(lengths):
        k = min(int(round(mask_prob * n / mask_length)), n // mask_length)
        if k <= 0:
            continue
        slots = n - k * (mask_length - 1)
        starts = np.sort(rng.choice(slots, size=k, replace=False)) + np.arange(k) * (mask_length - 1)
        idx = (starts[:, None] + np.arange(mask_length)[None, :]).reshape(-1)
        mask[b, idx] = True
    return torch.from_numpy(mask)


class TransformerLayer(nn.Module):
    """Post-LN transformer layer (as in HuBERT Base): x = LN(x + MHA(x)); x = LN(x + FFN(x))."""

    def __init__(self, cfg: MelHuBERTConfig):
        super().__init__()
        self.num_heads = cfg.num_heads
        self.attention_dropout = cfg.attention_dropout
        self.qkv = nn.Linear(cfg.hidden_size, 3 * cfg.hidden_size)
        self.out_proj = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.attn_norm = nn.LayerNorm(cfg.hidden_size)
        self.fc1 = nn.Linear(cfg.hidden_size, cfg.ffn_size)
        self.fc2 = nn.Linear(cfg.ffn_size, cfg.hidden_size)
        self.ffn_norm = nn.LayerNorm(cfg.hidden_size)
        self.dropout = nn.Dropout(cfg.dropout)
        self.activation_dropout = nn.Dropout(cfg.activation_dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).view(b, t, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                             dropout_p=self.attention_dropout if self.training else 0.0)
        att = att.transpose(1, 2).reshape(b, t, d)
        x = self.attn_norm(x + self.dropout(self.out_proj(att)))
        h = self.fc2(self.activation_dropout(F.gelu(self.fc1(x))))
        return self.ffn_norm(x + self.dropout(h))


class MelHuBERT(nn.Module):
    """The MelHuBERT network (see the module docstring)."""

    def __init__(self, cfg: MelHuBERTConfig):
        super().__init__()
        self.cfg = cfg
        self.input_proj = nn.Linear(cfg.input_dim, cfg.hidden_size)
        self.input_dropout = nn.Dropout(cfg.input_dropout)
        self.pos_conv = nn.Conv1d(cfg.hidden_size, cfg.hidden_size, cfg.pos_conv_kernel,
                                  padding=cfg.pos_conv_kernel // 2, groups=cfg.pos_conv_groups)
        std = math.sqrt(4.0 / (cfg.pos_conv_kernel * cfg.hidden_size))
        nn.init.normal_(self.pos_conv.weight, mean=0.0, std=std)
        nn.init.zeros_(self.pos_conv.bias)
        self.encoder_norm = nn.LayerNorm(cfg.hidden_size)
        self.layers = nn.ModuleList(TransformerLayer(cfg) for _ in range(cfg.num_layers))
        self.final_proj = nn.Linear(cfg.hidden_size, cfg.num_clusters)

    def num_parameters(self, with_head: bool = True) -> int:
        n = sum(p.numel() for p in self.parameters())
        return n if with_head else n - sum(p.numel() for p in self.final_proj.parameters())

    def prepare_input(self, feats: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Stack normalised ``[B, T, num_mel_bins]`` log-Mel frames into the model's input frames."""
        if feats.shape[-1] != self.cfg.num_mel_bins:
            raise SpeechSSLError(f"MelHuBERT expects {self.cfg.num_mel_bins}-dim log-Mel features, "
                                 f"got {feats.shape[-1]}-dim")
        return stack_frames(feats, lengths, self.cfg.stack_frames)

    def hidden_states(self, x: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor | None = None,
                      max_layer: int | None = None) -> list[torch.Tensor]:
        """States 0..max_layer of stacked input frames ``x [B, T, input_dim]``; ``mask`` zeroes input frames."""
        pad = torch.arange(x.shape[1], device=x.device)[None, :] >= lengths.to(x.device)[:, None]
        if mask is not None:
            x = x.masked_fill(mask.to(x.device)[..., None], 0.0)
        h = self.input_dropout(self.input_proj(x)).masked_fill(pad[..., None], 0.0)
        pos = self.pos_conv(h.transpose(1, 2))
        if self.cfg.pos_conv_kernel % 2 == 0:
            pos = pos[..., :-1]
        h = self.encoder_norm(h + F.gelu(pos).transpose(1, 2))
        states = [h]
        attn_mask = None if not pad.any() else (~pad)[:, None, None, :]
        last = len(self.layers) if max_layer is None else max_layer
        for layer in self.layers[:last]:
            h = layer(h, attn_mask)
            states.append(h)
        return states

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor, mask: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Logits ``[B, T', num_clusters]``, every hidden state, and the stacked-frame lengths."""
        x, out_lens = self.prepare_input(feats, lengths)
        states = self.hidden_states(x, out_lens, mask)
        return self.final_proj(states[-1]), states, out_lens

    def truncate(self, max_layer: int) -> None:
        """Keep transformer layers 1..max_layer only."""
        if not 0 <= max_layer <= len(self.layers):
            raise SpeechSSLError(f"cannot keep {max_layer} layers of a {len(self.layers)}-layer model")
        self.layers = self.layers[:max_layer]


def masked_prediction_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
                           ) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean cross-entropy over masked frames (``targets`` -1 = no target), with accuracy and frame count."""
    sel = mask & (targets >= 0)
    n = int(sel.sum())
    if n == 0:
        zero = logits.sum() * 0.0
        return zero, {"masked_frames": 0.0}
    picked = logits[sel].float()
    gold = targets[sel]
    loss = F.cross_entropy(picked, gold)
    acc = (picked.argmax(-1) == gold).float().mean()
    return loss, {"loss": float(loss.detach()), "acc": float(acc), "masked_frames": float(n)}


def count_macs(model: nn.Module, run) -> int:
    """Multiply-accumulates of ``run()`` (a forward call of ``model``), counted by torch's FLOP counter.

    Attention runs on the math backend while counting: the fused CPU kernel is not seen by the counter.
    """
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        run()
    model.train(was_training)
    return counter.get_total_flops() // 2


def macs_per_second(model: MelHuBERT, seconds: float = 10.0, with_head: bool = False) -> float:
    """MACs per second of audio for one utterance of ``seconds`` (attention grows with length)."""
    frames = int(round(seconds * 100))
    feats = torch.zeros(1, frames, model.cfg.num_mel_bins, device=next(model.parameters()).device)
    lengths = torch.tensor([frames], device=feats.device)
    if with_head:
        total = count_macs(model, lambda: model(feats, lengths))
    else:
        total = count_macs(model, lambda: model.hidden_states(*model.prepare_input(feats, lengths)))
    return total / seconds
