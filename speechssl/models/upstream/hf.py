"""transformers wav2vec 2.0 / HuBERT / WavLM / data2vec-audio models as an :class:`Upstream`.

Batching is exact: a padded utterance gets the same hidden states as when it
is run alone.  Three things make that so:

- models whose first CNN layer uses GroupNorm (wav2vec 2.0 / HuBERT Base
  style, ``feat_extract_norm == "group"``) normalise over time, so their CNN
  runs on each utterance without its padding;
- the transformer gets an attention mask, and transformers zeroes padded
  frames before the positional convolution;
- data2vec-audio stacks several positional convolutions; padded frames are
  zeroed again after each of them.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from speechssl.models.upstream.base import Upstream, conv_output_lengths, conv_receptive_field, register_upstream
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

#: transformers ``model_type`` -> model class name.
MODEL_CLASSES = {
    "wav2vec2": "Wav2Vec2Model",
    "hubert": "HubertModel",
    "wavlm": "WavLMModel",
    "data2vec-audio": "Data2VecAudioModel",
}


class _UnpaddedFeatureEncoder(nn.Module):
    """Runs the wrapped CNN on each utterance without its padding, then re-pads with zeros."""

    def __init__(self, encoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.wav_lens: list[int] | None = None

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        if self.wav_lens is None:
            return self.encoder(input_values)
        feats = [self.encoder(input_values[b : b + 1, :n]) for b, n in enumerate(self.wav_lens)]
        frames = max(f.shape[-1] for f in feats)
        return torch.cat([F.pad(f, (0, frames - f.shape[-1])) for f in feats], dim=0)


def _layer_output(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


class HFUpstream(Upstream):
    """Wraps a transformers ``*Model`` (not ``*ForCTC``) in eval mode.

    ``normalize_waveform``: standardise each utterance (zero mean, unit
    variance over its own samples) before the model, as the model was trained.
    """

    def __init__(self, model: nn.Module, normalize_waveform: bool, sample_rate: int = 16000, source: str = ""):
        super().__init__()
        config = model.config
        self.model = model.eval()
        self.source = source
        self.normalize_waveform = normalize_waveform
        self.sample_rate = sample_rate
        self.kernels = list(config.conv_kernel)
        self.strides = list(config.conv_stride)
        self.downsample_rate = int(torch.tensor(self.strides).prod())
        self.receptive_field = conv_receptive_field(self.kernels, self.strides)
        self.hidden_size = config.hidden_size
        self.num_layers = len(model.encoder.layers)
        self._unpadded_cnn: _UnpaddedFeatureEncoder | None = None
        if getattr(config, "feat_extract_norm", "layer") == "group":
            self._unpadded_cnn = _UnpaddedFeatureEncoder(model.feature_extractor)
            model.feature_extractor = self._unpadded_cnn
        self._frame_lens: torch.Tensor | None = None
        self._captured: list[torch.Tensor] = []
        self._hooks = [model.encoder.layers[0].register_forward_pre_hook(self._capture_input, with_kwargs=True)]
        self._hooks += [layer.register_forward_hook(self._capture_output) for layer in model.encoder.layers]
        for conv in getattr(model.encoder.pos_conv_embed, "layers", []):
            self._hooks.append(conv.register_forward_hook(self._zero_padded_frames))

    def _capture_input(self, module, args, kwargs):
        self._captured.append(args[0] if args else kwargs["hidden_states"])

    def _capture_output(self, module, args, output):
        self._captured.append(_layer_output(output))

    def _zero_padded_frames(self, module, args, output):
        frames = torch.arange(output.shape[-1], device=output.device)
        keep = frames[None, :] < self._frame_lens[:, None]
        return output * keep[:, None, :].to(output.dtype)

    def output_lengths(self, wav_lens: torch.Tensor) -> torch.Tensor:
        return conv_output_lengths(wav_lens, self.kernels, self.strides)

    def truncate(self, max_layer: int) -> None:
        if not 0 <= max_layer <= self.num_layers:
            raise SpeechSSLError(f"cannot keep layers 0..{max_layer}: the model has layers 0..{self.num_layers}")
        # Layer 0 is captured on the way into the first layer, so at least one layer stays.
        self.model.encoder.layers = nn.ModuleList(list(self.model.encoder.layers)[: max(max_layer, 1)])
        self.num_layers = max_layer

    def _standardise(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> torch.Tensor:
        valid = (torch.arange(wavs.shape[1], device=wavs.device)[None, :] < wav_lens[:, None]).to(wavs.dtype)
        n = wav_lens.to(wavs.dtype)[:, None]
        mean = (wavs * valid).sum(1, keepdim=True) / n
        var = (((wavs - mean) * valid) ** 2).sum(1, keepdim=True) / n
        return (wavs - mean) / torch.sqrt(var + 1e-7) * valid

    def compute_hidden_states(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> list[torch.Tensor]:
        if self.normalize_waveform:
            wavs = self._standardise(wavs.float(), wav_lens)
        attention_mask = (torch.arange(wavs.shape[1], device=wavs.device)[None, :] < wav_lens[:, None]).long()
        self._frame_lens = self.output_lengths(wav_lens)
        if self._unpadded_cnn is not None:
            self._unpadded_cnn.wav_lens = wav_lens.tolist()
        self._captured = []
        try:
            self.model(input_values=wavs, attention_mask=attention_mask)
            states = self._captured[: self.num_layers + 1]
        finally:
            self._captured = []
            self._frame_lens = None
            if self._unpadded_cnn is not None:
                self._unpadded_cnn.wav_lens = None
        return states


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise SpeechSSLError(f"{path}: cannot read JSON ({e})") from None


def _accepts_directory(path: Path, checkpoint: Any) -> bool:
    config = path / "config.json"
    return checkpoint is None and config.is_file() and _read_json(config).get("model_type") in MODEL_CLASSES


def _build_from_directory(path: Path, checkpoint: Any) -> HFUpstream:
    import transformers

    model_type = _read_json(path / "config.json")["model_type"]
    cls = getattr(transformers, MODEL_CLASSES[model_type])
    try:
        model, info = cls.from_pretrained(str(path), local_files_only=True, output_loading_info=True)
    except (OSError, ValueError) as e:
        raise SpeechSSLError(f"{path}: cannot load a {cls.__name__} from this directory ({e})") from None
    missing = sorted(k for k in info.get("missing_keys", ()) if "masked_spec_embed" not in k)
    mismatched = sorted(str(k) for k in info.get("mismatched_keys", ()))
    if missing or mismatched:
        raise SpeechSSLError(
            f"{path}: the weights do not match config.json ({len(missing)} missing, {len(mismatched)} of the wrong "
            f"shape), e.g. {', '.join((missing + mismatched)[:8])}; re-export the model with save_pretrained"
        )
    preprocessor = path / "preprocessor_config.json"
    if preprocessor.is_file():
        prep = _read_json(preprocessor)
        normalize = bool(prep.get("do_normalize", False))
        sample_rate = int(prep.get("sampling_rate", 16000))
    else:
        normalize = getattr(model.config, "feat_extract_norm", "layer") == "layer"
        sample_rate = 16000
        log.warning(
            "%s has no preprocessor_config.json; assuming 16 kHz input and do_normalize=%s "
            "(true for LayerNorm-CNN models such as wav2vec 2.0 Large)", path, normalize,
        )
    return HFUpstream(model, normalize_waveform=normalize, sample_rate=sample_rate, source=str(path))


register_upstream("transformers directory", _accepts_directory, _build_from_directory)
