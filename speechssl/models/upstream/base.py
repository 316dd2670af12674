"""The upstream base class, its output, the loader registry and the layer option.

See :mod:`speechssl.models.upstream` for the layer numbering.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)


@dataclass
class UpstreamOutput:
    """Hidden states of a batch.

    ``hidden_states[i]`` is layer i, shape ``[B, T', D]``; frames at and after
    ``lengths[b]`` are padding and hold zeros.  ``padding_mask`` is ``[B, T']``
    and True at padded frames (the ``key_padding_mask`` convention).
    """

    hidden_states: list[torch.Tensor]
    lengths: torch.Tensor
    padding_mask: torch.Tensor


def conv_output_lengths(lengths: torch.Tensor, kernels: Sequence[int], strides: Sequence[int]) -> torch.Tensor:
    """Frames produced by a stack of unpadded 1-D convolutions from ``lengths`` samples."""
    out = lengths.long()
    for k, s in zip(kernels, strides):
        out = torch.div(out - k, s, rounding_mode="floor") + 1
    return out.clamp(min=0)


def conv_receptive_field(kernels: Sequence[int], strides: Sequence[int]) -> int:
    """Input samples that one output frame of the convolution stack depends on."""
    field, jump = 1, 1
    for k, s in zip(kernels, strides):
        field += (k - 1) * jump
        jump *= s
    return field


def padding_mask_from_lengths(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """``[B, max_len]`` bool mask, True where ``t >= lengths[b]``."""
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]


def parse_layers(spec: str | int | Sequence[int], num_layers: int) -> list[int]:
    """Turn a layer option into sorted, unique layer indices in ``0..num_layers``.

    ``spec`` is ``"all"``, one index (``"14"``), a comma list (``"6,12"``) or a
    sequence of ints; negative indices count from the last layer (``-1`` = last).
    """
    if isinstance(spec, str):
        text = spec.strip()
        if text == "all":
            return list(range(num_layers + 1))
        try:
            items = [int(x) for x in text.split(",") if x.strip()]
        except ValueError:
            raise SpeechSSLError(
                f"layer option {spec!r} is not 'all', an integer or a comma-separated list of integers"
            ) from None
    elif isinstance(spec, int):
        items = [spec]
    else:
        items = [int(x) for x in spec]
    if not items:
        raise SpeechSSLError(f"layer option {spec!r} names no layer")
    out = set()
    for i in items:
        j = i + num_layers + 1 if i < 0 else i
        if not 0 <= j <= num_layers:
            raise SpeechSSLError(
                f"layer {i} does not exist: this model has layers 0..{num_layers} "
                f"(0 = transformer input, {num_layers} = last transformer layer)"
            )
        out.add(j)
    return sorted(out)


class Upstream(nn.Module, abc.ABC):
    """A frozen speech encoder mapping waveforms to per-layer hidden states.

    Subclasses set ``sample_rate``, ``downsample_rate``, ``num_layers``,
    ``hidden_size`` and ``receptive_field`` and implement
    :meth:`output_lengths` and :meth:`compute_hidden_states`.
    """

    sample_rate: int
    downsample_rate: int
    num_layers: int
    hidden_size: int
    receptive_field: int

    @property
    def frame_rate(self) -> float:
        """Output frames per second."""
        return self.sample_rate / self.downsample_rate

    @abc.abstractmethod
    def output_lengths(self, wav_lens: torch.Tensor) -> torch.Tensor:
        """Output frames for inputs of ``wav_lens`` samples."""

    @abc.abstractmethod
    def truncate(self, max_layer: int) -> None:
        """Drop the transformer layers above ``max_layer`` (not computed any more); sets ``num_layers``."""

    @abc.abstractmethod
    def compute_hidden_states(self, wavs: torch.Tensor, wav_lens: torch.Tensor) -> list[torch.Tensor]:
        """All ``num_layers + 1`` hidden states ``[B, >=max(out_lens), D]`` of a zero-padded batch."""

    def check_lengths(self, wav_lens: torch.Tensor, utt_ids: Sequence[str] | None = None) -> None:
        """Raise :class:`SpeechSSLError` naming every input shorter than the receptive field."""
        short = (wav_lens < self.receptive_field).nonzero().flatten().tolist()
        if not short:
            return
        names = [
            f"{utt_ids[b] if utt_ids is not None else f'batch item {b}'} ({int(wav_lens[b])} samples)"
            for b in short
        ]
        raise SpeechSSLError(
            f"{', '.join(names)}: shorter than the model's receptive field of {self.receptive_field} samples "
            f"({self.receptive_field / self.sample_rate * 1000:.1f} ms at {self.sample_rate} Hz); "
            "remove such utterances from the data directory (e.g. filter on utt2dur) and rerun"
        )

    def forward(
        self, wavs: torch.Tensor, wav_lens: torch.Tensor, utt_ids: Sequence[str] | None = None
    ) -> UpstreamOutput:
        """Hidden states of a zero-padded batch ``wavs[B, T]`` with ``wav_lens[B]`` valid samples."""
        if wavs.dim() != 2 or wav_lens.dim() != 1 or wav_lens.shape[0] != wavs.shape[0]:
            raise SpeechSSLError(
                f"upstream input must be wavs[B, T] and wav_lens[B]; got {tuple(wavs.shape)} and {tuple(wav_lens.shape)}"
            )
        wav_lens = wav_lens.to(wavs.device).long()
        if int(wav_lens.max()) > wavs.shape[1]:
            raise SpeechSSLError(f"wav_lens {wav_lens.tolist()} exceed the padded length {wavs.shape[1]}")
        self.check_lengths(wav_lens, utt_ids)
        lengths = self.output_lengths(wav_lens)
        max_len = int(lengths.max())
        states = self.compute_hidden_states(wavs, wav_lens)
        mask = padding_mask_from_lengths(lengths, max_len)
        out = []
        for h in states:
            if h.shape[1] < max_len:
                raise RuntimeError(f"{type(self).__name__} returned {h.shape[1]} frames, expected {max_len}")
            out.append(h[:, :max_len].masked_fill(mask[..., None], 0.0))
        return UpstreamOutput(hidden_states=out, lengths=lengths, padding_mask=mask)


@dataclass
class _Loader:
    name: str
    accepts: Callable[[Path, Any], bool]
    build: Callable[..., Upstream]


_LOADERS: list[_Loader] = []


def register_upstream(
    name: str, accepts: Callable[[Path, Any], bool], build: Callable[..., Upstream]
) -> None:
    """Make :func:`load_upstream` recognise another model format.

    ``accepts(path, checkpoint)`` says whether the loader handles ``path``
    (``checkpoint`` is the unpickled content of a file, None for a directory);
    ``build(path, checkpoint)`` returns the :class:`Upstream`.
    """
    if any(loader.name == name for loader in _LOADERS):
        raise ValueError(f"upstream loader {name!r} is already registered")
    _LOADERS.append(_Loader(name, accepts, build))


def _describe(path: Path, checkpoint: Any) -> str:
    if checkpoint is None:
        return "a directory holding " + (", ".join(sorted(p.name for p in path.iterdir())[:12]) or "nothing")
    if isinstance(checkpoint, dict):
        return "a checkpoint with top-level keys " + ", ".join(map(str, list(checkpoint)[:12]))
    return f"a checkpoint holding a {type(checkpoint).__name__}"


def load_upstream(path: str | Path) -> Upstream:
    """Load the SSL model at a local ``path`` in eval mode on CPU, gradients off."""
    from speechssl.models.upstream.ckpt import load_checkpoint

    path = Path(path)
    if not path.exists():
        raise SpeechSSLError(f"upstream {path}: no such file or directory")
    checkpoint = None if path.is_dir() else load_checkpoint(path)
    for loader in _LOADERS:
        if loader.accepts(path, checkpoint):
            upstream = loader.build(path, checkpoint)
            upstream.eval()
            for p in upstream.parameters():
                p.requires_grad_(False)
            log.info(
                "loaded %s upstream %s: %d layers, hidden %d, %.1f frames/s",
                loader.name, path, upstream.num_layers, upstream.hidden_size, upstream.frame_rate,
            )
            return upstream
    raise SpeechSSLError(
        f"upstream {path}: unknown model format ({_describe(path, checkpoint)}); known formats: "
        + ", ".join(loader.name for loader in _LOADERS)
    )
