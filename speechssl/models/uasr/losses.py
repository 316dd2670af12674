"""Losses of the wav2vec-U GAN, each a per-sample mean (before its weight).

fairseq sums every term over the batch and then divides the gradients by the
batch size; taking means here gives the same gradients.  Label convention
(as fairseq): the discriminator calls generated sequences 1 and real text 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

GP_FORMS = ("per_sample", "time_axis")


def discriminator_adversarial_loss(d_fake: torch.Tensor, d_real: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """BCE of the discriminator: generated -> 1 (minus ``smoothing``), real -> 0."""
    fake_target = torch.full_like(d_fake, 1.0 - smoothing)
    real_target = torch.zeros_like(d_real)
    return (F.binary_cross_entropy_with_logits(d_fake, fake_target, reduction="sum")
            + F.binary_cross_entropy_with_logits(d_real, real_target, reduction="sum")) / d_fake.size(0)


def generator_adversarial_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """BCE of the generator: it wants its outputs called real (0)."""
    return F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake), reduction="mean")


def gradient_penalty(discriminator, real: torch.Tensor, fake: torch.Tensor, real_mask: torch.Tensor,
                     fake_mask: torch.Tensor, form: str = "per_sample") -> torch.Tensor:
    """WGAN-GP penalty ``(||grad D(x_hat)|| - 1)^2`` on random interpolates of real and generated inputs.

    Both sides are cut to the shorter batch and length; a position that is
    padding on either side is padding of the interpolate.  ``form``:

    - ``per_sample`` (default): the norm of each sample's whole gradient
      (time and phone axes), the standard WGAN-GP penalty.
    - ``time_axis``: fairseq's form, one norm per phone over the time axis
      (``norm(dim=1)``), summed over phones.  On a small discriminator it
      constrains every phone channel separately and was seen to leave it
      unable to separate even a fixed random generator from real text.
    """
    if form not in GP_FORMS:
        raise ValueError(f"unknown gradient-penalty form {form!r}; choose one of {GP_FORMS}")
    b = min(real.size(0), fake.size(0))
    t = min(real.size(1), fake.size(1))
    real, fake = real[:b, :t].detach(), fake[:b, :t].detach()
    mask = real_mask[:b, :t] | fake_mask[:b, :t]
    alpha = torch.rand(b, 1, 1, device=real.device, dtype=real.dtype)
    interp = (alpha * real + (1 - alpha) * fake).masked_fill(mask.unsqueeze(-1), 0.0).requires_grad_(True)
    scores = discriminator(interp, mask)
    (grads,) = torch.autograd.grad(scores.sum(), interp, create_graph=True)
    if form == "per_sample":
        norms = grads.flatten(1).norm(2, dim=1)
        return ((norms - 1) ** 2).mean()
    norms = grads.norm(2, dim=1)  # (B, V)
    return ((norms - 1) ** 2).sum(dim=1).mean()


def smoothness_penalty(logits: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of consecutive generator logits over the pairs of non-padded frames."""
    if logits.size(1) < 2:
        return logits.sum() * 0.0
    diff = (logits[:, 1:] - logits[:, :-1]).pow(2).mean(dim=-1)
    valid = (~padding_mask[:, 1:]).to(diff.dtype)
    return (diff * valid).sum() / valid.sum().clamp(min=1.0)


def code_penalty(logits: torch.Tensor, padding_mask: torch.Tensor) -> torch.Tensor:
    """``(V - perplexity(mean softmax)) / V`` over the non-padded frames: 0 when every phone is used equally."""
    v = logits.size(-1)
    probs = logits[~padding_mask].float().softmax(dim=-1).mean(dim=0)
    perplexity = torch.exp(-(probs * torch.log(probs + 1e-7)).sum())
    return (v - perplexity) / v


def aux_loss(aux_logits: torch.Tensor, targets: torch.Tensor, downsample: int = 1) -> torch.Tensor:
    """Cross-entropy of the auxiliary head against per-frame cluster targets (``-1`` ignored).

    ``targets`` has ``downsample`` labels per generator input frame (1 for
    ``utt2aux`` written at the SSL frame rate; 2 for 100 Hz labels on 50 Hz features).
    """
    targets = targets[:, ::downsample]
    t = min(targets.size(1), aux_logits.size(1))
    targets, aux_logits = targets[:, :t], aux_logits[:, :t]
    if bool((targets >= aux_logits.size(-1)).any()):
        raise ValueError(f"auxiliary target {int(targets.max())} >= number of classes {aux_logits.size(-1)}; "
                         "set loss.aux_classes to the number of MFCC clusters")
    if not bool((targets >= 0).any()):
        return aux_logits.sum() * 0.0
    return F.cross_entropy(aux_logits.reshape(-1, aux_logits.size(-1)).float(), targets.reshape(-1), ignore_index=-1)
