"""Combine an upstream's hidden states into one feature sequence for a downstream model.

:class:`Featurizer` either selects one layer (passed through unchanged) or
learns a weighted sum of several: ``sum_i softmax(w)_i * h_i`` with ``w``
initialised to zeros (uniform weights), optionally layer-normalising each
state first (no affine parameters).  Layer indices follow
:mod:`speechssl.models.upstream` (0 = transformer input, i = layer i).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from speechssl.models.upstream.base import parse_layers
from speechssl.utils.errors import SpeechSSLError


class Featurizer(nn.Module):
    """Weighted sum (softmax-normalised, learnable) or single-layer selection of hidden states.

    ``num_layers``: transformer layers of the upstream (it has ``num_layers + 1``
    states); ``layers``: which states to use (``"all"``, ``"8"``, ``"4,8,12"``,
    an int or a list; see :func:`~speechssl.models.upstream.parse_layers`).
    """

    def __init__(self, num_layers: int, layers: str | int | Sequence[int] = "all", normalize: bool = False):
        super().__init__()
        self.layers = parse_layers(layers, num_layers)
        self.normalize = normalize
        self.weights = nn.Parameter(torch.zeros(len(self.layers))) if len(self.layers) > 1 else None

    @property
    def max_layer(self) -> int:
        """Highest layer used: the upstream can be truncated there."""
        return self.layers[-1]

    def layer_weights(self) -> torch.Tensor:
        """The normalised weight of each selected layer (ones for a single layer)."""
        if self.weights is None:
            return torch.ones(1)
        return F.softmax(self.weights.detach().float(), dim=0)

    def forward(self, hidden_states: Sequence[torch.Tensor]) -> torch.Tensor:
        """``[B, T, D]`` from the list of every hidden state (or at least states 0..max_layer)."""
        if len(hidden_states) <= self.max_layer:
            raise SpeechSSLError(f"the featurizer uses layer {self.max_layer} but got only {len(hidden_states)} "
                                 "hidden states; was the upstream truncated below it?")
        picked = [hidden_states[i] for i in self.layers]
        shapes = {tuple(h.shape) for h in picked}
        if len(shapes) > 1:
            raise SpeechSSLError(f"layers {self.layers} have different shapes {sorted(shapes)}; a weighted sum "
                                 "needs one hidden size and frame rate")
        if self.normalize:
            picked = [F.layer_norm(h, h.shape[-1:]) for h in picked]
        if self.weights is None:
            return picked[0]
        w = F.softmax(self.weights, dim=0).to(picked[0].dtype)
        return torch.einsum("l,lbtd->btd", w, torch.stack(picked))
