"""GAN training of wav2vec-U / wav2vec-U 2.0 on dumped features and unpaired phone text.

Updates alternate as in fairseq: odd updates train the discriminator, even
updates the generator; every update draws a new audio batch (and, for the
discriminator, a text batch).  Validation computes the unsupervised
selection metrics (:mod:`speechssl.uasr.selection`) and picks
``checkpoint_best.pt`` by ``selection.metric``; an oracle PER is logged
only when references are given.

Configuration: :data:`DEFAULT_CONFIG` holds every key with fairseq's
published wav2vec-U (v1) values; a YAML file overrides some of them and
``key.sub=value`` strings override further (:func:`load_config`).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechssl.models.uasr.eodm import text_ngram_stats
from speechssl.models.uasr.gan import GANConfig, UASRGAN
from speechssl.text.lm import load_lm
from speechssl.trainers.base import TRAINER_DEFAULTS, Trainer
from speechssl.trainers.config import load_nested_config
from speechssl.trainers.distributed import broadcast_module
from speechssl.uasr.data import EpochSampler, FeatureSet, PhoneText, PhoneVocab, TextSampler
from speechssl.uasr.selection import SelectionConfig, read_references, selection_metrics
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

PHONE_TEXT = "phones_sil.txt"
PHONE_DICT = "dict.phn.txt"

DEFAULT_CONFIG: dict[str, Any] = {
    "model": {k: v for k, v in asdict(GANConfig()).items() if k != "loss"},
    "loss": asdict(GANConfig()).get("loss"),
    "optim": {
        "generator": {"lr": 4e-4, "betas": [0.5, 0.98], "eps": 1e-6, "weight_decay": 0.0},
        "discriminator": {"lr": 5e-4, "betas": [0.5, 0.98], "eps": 1e-6, "weight_decay": 1e-4},
        "clip_norm": 5.0,
        "warmup_updates": 0,
    },
    "data": {"batch_size": 160, "min_frames": 3, "max_frames": None, "text_max_len": None,
             "valid_batch_size": 64},
    "trainer": {**TRAINER_DEFAULTS, "max_updates": 150000},
    "selection": asdict(SelectionConfig()),
}


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict[str, Any]:
    """:data:`DEFAULT_CONFIG` updated by the YAML file ``path`` and ``key.sub=value`` overrides."""
    return load_nested_config(DEFAULT_CONFIG, path, overrides)


class UASRGANTrainer(Trainer):
    """Alternating GAN updates on a :class:`FeatureSet` and a :class:`PhoneText` corpus."""

    best_lower_is_better = True

    def __init__(self, config: dict[str, Any], exp_dir: str | Path, feats: str | Path, valid_feats: str | Path | None,
                 text_dir: str | Path, valid_ref: str | Path | None = None):
        self.paths = {"feats": Path(feats), "valid_feats": Path(valid_feats) if valid_feats else None,
                      "text_dir": Path(text_dir), "valid_ref": Path(valid_ref) if valid_ref else None}
        self.selection = SelectionConfig(**config["selection"])
        self.best_metric = self.selection.metric
        super().__init__(config, exp_dir)

    def build(self) -> None:
        cfg = self.config
        try:
            self.gan_cfg = GANConfig.from_dict(cfg["model"], cfg["loss"])
        except (KeyError, TypeError, ValueError) as e:
            raise SpeechSSLError(f"invalid model/loss configuration: {e}") from None
        data = cfg["data"]
        text_dir = self.paths["text_dir"]
        self.vocab = PhoneVocab.from_dict_file(text_dir / PHONE_DICT)
        self.text = PhoneText(text_dir / PHONE_TEXT, self.vocab, data["text_max_len"])
        use_aux = self.gan_cfg.loss.aux_weight > 0
        self.train_set = FeatureSet(self.paths["feats"], data["min_frames"], data["max_frames"], aux=use_aux)
        self.valid_set = None
        if self.paths["valid_feats"] is not None:
            self.valid_set = FeatureSet(self.paths["valid_feats"], 1, None, max_utts=self.selection.max_utts)
            if self.valid_set.dim != self.train_set.dim:
                raise SpeechSSLError(f"{self.paths['valid_feats']}: dimension {self.valid_set.dim} differs from the "
                                     f"training features' {self.train_set.dim}")
        self.model = UASRGAN(self.train_set.dim, len(self.vocab), self.gan_cfg).to(self.device)
        self.model.set_text_stats(*text_ngram_stats(self.text.sentences, len(self.vocab)))
        broadcast_module(self.model, self.dist)
        self.modules["model"] = self.model
        optim = cfg["optim"]
        gen_params = list(self.model.generator.parameters())
        disc_params = list(self.model.discriminator.parameters())
        for name, params in (("generator", gen_params), ("discriminator", disc_params)):
            o = optim[name]
            self.optimizers[name] = torch.optim.AdamW(params, lr=float(o["lr"]), betas=tuple(o["betas"]),
                                                      eps=float(o["eps"]), weight_decay=float(o["weight_decay"]))
            warmup = int(optim["warmup_updates"]) // 2  # each network steps every other update
            self.schedulers[name] = torch.optim.lr_scheduler.LambdaLR(
                self.optimizers[name], lambda step, w=warmup: 1.0 if w <= 0 else min(1.0, (step + 1) / w))
        seed = int(self.opts["seed"])
        self.audio_sampler = EpochSampler(len(self.train_set), int(data["batch_size"]), seed,
                                          self.dist.rank, self.dist.world_size)
        self.text_sampler = TextSampler(len(self.text), int(data["batch_size"]), seed, self.dist.rank)
        self.lm = None
        self.valid_durations = None
        self.valid_refs = None
        if self.valid_set is not None and self.is_main:
            lm_path = Path(self.selection.lm)
            self.lm = load_lm(lm_path if lm_path.is_absolute() else text_dir / lm_path, self.vocab.tokens)
            durations = self.valid_set.durations()
            if durations is not None:
                self.valid_durations = dict(zip(self.valid_set.utts, durations.tolist()))
            elif self.selection.phone_rate:
                log.warning("%s has neither utt2dur nor feat_info.json frame_rate: the audio-length guard of "
                            "model selection is off", self.paths["valid_feats"])
            if self.paths["valid_ref"] is not None:
                self.valid_refs = read_references(self.paths["valid_ref"])
        counts = self.model.num_parameters()
        log.info("GAN: input dim %d, %d phones (pad id %d, <SIL> id %s); generator %d, discriminator %d parameters; "
                 "device %s%s", self.train_set.dim, len(self.vocab), self.vocab.pad_id, self.vocab.sil_id,
                 counts["generator"], counts["discriminator"], self.device, " (bf16 autocast)" if self.use_bf16 else "")

    # ---- checkpoint hooks -----------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {"audio_sampler": self.audio_sampler.state_dict(), "input_dim": self.train_set.dim,
                "tokens": self.vocab.tokens}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.audio_sampler.load_state_dict(state["audio_sampler"])

    def check_resume(self, state: dict[str, Any], path: Path) -> None:
        extra = state.get("extra", {})
        if extra.get("input_dim") != self.train_set.dim:
            raise SpeechSSLError(f"{path} was trained on {extra.get('input_dim')}-dimensional features but "
                                 f"{self.paths['feats']} has {self.train_set.dim}; use the features it was trained "
                                 "on or a new experiment directory")
        if extra.get("tokens") != self.vocab.tokens:
            raise SpeechSSLError(f"{path} was trained with another token dictionary than "
                                 f"{self.paths['text_dir'] / PHONE_DICT}; use the same text directory")

    # ---- training -------------------------------------------------------------------------
    def train_step(self, update: int) -> dict[str, float]:
        self.model.train()
        batch = self.train_set.collate(self.audio_sampler.next_indices(), self.device)
        disc_step = update % 2 == 1
        clip = float(self.config["optim"]["clip_norm"])
        for p in self.model.discriminator.parameters():
            p.requires_grad_(disc_step)
        if disc_step:
            ids, text_mask = self.text.collate(self.text_sampler.indices(update), self.device)
            with self.autocast():
                loss, stats = self.model.discriminator_loss(batch.feats, batch.padding_mask, self.vocab.one_hot(ids),
                                                            text_mask, update)
            stats["d_grad_norm"] = self.optimizer_step("discriminator", loss, self.model.discriminator.parameters(),
                                                       clip)
        else:
            with self.autocast():
                loss, stats = self.model.generator_loss(batch.feats, batch.padding_mask, batch.aux, update)
            stats["g_grad_norm"] = self.optimizer_step("generator", loss, self.model.generator.parameters(), clip)
        return {k: float(v) for k, v in stats.items()}

    # ---- validation -----------------------------------------------------------------------
    def greedy_outputs(self, features: FeatureSet) -> dict[str, list[str]]:
        """Greedy phone sequences of every utterance of ``features`` (eval mode)."""
        was_training = self.model.training
        self.model.eval()
        order = np.argsort(features.lengths, kind="stable")
        step = int(self.config["data"]["valid_batch_size"])
        hyps: dict[str, list[str]] = {}
        for start in range(0, len(order), step):
            batch = features.collate(order[start: start + step], self.device)
            with self.autocast():
                ids = self.model.greedy_ids(batch.feats, batch.padding_mask)
            for utt, seq in zip(batch.utts, ids):
                hyps[utt] = self.vocab.decode(seq)
        self.model.train(was_training)
        return hyps

    def validate(self, update: int) -> dict[str, float]:
        if self.valid_set is None:
            return {}
        hyps = self.greedy_outputs(self.valid_set)
        return selection_metrics(hyps, self.vocab.tokens, self.lm, self.selection, self.valid_durations,
                                 self.valid_refs)

