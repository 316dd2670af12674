"""One interface to every SSL speech model we extract features from ("upstream").

``load_upstream(path)`` looks at a local path and returns an :class:`Upstream`:

- a transformers directory written by ``save_pretrained`` (``config.json`` plus
  weights) of a Wav2Vec2Model, HubertModel, WavLMModel or Data2VecAudioModel
  (a ``...ForCTC`` directory works too: its encoder is used);
- a fairseq wav2vec 2.0 or HuBERT ``.pt`` checkpoint (pre-trained or CTC
  fine-tuned), converted to the matching transformers model without fairseq;
- a speechssl MelHuBERT checkpoint (``train_melhubert`` training checkpoint or
  ``export_upstream`` file);
- any model another module registers with :func:`register_upstream`.

Nothing is ever downloaded.

Layer numbering (the same for every model and every ``--layers`` option):

- layer 0 is the input of the first transformer layer: the CNN features after
  their projection and the convolutional positional embedding (and, in post-LN
  models such as wav2vec 2.0 / HuBERT Base, the encoder LayerNorm), i.e. the
  first entry of transformers' ``hidden_states`` and of s3prl's list;
- layer i (1..num_layers) is the output of transformer layer i.  The last
  layer of pre-LN ("stable layer norm") models is taken *before* the encoder's
  final LayerNorm, like every other layer.
- fairseq's ``wav2vec_extract_features.py --layer N`` (0-based transformer
  index) is our layer N+1.

An Upstream has ``num_layers + 1`` hidden states, ``hidden_size``,
``sample_rate``, ``downsample_rate`` (input samples per output frame),
``frame_rate`` and ``receptive_field`` (samples needed for one frame).
"""
from speechssl.models.upstream.base import (
    Upstream,
    UpstreamOutput,
    conv_output_lengths,
    conv_receptive_field,
    load_upstream,
    parse_layers,
    register_upstream,
)
from speechssl.models.upstream.ckpt import load_checkpoint
from speechssl.models.upstream import hf as _hf  # noqa: F401  (registers the transformers loader)
from speechssl.models.upstream import fairseq as _fairseq  # noqa: F401  (registers the fairseq loader)
from speechssl.models.upstream import melhubert as _melhubert  # noqa: F401  (registers our MelHuBERT checkpoints)

__all__ = [
    "Upstream",
    "UpstreamOutput",
    "conv_output_lengths",
    "conv_receptive_field",
    "load_checkpoint",
    "load_upstream",
    "parse_layers",
    "register_upstream",
]
