"""Our MelHuBERT checkpoints as an :class:`Upstream` (waveform in, every hidden state out).

Two files load: a training checkpoint of ``train_melhubert``
(``checkpoint_last.pt`` / ``checkpoint_best.pt``) and the smaller file that
``export_upstream`` writes (format ``speechssl.melhubert``: weights, model
configuration, log-Mel options and the training-set mean/std).  Both carry
everything needed to go from a 16 kHz waveform to hidden states: Kaldi
fbank (``speechssl.audio.features.kaldi_fbank``, as ``dump_features``
computes it for training), normalisation by the training statistics,
frame stacking and the transformer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechssl.audio.features import kaldi_fbank
from speechssl.models.melhubert import MelHuBERT, MelHuBERTConfig
from speechssl.models.upstream.base import Upstream, register_upstream
from speechssl.utils.errors import SpeechSSLError

EXPORT_FORMAT = "speechssl.melhubert"
EXPORT_VERSION = 1
META_KEY = "melhubert"


def upstream_meta(cfg: MelHuBERTConfig, mean: np.ndarray, std: np.ndarray, sample_rate: int = 16000,
                  frame_length_ms: float = 25.0, frame_shift_ms: float = 10.0) -> dict[str, Any]:
    """What a checkpoint stores besides the weights to rebuild the waveform-to-states pipeline."""
    return {"config": cfg.to_dict(), "sample_rate": sample_rate, "frame_length_ms": frame_length_ms,
            "frame_shift_ms": frame_shift_ms, "mean": np.asarray(mean, dtype=np.float32).tolist(),
            "std": np.asarray(std, dtype=np.float32).tolist()}


def export_checkpoint(meta: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> dict[str, Any]:
    """The content of an exported MelHuBERT upstream file."""
    return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION, META_KEY: meta,
            "model": {k: v.detach().cpu() for k, v in state_dict.items()}}


class MelHuBERTUpstream(Upstream):
    """A trained :class:`MelHuBERT` behind the upstream interface."""

    def __init__(self, model: MelHuBERT, meta: dict[str, Any]):
        super().__init__()
        self.model = model
        self.sample_rate = int(meta["sample_rate"])
        self.frame_length = int(round(meta["frame_length_ms"] * self.sample_rate / 1000))
        self.frame_shift = int(round(meta["frame_shift_ms"] * self.sample_rate / 1000))
        self.frame_length_ms, self.frame_shift_ms = meta["frame_length_ms"], meta["frame_shift_ms"]
        self.stack = model.cfg.stack_frames
        self.downsample_rate = self.frame_shift * self.stack
        self.receptive_field = self.frame_length
        self.hidden_size = model.cfg.hidden_size
        self.num_layers = len(model.layers)
        self.register_buffer("mean", torch.tensor(meta["mean"], dtype=torch.float32))
        self.register_buffer("std", torch.tensor(meta["std"], dtype=torch.float32).clamp(min=1e-5))

    def output_lengths(self, wav_lens: torch.Tensor) -> torch.Tensor:
        frames = torch.div(wav_lens.long() - self.frame_length, self.frame_shift, rounding_mode="floor") + 1
        frames = frames.clamp(min=0)
        return torch.div(frames + self.stack - 1, self.stack, rounding_mode="floor")

    def truncate(self, max_layer: int) -> None:
        self.model.truncate(max_layer)
        self.num_layers = max_layer

    def log_mel(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised log-Mel frames ``[B, T, num_mel_bins]`` and their counts."""
        mats = []
        for wav, n in zip(wavs.float().cpu(), wav_lens.tolist()):
            mats.append(torch.from_numpy(kaldi_fbank(wav[:n].numpy(), self.sample_rate, self.model.cfg.num_mel_bins,
                                                     frame_length=self.frame_length_ms,
                                                     frame_shift=self.frame_shift_ms)))
        lens = torch.tensor([len(m) for m in mats], device=wavs.device)
        feats = torch.nn.utils.rnn.pad_sequence(mats, batch_first=True).to(wavs.device)
        feats = (feats - self.mean) / self.std
        pad = torch.arange(feats.shape[1], device=wavs.device)[None, :] >= lens[:, None]
        return feats.masked_fill(pad[..., None], 0.0), lens

    def compute_hidden_states(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> list[torch.Tensor]:
        feats, lens = self.log_mel(wavs, wav_lens)
        x, out_lens = self.model.prepare_input(feats, lens)
        return self.model.hidden_states(x, out_lens)


def _meta_and_weights(checkpoint: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]] | None:
    if not isinstance(checkpoint, dict):
        return None
    if checkpoint.get("format") == EXPORT_FORMAT:
        return checkpoint[META_KEY], checkpoint["model"]
    extra = checkpoint.get("extra")
    if checkpoint.get("format") == "speechssl.checkpoint" and isinstance(extra, dict) and META_KEY in extra:
        return extra[META_KEY], checkpoint["modules"]["model"]
    return None


def _accepts(path: Path, checkpoint: Any) -> bool:
    return _meta_and_weights(checkpoint) is not None


def build_melhubert_upstream(path: Path, checkpoint: Any) -> MelHuBERTUpstream:
    """Rebuild the model of an exported or training checkpoint."""
    meta, weights = _meta_and_weights(checkpoint)
    if checkpoint.get("format") == EXPORT_FORMAT and checkpoint.get("version") != EXPORT_VERSION:
        raise SpeechSSLError(f"{path}: MelHuBERT export version {checkpoint.get('version')}, this code reads "
                             f"{EXPORT_VERSION}")
    model = MelHuBERT(MelHuBERTConfig.from_dict(meta["config"], f"{path}: model configuration"))
    try:
        missing, unexpected = model.load_state_dict(weights, strict=False)
    except RuntimeError as e:
        raise SpeechSSLError(f"{path}: the weights do not fit the stored MelHuBERT configuration ({e})") from None
    missing = [k for k in missing if not k.startswith("final_proj.")]  # exports may leave out the head
    if missing or unexpected:
        raise SpeechSSLError(f"{path}: the weights do not fit the stored MelHuBERT configuration (missing "
                             f"{missing[:5]}, unexpected {unexpected[:5]})")
    return MelHuBERTUpstream(model, meta)


register_upstream("melhubert", _accepts, build_melhubert_upstream)
