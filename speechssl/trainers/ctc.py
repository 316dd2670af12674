"""CTC training of a phone recognizer on frame features, with gold or pseudo phone labels.

Self-training (wav2vec-U's second stage): the targets are pseudo-labels
(``utt2pseudo`` from :mod:`speechssl.uasr.pseudo_label`); the same trainer on
gold ``utt2phones`` gives the supervised upper bound, and with
``model.body: generator`` it measures the GAN generator's architecture
with labels.  Validation greedy-decodes the validation features and reports
``loss`` (CTC loss against the validation labels), ``label_per`` (phone error
rate against those labels) and, with references, ``oracle_per`` (never used
for selection unless asked by ``selection.metric``); PERs are fractions,
``<SIL>`` removed.  ``augment`` masks spans of frames and feature dimensions
of every training batch (:mod:`speechssl.features.spec_augment`; off by
default).

Configuration: :data:`DEFAULT_CONFIG`, a YAML file and ``key.sub=value``
overrides (:func:`load_config`).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from speechssl.features.spec_augment import SpecAugmentConfig, spec_augment
from speechssl.models.ctc import CTCModel, CTCModelConfig, ctc_frames_needed
from speechssl.trainers.base import TRAINER_DEFAULTS, Trainer
from speechssl.trainers.distributed import broadcast_module
from speechssl.trainers.config import load_nested_config
from speechssl.trainers.uasr_gan import PHONE_DICT
from speechssl.uasr.data import EpochSampler, FeatureSet, PhoneVocab
from speechssl.uasr.pseudo_label import CTC_KIND, read_label_table, read_phone_table
from speechssl.uasr.selection import phone_error_rate
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

LABEL_KINDS = ("gold", "pseudo")
SELECTION_METRICS = ("loss", "label_per", "oracle_per")

DEFAULT_CONFIG: dict[str, Any] = {
    "model": asdict(CTCModelConfig()),
    "optim": {"lr": 2e-3, "betas": [0.9, 0.98], "weight_decay": 0.0, "clip_norm": 5.0, "warmup_updates": 100},
    "data": {"batch_size": 8, "min_frames": 3, "max_frames": None, "valid_batch_size": 32, "keep_sil": False,
             "labels": "pseudo"},
    "augment": asdict(SpecAugmentConfig()),
    "trainer": {**TRAINER_DEFAULTS, "max_updates": 800, "log_interval": 50, "valid_interval": 200,
                "save_interval": 200},
    "selection": {"metric": "label_per"},
}


def load_config(path: str | Path | None, overrides: list[str] = ()) -> dict[str, Any]:
    """:data:`DEFAULT_CONFIG` updated by the YAML file ``path`` and ``key.sub=value`` overrides."""
    return load_nested_config(DEFAULT_CONFIG, path, overrides)


class CTCTrainer(Trainer):
    """CTC on a :class:`FeatureSet` with per-utterance phone targets."""

    def __init__(self, config: dict[str, Any], exp_dir: str | Path, feats: str | Path, text_dir: str | Path,
                 train_labels: str | Path, valid_feats: str | Path | None = None,
                 valid_labels: str | Path | None = None, valid_ref: str | Path | None = None):
        self.paths = {"feats": Path(feats), "text_dir": Path(text_dir), "train_labels": Path(train_labels),
                      "valid_feats": Path(valid_feats) if valid_feats else None,
                      "valid_labels": Path(valid_labels) if valid_labels else None,
                      "valid_ref": Path(valid_ref) if valid_ref else None}
        metric = config["selection"]["metric"]
        if metric not in SELECTION_METRICS:
            raise SpeechSSLError(f"selection.metric {metric!r}: choose one of {', '.join(SELECTION_METRICS)}")
        if config["data"]["labels"] not in LABEL_KINDS:
            raise SpeechSSLError(f"data.labels {config['data']['labels']!r}: choose gold or pseudo")
        self.best_metric = metric
        super().__init__(config, exp_dir)

    # ---- construction ---------------------------------------------------------------------
    def build(self) -> None:
        cfg, data = self.config, self.config["data"]
        try:
            self.model_cfg = CTCModelConfig.from_dict(cfg["model"])
        except (KeyError, TypeError, ValueError) as e:
            raise SpeechSSLError(f"invalid model configuration: {e}") from None
        self.augment = SpecAugmentConfig.from_dict(cfg["augment"])
        self.vocab = PhoneVocab.from_dict_file(self.paths["text_dir"] / PHONE_DICT)
        keep_sil = bool(data["keep_sil"])
        self.train_set = FeatureSet(self.paths["feats"], int(data["min_frames"]), data["max_frames"])
        self.model = CTCModel(self.train_set.dim, len(self.vocab), self.model_cfg).to(self.device)
        # reference phones may include phones the text side's lexicon never produces: those are dropped
        unknown = "drop" if data["labels"] == "gold" else "error"
        labels = read_label_table(self.paths["train_labels"], self.vocab, keep_sil, unknown)
        self.train_index, self.train_targets = self._match(self.train_set, labels, self.paths["train_labels"])
        if not self.train_index:
            raise SpeechSSLError(f"{self.paths['train_labels']}: no utterance of {self.paths['feats']} has a usable "
                                 "label; the label table and the features come from different data sets")
        self.valid_set = self.valid_targets = self.valid_refs = None
        if self.paths["valid_feats"] is not None:
            self.valid_set = FeatureSet(self.paths["valid_feats"])
            if self.valid_set.dim != self.train_set.dim:
                raise SpeechSSLError(f"{self.paths['valid_feats']}: dimension {self.valid_set.dim} differs from the "
                                     f"training features' {self.train_set.dim}")
            if self.paths["valid_labels"] is not None:
                valid = read_label_table(self.paths["valid_labels"], self.vocab, keep_sil, unknown)
                index, targets = self._match(self.valid_set, valid, self.paths["valid_labels"])
                self.valid_targets = {self.valid_set.utts[i]: t for i, t in zip(index, targets)}
            if self.paths["valid_ref"] is not None:
                self.valid_refs = read_phone_table(self.paths["valid_ref"])
            needs = {"loss": self.valid_targets, "label_per": self.valid_targets, "oracle_per": self.valid_refs}
            if needs[self.best_metric] is None:
                raise SpeechSSLError(f"selection.metric is {self.best_metric} but no "
                                     f"{'--valid-ref' if self.best_metric == 'oracle_per' else '--valid-labels'} "
                                     "was given; give it or choose another selection.metric")
        broadcast_module(self.model, self.dist)
        self.modules["model"] = self.model
        o = cfg["optim"]
        self.optimizers["model"] = torch.optim.AdamW(self.model.parameters(), lr=float(o["lr"]),
                                                     betas=tuple(o["betas"]), weight_decay=float(o["weight_decay"]))
        warmup = int(o["warmup_updates"])
        self.schedulers["model"] = torch.optim.lr_scheduler.LambdaLR(
            self.optimizers["model"], lambda step: 1.0 if warmup <= 0 else min(1.0, (step + 1) / warmup))
        self.sampler = EpochSampler(len(self.train_index), int(data["batch_size"]), int(self.opts["seed"]),
                                    self.dist.rank, self.dist.world_size)
        log.info("CTC (%s body, %s labels%s): input dim %d, %d phones + blank, %d parameters, %d training "
                 "utterances; device %s%s", self.model_cfg.body, data["labels"], "" if keep_sil else ", <SIL> removed",
                 self.train_set.dim, len(self.vocab), self.model.num_parameters(), len(self.train_index), self.device,
                 " (bf16 autocast)" if self.use_bf16 else "")

    def _match(self, features: FeatureSet, labels: dict[str, np.ndarray], where: Path):
        """Indices of ``features`` utterances with a label that CTC can fit, and those labels; drops are logged."""
        index, targets = [], []
        missing = too_short = 0
        for i, utt in enumerate(features.utts):
            if utt not in labels:
                missing += 1
                continue
            if ctc_frames_needed(labels[utt]) > self.model.output_length(int(features.lengths[i])):
                too_short += 1
                continue
            index.append(i)
            targets.append(labels[utt])
        unused = len(set(labels) - set(features.utts))
        if missing or too_short or unused:
            log.warning("%s: %d utterances used; dropped %d without a label and %d with more phones than the model's "
                        "output frames (input frames / %d) allow; %d labels have no features", where, len(index), missing, too_short,
                        self.model_cfg.stride, unused)
        return index, targets

    # ---- checkpoint hooks -----------------------------------------------------------------
    def extra_state(self) -> dict[str, Any]:
        return {"sampler": self.sampler.state_dict(), "input_dim": self.train_set.dim, "tokens": self.vocab.tokens,
                "model_kind": CTC_KIND}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state["sampler"])

    def check_resume(self, state: dict[str, Any], path: Path) -> None:
        extra = state.get("extra", {})
        if extra.get("input_dim") != self.train_set.dim:
            raise SpeechSSLError(f"{path} was trained on {extra.get('input_dim')}-dimensional features but "
                                 f"{self.paths['feats']} has {self.train_set.dim}; use a new experiment directory")
        if extra.get("tokens") != self.vocab.tokens:
            raise SpeechSSLError(f"{path} was trained with another token dictionary than "
                                 f"{self.paths['text_dir'] / PHONE_DICT}; use the same text directory")

    # ---- training -------------------------------------------------------------------------
    def ctc_loss(self, feats: torch.Tensor, padding_mask: torch.Tensor, targets: list[np.ndarray]) -> torch.Tensor:
        """Mean per-utterance CTC loss (sum over each utterance's frames)."""
        with self.autocast():
            out = self.model(feats, padding_mask)
        logprobs = out["logits"].float().log_softmax(dim=-1).transpose(0, 1)  # (T', B, V + 1)
        in_lengths = (~out["padding_mask"]).sum(dim=1)
        flat = torch.from_numpy(np.concatenate(targets)).to(self.device) if sum(map(len, targets)) else \
            torch.zeros(0, dtype=torch.long, device=self.device)
        tgt_lengths = torch.tensor([len(t) for t in targets], device=self.device)
        loss = F.ctc_loss(logprobs, flat, in_lengths, tgt_lengths, blank=self.model.blank, reduction="sum",
                          zero_infinity=True)
        return loss / len(targets)

    def train_step(self, update: int) -> dict[str, float]:
        self.model.train()
        picks = self.sampler.next_indices()
        batch = self.train_set.collate([self.train_index[i] for i in picks], self.device)
        feats = spec_augment(batch.feats, batch.padding_mask, self.augment)
        loss = self.ctc_loss(feats, batch.padding_mask, [self.train_targets[i] for i in picks])
        norm = self.optimizer_step("model", loss, self.model.parameters(), float(self.config["optim"]["clip_norm"]))
        return {"loss": float(loss.detach()), "grad_norm": norm, "lr": self.optimizers["model"].param_groups[0]["lr"]}

    # ---- validation -----------------------------------------------------------------------
    @torch.no_grad()
    def greedy_outputs(self, features: FeatureSet) -> tuple[dict[str, list[str]], list[tuple[float, int]]]:
        """Greedy phone sequences (blank and repeats removed) and, for labelled utterances, the CTC loss."""
        was_training = self.model.training
        self.model.eval()
        order = np.argsort(features.lengths, kind="stable")
        step = int(self.config["data"]["valid_batch_size"])
        hyps: dict[str, list[str]] = {}
        losses: list[tuple[float, int]] = []  # (mean loss, utterances) per batch
        for start in range(0, len(order), step):
            batch = features.collate(order[start: start + step], self.device)
            with self.autocast():
                out = self.model(batch.feats, batch.padding_mask)
            best = out["logits"].float().argmax(dim=-1).masked_fill(out["padding_mask"], self.model.blank)
            for utt, row in zip(batch.utts, best.tolist()):
                ids = [p for i, p in enumerate(row) if p != self.model.blank and (i == 0 or p != row[i - 1])]
                hyps[utt] = self.vocab.decode(ids)
            if self.valid_targets is not None:
                rows = [r for r, u in enumerate(batch.utts) if u in self.valid_targets]
                if rows:
                    loss = self.ctc_loss(batch.feats[rows], batch.padding_mask[rows],
                                         [self.valid_targets[batch.utts[r]] for r in rows])
                    losses.append((float(loss), len(rows)))
        self.model.train(was_training)
        return hyps, losses

    def validate(self, update: int) -> dict[str, float]:
        if self.valid_set is None:
            return {}
        hyps, losses = self.greedy_outputs(self.valid_set)
        metrics: dict[str, float] = {}
        if losses:
            metrics["loss"] = sum(loss * n for loss, n in losses) / sum(n for _, n in losses)
        if self.valid_targets is not None:
            labels = {u: self.vocab.decode(t) for u, t in self.valid_targets.items()}
            metrics["label_per"] = phone_error_rate(hyps, labels)[0]
        if self.valid_refs is not None:
            metrics["oracle_per"] = phone_error_rate(hyps, self.valid_refs)[0]
        return metrics


