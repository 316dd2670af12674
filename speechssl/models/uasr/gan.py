"""The wav2vec-U GAN: generator, join segmenter and discriminator with their training losses.

:class:`UASRGAN` computes the loss of one discriminator step
(:meth:`~UASRGAN.discriminator_loss`) or one generator step
(:meth:`~UASRGAN.generator_loss`); the trainer alternates them.  Each term is
returned separately in the stats, and the total is their weighted sum with
every term counted exactly once.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from speechssl.models.uasr.discriminator import Discriminator, DiscriminatorConfig
from speechssl.models.uasr.eodm import eodm_loss, segment_entropy
from speechssl.models.uasr.generator import Generator, GeneratorConfig
from speechssl.models.uasr.losses import (
    aux_loss, code_penalty, discriminator_adversarial_loss, generator_adversarial_loss, gradient_penalty,
    smoothness_penalty,
)
from speechssl.models.uasr.segmenter import JoinSegmenter, SegmenterConfig


@dataclass
class GumbelConfig:
    """Gumbel-softmax instead of softmax on the segmented logits (off in the published configs)."""
    enabled: bool = False
    hard: bool = True
    max_temp: float = 2.0
    min_temp: float = 0.1
    decay: float = 0.99995

    def temperature(self, update: int) -> float:
        return max(self.max_temp * self.decay ** update, self.min_temp)


@dataclass
class LossConfig:
    gradient_penalty: float = 1.5
    gradient_penalty_form: str = "per_sample"
    # lazy regularisation: the penalty (a costly double backward) on every k-th
    # discriminator step only, weighted by k so its average strength is unchanged
    gradient_penalty_every: int = 1
    smoothness: float = 0.5
    code_penalty: float = 4.0
    aux_weight: float = 0.0
    aux_classes: int = 64
    aux_downsample: int = 1
    label_smoothing: float = 0.0
    # empirical output distribution matching (speechssl.models.uasr.eodm): weight, share of the
    # bigram KL, and weight of the segment-entropy penalty inside it
    eodm: float = 0.0
    eodm_bigram: float = 1.0
    eodm_entropy: float = 0.1


@dataclass
class GANConfig:
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    segmenter: SegmenterConfig = field(default_factory=SegmenterConfig)
    gumbel: GumbelConfig = field(default_factory=GumbelConfig)
    loss: LossConfig = field(default_factory=LossConfig)

    @classmethod
    def from_dict(cls, model: dict, loss: dict) -> "GANConfig":
        """Build from the ``model`` and ``loss`` sections of a training config (unknown keys are errors)."""
        parts = {}
        for name, klass in (("generator", GeneratorConfig), ("discriminator", DiscriminatorConfig),
                            ("segmenter", SegmenterConfig), ("gumbel", GumbelConfig)):
            parts[name] = _build(klass, model.get(name, {}), f"model.{name}")
        extra = set(model) - set(parts)
        if extra:
            raise KeyError(f"model.{sorted(extra)[0]}")
        return cls(loss=_build(LossConfig, loss, "loss"), **parts)

    def to_dict(self) -> dict:
        return asdict(self)


def _build(klass, values: dict, where: str):
    known = set(klass.__dataclass_fields__)
    unknown = set(values) - known
    if unknown:
        raise KeyError(f"{where}.{sorted(unknown)[0]}")
    return klass(**values)


class UASRGAN(nn.Module):
    """Generator + segmenter + discriminator for ``input_dim`` features and ``vocab_size`` phones."""

    def __init__(self, input_dim: int, vocab_size: int, cfg: GANConfig):
        super().__init__()
        self.cfg = cfg
        self.input_dim, self.vocab_size = input_dim, vocab_size
        aux_classes = cfg.loss.aux_classes if cfg.loss.aux_weight > 0 else 0
        self.generator = Generator(input_dim, vocab_size, cfg.generator, aux_classes)
        self.segmenter = JoinSegmenter(cfg.segmenter)
        self.discriminator = Discriminator(vocab_size, cfg.discriminator)
        self.register_buffer("text_unigram", torch.full((vocab_size,), 1.0 / vocab_size), persistent=False)
        self.register_buffer("text_bigram", torch.full((vocab_size, vocab_size), 1.0 / vocab_size ** 2),
                             persistent=False)

    def set_text_stats(self, unigram, bigram) -> None:
        """The unpaired text's phone unigram and bigram frequencies (targets of the EODM loss)."""
        self.text_unigram.copy_(torch.as_tensor(unigram, dtype=torch.float32))
        self.text_bigram.copy_(torch.as_tensor(bigram, dtype=torch.float32))

    def generate(self, feats: torch.Tensor, padding_mask: torch.Tensor, update: int = 0) -> dict[str, torch.Tensor]:
        """Generator outputs plus the segmented distributions ``dist`` (B, S, V) and their mask."""
        out = self.generator(feats, padding_mask)
        seg, seg_mask = self.segmenter(out["logits"], out["padding_mask"])
        if self.cfg.gumbel.enabled and self.training:
            dist = F.gumbel_softmax(seg.float(), tau=self.cfg.gumbel.temperature(update), hard=self.cfg.gumbel.hard)
        else:
            dist = seg.float().softmax(dim=-1)
        out["dist"] = dist.masked_fill(seg_mask.unsqueeze(-1), 0.0)
        out["dist_mask"] = seg_mask
        return out

    def discriminator_loss(self, feats, padding_mask, real_onehot, real_mask, update: int = 0):
        """Loss of a discriminator step: adversarial BCE + weighted gradient penalty (generator frozen)."""
        with torch.no_grad():
            fake = self.generate(feats, padding_mask, update)
        d_fake, d_real = self._score_both(fake["dist"], fake["dist_mask"], real_onehot, real_mask)
        adv = discriminator_adversarial_loss(d_fake, d_real, self.cfg.loss.label_smoothing)
        stats = {"d_adv": adv.detach(), "d_fake_prob": torch.sigmoid(d_fake).mean().detach(),
                 "d_real_prob": torch.sigmoid(d_real).mean().detach()}
        total = adv
        every = max(1, self.cfg.loss.gradient_penalty_every)
        if self.cfg.loss.gradient_penalty > 0 and (update // 2) % every == 0:
            gp = gradient_penalty(self.discriminator, real_onehot, fake["dist"], real_mask, fake["dist_mask"],
                                  self.cfg.loss.gradient_penalty_form)
            total = total + self.cfg.loss.gradient_penalty * every * gp
            stats["d_grad_pen"] = gp.detach()
        stats["d_loss"] = total.detach()
        return total, stats

    def generator_loss(self, feats, padding_mask, aux_targets=None, update: int = 0):
        """Loss of a generator step: adversarial BCE + smoothness + code penalty (+ auxiliary loss)."""
        out = self.generate(feats, padding_mask, update)
        d_fake = self.discriminator(out["dist"], out["dist_mask"])
        adv = generator_adversarial_loss(d_fake)
        loss_cfg = self.cfg.loss
        smooth = smoothness_penalty(out["logits"], out["padding_mask"])
        code = code_penalty(out["logits"], out["padding_mask"])
        total = adv + loss_cfg.smoothness * smooth + loss_cfg.code_penalty * code
        stats = {"g_adv": adv.detach(), "g_smooth": smooth.detach(), "g_code_pen": code.detach(),
                 "g_segments_per_frame": (~out["dist_mask"]).sum().float().detach()
                 / (~padding_mask).sum().clamp(min=1).float()}
        if loss_cfg.eodm > 0:
            eodm = eodm_loss(out["dist"], out["dist_mask"], self.text_unigram, self.text_bigram, loss_cfg.eodm_bigram)
            entropy = segment_entropy(out["dist"], out["dist_mask"])
            total = total + loss_cfg.eodm * (eodm + loss_cfg.eodm_entropy * entropy)
            stats["g_eodm"] = eodm.detach()
            stats["g_segment_entropy"] = entropy.detach()
        if loss_cfg.aux_weight > 0:
            if aux_targets is None:
                raise ValueError("the auxiliary loss is on (loss.aux_weight > 0) but the batch has no aux targets")
            aux = aux_loss(out["aux_logits"], aux_targets, loss_cfg.aux_downsample)
            total = total + loss_cfg.aux_weight * aux
            stats["g_aux"] = aux.detach()
        if self.cfg.gumbel.enabled:
            stats["gumbel_temp"] = torch.tensor(self.cfg.gumbel.temperature(update))
        stats["g_loss"] = total.detach()
        return total, stats

    def _score_both(self, fake, fake_mask, real, real_mask):
        """Discriminator logits of the generated and the real batch.

        Two forward passes: padding both to one length and batching them
        would cost ``2 B max(T_fake, T_real)`` positions instead of ``B (T_fake + T_real)``.
        """
        return self.discriminator(fake, fake_mask), self.discriminator(real, real_mask)

    @torch.no_grad()
    def greedy_ids(self, feats: torch.Tensor, padding_mask: torch.Tensor) -> list[list[int]]:
        """Argmax phone ids per utterance with repeats merged (the model should be in eval mode)."""
        out = self.generator(feats, padding_mask)
        preds = out["logits"].argmax(dim=-1)
        result = []
        for row, mask in zip(preds.tolist(), out["padding_mask"].tolist()):
            ids = [p for p, m in zip(row, mask) if not m]
            result.append([p for i, p in enumerate(ids) if i == 0 or p != ids[i - 1]])
        return result

    def num_parameters(self) -> dict[str, int]:
        return {name: sum(p.numel() for p in getattr(self, name).parameters()) for name in ("generator", "discriminator")}

