"""fairseq wav2vec 2.0 and HuBERT checkpoints, converted to transformers models on load.

A fairseq checkpoint is a dict with ``model`` (the state dict) and the
configuration in ``cfg`` (hydra era: ``cfg["model"]``, ``cfg["task"]``) or
``args`` (older: an ``argparse.Namespace``).  CTC fine-tuned checkpoints
(``_name`` ``wav2vec_ctc``/``hubert_ctc``) keep the pre-trained model under
``w2v_encoder.w2v_model.`` and its configuration in ``cfg["model"]["w2v_args"]``;
their encoder is used.  Only the encoder is converted: quantiser, projection
heads and cluster embeddings are ignored.  fairseq itself is never imported.
"""
from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path
from typing import Any, Mapping

from speechssl.models.upstream.base import register_upstream
from speechssl.models.upstream.ckpt import MissingClass
from speechssl.models.upstream.hf import HFUpstream
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

PRETRAINED = {"wav2vec2": "wav2vec2", "hubert": "hubert"}
FINETUNED = {"wav2vec_ctc": "wav2vec2", "hubert_ctc": "hubert"}
FINETUNED_PREFIX = "w2v_encoder.w2v_model."

#: fairseq's defaults for fields that old checkpoints may lack.
DEFAULTS = {
    "extractor_mode": "default",
    "encoder_layers": 12,
    "encoder_embed_dim": 768,
    "encoder_ffn_embed_dim": 3072,
    "encoder_attention_heads": 12,
    "activation_fn": "gelu",
    "layer_norm_first": False,
    "conv_feature_layers": "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]",
    "conv_bias": False,
    "conv_pos": 128,
    "conv_pos_groups": 16,
    "pos_conv_depth": 1,
}


def _as_dict(obj: Any) -> dict | None:
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, argparse.Namespace):
        return vars(obj)
    return None


def _model_name(cfg: dict) -> str | None:
    return cfg.get("_name") or cfg.get("arch")


def read_fairseq_config(checkpoint: Any) -> tuple[str, dict, dict, str] | None:
    """``(family, model_cfg, task_cfg, state_prefix)`` of a fairseq checkpoint, or None if it is not one.

    ``family`` is ``wav2vec2`` or ``hubert``.
    """
    if not isinstance(checkpoint, Mapping) or "model" not in checkpoint:
        return None
    if isinstance(checkpoint.get("cfg"), MissingClass):
        raise SpeechSSLError(
            f"the checkpoint's configuration is a pickled {checkpoint['cfg']!r} object that cannot be read "
            "without that package; re-save it with cfg converted to a plain dict (OmegaConf.to_container)"
        )
    cfg = _as_dict(checkpoint.get("cfg"))
    if cfg is not None:
        model, task = _as_dict(cfg.get("model")) or {}, _as_dict(cfg.get("task")) or {}
    else:
        args = _as_dict(checkpoint.get("args"))
        if args is None:
            return None
        model, task = args, args
    name = _model_name(model)
    if name in PRETRAINED:
        return PRETRAINED[name], model, task, ""
    if name in FINETUNED:
        inner = _as_dict(model.get("w2v_args"))
        if inner is None:
            return None
        inner_cfg = _as_dict(inner.get("model"))
        inner_model = inner_cfg if inner_cfg is not None else inner
        inner_task = _as_dict(inner.get("task")) or inner
        return FINETUNED[name], inner_model, inner_task, FINETUNED_PREFIX
    return None


def parse_conv_layers(spec: str) -> list[tuple[int, int, int]]:
    """Evaluate fairseq's ``conv_feature_layers`` string (lists of tuples joined by + and *)."""

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [ev(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult)):
            left, right = ev(node.left), ev(node.right)
            return left + right if isinstance(node.op, ast.Add) else left * right
        raise ValueError(ast.dump(node))

    try:
        layers = ev(ast.parse(spec, mode="eval"))
        return [(int(d), int(k), int(s)) for d, k, s in layers]
    except (SyntaxError, ValueError, TypeError) as e:
        raise SpeechSSLError(f"cannot read conv_feature_layers {spec!r} ({e})") from None


def _get(model_cfg: dict, key: str) -> Any:
    value = model_cfg.get(key)
    return DEFAULTS[key] if value is None else value


