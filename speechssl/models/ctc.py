"""A small CTC phone recognizer on frame features, for self-training and supervised baselines.

Two bodies share one interface, ``(feats (B, T, D), padding_mask (B, T)) ->
{"logits": (B, T', V + 1), "padding_mask": (B, T')}``, the last column
being the CTC blank:

- ``blstm``: ``conv_layers`` 1-D convolutions (GELU, dropout; the first one
  strided by ``subsample``), then a ``lstm_layers``-layer bidirectional LSTM
  over the unpadded frames, then a linear output layer;
- ``generator``: the wav2vec-U GAN generator (:class:`~speechssl.models.uasr.generator.Generator`)
  with one more output column for the blank, configured by ``model.generator``,
  so the GAN's own architecture can be measured with labels (its "supervised twin").

The output length is ``ceil(T / stride)``; output frame ``j`` is padding
exactly when input frame ``j * stride`` is.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from speechssl.models.uasr.generator import Generator, GeneratorConfig

#: Symbol of the blank column (the last one) in token lists written for CTC models.
CTC_BLANK = "<blank>"
BODIES = ("blstm", "generator")


@dataclass
class CTCModelConfig:
    body: str = "blstm"
    conv_layers: int = 1
    conv_channels: int = 128
    conv_kernel: int = 5
    subsample: int = 3
    lstm_layers: int = 2
    lstm_hidden: int = 128
    dropout: float = 0.1
    #: Options of the GAN generator, used when ``body`` is ``generator``.
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)

    @classmethod
    def from_dict(cls, values: dict) -> "CTCModelConfig":
        """Build from the ``model`` section of a configuration; unknown keys raise ``KeyError``."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise KeyError(f"model.{sorted(unknown)[0]}")
        gen = dict(values.get("generator", {}))
        unknown = set(gen) - set(GeneratorConfig.__dataclass_fields__)
        if unknown:
            raise KeyError(f"model.generator.{sorted(unknown)[0]}")
        cfg = cls(**{**values, "generator": GeneratorConfig(**gen)})
        cfg.check()
        return cfg

    def check(self) -> None:
        if self.body not in BODIES:
            raise ValueError(f"model.body {self.body!r}: choose one of {', '.join(BODIES)}")
        if self.body == "blstm":
            if self.conv_kernel < 1 or self.conv_kernel % 2 == 0:
                raise ValueError(f"model.conv_kernel {self.conv_kernel} must be odd and positive")
            if self.subsample < 1 or (self.subsample > 1 and self.conv_layers < 1):
                raise ValueError("model.subsample > 1 needs at least one convolution (model.conv_layers >= 1)")
            if self.lstm_layers < 0 or (self.lstm_layers == 0 and self.conv_layers == 0):
                raise ValueError("model: the blstm body needs convolutions or LSTM layers")

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def stride(self) -> int:
        return self.generator.stride if self.body == "generator" else self.subsample


class _ConvBLSTM(nn.Module):
    """Convolutions, a bidirectional LSTM over the unpadded frames, a linear output layer."""

    def __init__(self, input_dim: int, num_outputs: int, cfg: CTCModelConfig):
        super().__init__()
        convs: list[nn.Module] = []
        dim = input_dim
        for i in range(cfg.conv_layers):
            convs += [nn.Conv1d(dim, cfg.conv_channels, cfg.conv_kernel, stride=cfg.subsample if i == 0 else 1,
                                padding=cfg.conv_kernel // 2), nn.GELU(), nn.Dropout(cfg.dropout)]
            dim = cfg.conv_channels
        self.convs = nn.Sequential(*convs)
        self.lstm = None
        if cfg.lstm_layers > 0:
            self.lstm = nn.LSTM(dim, cfg.lstm_hidden, cfg.lstm_layers, batch_first=True, bidirectional=True,
                                dropout=cfg.dropout if cfg.lstm_layers > 1 else 0.0)
            dim = 2 * cfg.lstm_hidden
        self.dropout = nn.Dropout(cfg.dropout)
        self.output = nn.Linear(dim, num_outputs)
        self.stride = cfg.subsample

    def forward(self, feats: torch.Tensor, padding_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        x = feats.masked_fill(padding_mask.unsqueeze(-1), 0.0)
        out_mask = padding_mask[:, :: self.stride]
        if len(self.convs):
            x = self.convs(x.transpose(1, 2)).transpose(1, 2)[:, : out_mask.size(1)]
            x = x.masked_fill(out_mask.unsqueeze(-1), 0.0)
        if self.lstm is not None:
            lengths = (~out_mask).sum(dim=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.clamp(min=1), batch_first=True,
                                                       enforce_sorted=False)
            x = nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True,
                                                 total_length=out_mask.size(1))[0]
        logits = self.output(self.dropout(x))
        return {"logits": logits.masked_fill(out_mask.unsqueeze(-1), 0.0), "padding_mask": out_mask}


class CTCModel(nn.Module):
    """CTC recognizer of ``num_phones`` phones (column ``num_phones`` is the blank) on ``input_dim`` features."""

    def __init__(self, input_dim: int, num_phones: int, cfg: CTCModelConfig):
        super().__init__()
        cfg.check()
        self.cfg = cfg
        self.input_dim, self.num_phones = input_dim, num_phones
        self.blank = num_phones
        if cfg.body == "generator":
            self.body = Generator(input_dim, num_phones + 1, cfg.generator)
        else:
            self.body = _ConvBLSTM(input_dim, num_phones + 1, cfg)

    def forward(self, feats: torch.Tensor, padding_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """``logits`` (B, T', V + 1) and their ``padding_mask`` (B, T')."""
        return self.body(feats, padding_mask)

    def output_length(self, num_frames: int) -> int:
        """Output frames for ``num_frames`` input frames."""
        return math.ceil(num_frames / self.cfg.stride)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def ctc_frames_needed(ids) -> int:
    """The fewest output frames that can emit ``ids`` under CTC: one per token plus a blank between repeats."""
    ids = list(ids)
    return len(ids) + sum(a == b for a, b in zip(ids, ids[1:]))
