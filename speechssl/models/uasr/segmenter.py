"""The join segmenter: merge runs of consecutive frames that share their argmax phone.

In training each run is represented by one of its frames drawn uniformly at
random (fairseq ``mean_pool_join: false``, which its authors found better than
the mean); in evaluation by the mean of its frames.  Both are vectorised over
the batch; the random draws use torch's global generator (seeded and
checkpointed by the trainer).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

POOLS = ("random", "mean")


@dataclass
class SegmenterConfig:
    train_pool: str = "random"
    eval_pool: str = "mean"


def run_ids(logits: torch.Tensor, padding_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Run index of every frame ((B, T), -1 at padding) and the number of runs per row (B,)."""
    preds = logits.argmax(dim=-1)
    valid = ~padding_mask
    change = torch.ones_like(preds, dtype=torch.bool)
    change[:, 1:] = preds[:, 1:] != preds[:, :-1]
    change &= valid
    ids = torch.cumsum(change.long(), dim=1) - 1
    ids = ids.masked_fill(~valid, -1)
    return ids, change.sum(dim=1)


def join_segments(logits: torch.Tensor, padding_mask: torch.Tensor, pool: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T, V) logits -> (B, S, V) one vector per run and the (B, S) padding mask."""
    if pool not in POOLS:
        raise ValueError(f"unknown segment pooling {pool!r}; choose one of {POOLS}")
    b, t, v = logits.shape
    ids, counts = run_ids(logits, padding_mask)
    s = max(int(counts.max()), 1)
    valid = ids >= 0
    flat = (torch.arange(b, device=logits.device).unsqueeze(1) * s + ids)[valid]  # run slot of each valid frame
    lengths = torch.zeros(b * s, device=logits.device).index_add_(0, flat, torch.ones_like(flat, dtype=torch.float))
    out_mask = torch.arange(s, device=logits.device).unsqueeze(0) >= counts.unsqueeze(1)
    if pool == "mean":
        sums = torch.zeros(b * s, v, dtype=logits.dtype, device=logits.device).index_add_(0, flat, logits[valid])
        pooled = sums / lengths.clamp(min=1).unsqueeze(1).to(logits.dtype)
    else:
        pos = torch.arange(t, device=logits.device).expand(b, t)[valid]
        starts = torch.full((b * s,), t, dtype=torch.long, device=logits.device).scatter_reduce_(
            0, flat, pos, reduce="amin")
        offset = (torch.rand(b * s, device=logits.device) * lengths).long().clamp(max=(lengths.long() - 1).clamp(min=0))
        frame = (starts + offset).clamp(max=t - 1)
        rows = torch.arange(b * s, device=logits.device) // s
        pooled = logits[rows, frame]
    pooled = pooled.view(b, s, v).masked_fill(out_mask.unsqueeze(-1), 0.0)
    return pooled, out_mask


class JoinSegmenter(torch.nn.Module):
    def __init__(self, cfg: SegmenterConfig):
        super().__init__()
        for name in (cfg.train_pool, cfg.eval_pool):
            if name not in POOLS:
                raise ValueError(f"unknown segment pooling {name!r}; choose one of {POOLS}")
        self.cfg = cfg

    def forward(self, logits: torch.Tensor, padding_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return join_segments(logits, padding_mask, self.cfg.train_pool if self.training else self.cfg.eval_pool)