def transformers_config(family: str, model_cfg: dict):
    """The transformers config equivalent to a fairseq model configuration (dropouts off)."""
    import transformers

    conv = parse_conv_layers(_get(model_cfg, "conv_feature_layers"))
    mode = _get(model_cfg, "extractor_mode")
    if mode not in ("default", "layer_norm"):
        raise SpeechSSLError(f"unsupported fairseq extractor_mode {mode!r} (expected 'default' or 'layer_norm')")
    if int(_get(model_cfg, "pos_conv_depth")) != 1:
        raise SpeechSSLError("fairseq models with pos_conv_depth > 1 (data2vec 2.0 style) are not supported")
    common = dict(
        hidden_size=int(_get(model_cfg, "encoder_embed_dim")),
        num_hidden_layers=int(_get(model_cfg, "encoder_layers")),
        num_attention_heads=int(_get(model_cfg, "encoder_attention_heads")),
        intermediate_size=int(_get(model_cfg, "encoder_ffn_embed_dim")),
        hidden_act=_get(model_cfg, "activation_fn"),
        conv_dim=[d for d, _, _ in conv],
        conv_kernel=[k for _, k, _ in conv],
        conv_stride=[s for _, _, s in conv],
        conv_bias=bool(_get(model_cfg, "conv_bias")),
        feat_extract_norm="group" if mode == "default" else "layer",
        feat_extract_activation="gelu",
        num_conv_pos_embeddings=int(_get(model_cfg, "conv_pos")),
        num_conv_pos_embedding_groups=int(_get(model_cfg, "conv_pos_groups")),
        do_stable_layer_norm=bool(_get(model_cfg, "layer_norm_first")),
        layer_norm_eps=1e-5,
        hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0,
        final_dropout=0.0, layerdrop=0.0, mask_time_prob=0.0, mask_feature_prob=0.0,
    )
    if family == "hubert":
        return transformers.HubertConfig(feat_proj_layer_norm=True, **common)
    return transformers.Wav2Vec2Config(**common)


_RENAMES = [
    (r"^feature_extractor\.conv_layers\.(\d+)\.conv\.", r"feature_extractor.conv_layers.\1.0."),
    (r"^feature_projection\.layer_norm\.", "layer_norm."),
    (r"^feature_projection\.projection\.", "post_extract_proj."),
    (r"^encoder\.pos_conv_embed\.conv\.(parametrizations\.weight\.original0|weight_g)$", "encoder.pos_conv.0.weight_g"),
    (r"^encoder\.pos_conv_embed\.conv\.(parametrizations\.weight\.original1|weight_v)$", "encoder.pos_conv.0.weight_v"),
    (r"^encoder\.pos_conv_embed\.conv\.bias$", "encoder.pos_conv.0.bias"),
    (r"^encoder\.layers\.(\d+)\.attention\.", r"encoder.layers.\1.self_attn."),
    (r"^encoder\.layers\.(\d+)\.layer_norm\.", r"encoder.layers.\1.self_attn_layer_norm."),
    (r"^encoder\.layers\.(\d+)\.feed_forward\.intermediate_dense\.", r"encoder.layers.\1.fc1."),
    (r"^encoder\.layers\.(\d+)\.feed_forward\.output_dense\.", r"encoder.layers.\1.fc2."),
]


def fairseq_name(hf_name: str, group_norm: bool) -> str:
    """The fairseq state-dict name of a transformers wav2vec2/HuBERT parameter."""
    m = re.match(r"^feature_extractor\.conv_layers\.(\d+)\.layer_norm\.(\w+)$", hf_name)
    if m:  # GroupNorm is module 2 of the first conv block; LayerNorm is module 1 inside module 2
        return f"feature_extractor.conv_layers.{m[1]}.2.{m[2]}" if group_norm else (
            f"feature_extractor.conv_layers.{m[1]}.2.1.{m[2]}"
        )
    for pattern, repl in _RENAMES:
        if re.match(pattern, hf_name):
            return re.sub(pattern, repl, hf_name)
    return hf_name  # encoder.layer_norm, final_layer_norm: same name


def _accepts(path: Path, checkpoint: Any) -> bool:
    return read_fairseq_config(checkpoint) is not None


def _build(path: Path, checkpoint: Any) -> HFUpstream:
    import transformers

    family, model_cfg, task_cfg, prefix = read_fairseq_config(checkpoint)
    state = checkpoint["model"]
    if not isinstance(state, Mapping):
        raise SpeechSSLError(f"{path}: checkpoint['model'] is a {type(state).__name__}, not a state dict")
    config = transformers_config(family, model_cfg)
    cls = transformers.HubertModel if family == "hubert" else transformers.Wav2Vec2Model
    model = cls(config)
    group_norm = config.feat_extract_norm == "group"
    mapped, missing = {}, []
    for name, param in model.state_dict().items():
        src = prefix + fairseq_name(name, group_norm)
        if src not in state:
            missing.append(src)
        elif tuple(state[src].shape) != tuple(param.shape):
            raise SpeechSSLError(
                f"{path}: {src} has shape {tuple(state[src].shape)} but the configuration implies "
                f"{tuple(param.shape)}; the checkpoint's cfg and weights disagree"
            )
        else:
            mapped[name] = state[src]
    if missing:
        raise SpeechSSLError(
            f"{path}: not a complete fairseq {family} checkpoint: {len(missing)} weights missing, e.g. "
            + ", ".join(missing[:8])
        )
    model.load_state_dict(mapped, strict=True)
    ignored = len([k for k in state if k.startswith(prefix)]) - len(mapped)
    log.info("%s: converted fairseq %s (%d encoder tensors; %d training-only tensors ignored)",
             path, family, len(mapped), ignored)
    normalize = task_cfg.get("normalize")
    if isinstance(normalize, MissingClass) or normalize is None:
        normalize = config.feat_extract_norm == "layer"
        log.warning("%s: task.normalize not found; assuming %s", path, normalize)
    sample_rate = int(task_cfg.get("sample_rate") or 16000)
    return HFUpstream(model, normalize_waveform=bool(normalize), sample_rate=sample_rate, source=str(path))


register_upstream("fairseq wav2vec2/hubert checkpoint", _accepts, _build)
