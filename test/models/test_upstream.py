"""The SSL upstream interface: transformers and fairseq loading, lengths, padding, errors."""
from __future__ import annotations

import argparse
import json
import sys
import types

import pytest
import torch
import transformers

from speechssl.models.upstream import conv_output_lengths, load_upstream, parse_layers
from speechssl.utils.errors import SpeechSSLError

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
            conv_dim=(16, 16, 16), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2),
            num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=4)
FAMILIES = {
    "wav2vec2": (transformers.Wav2Vec2Config, transformers.Wav2Vec2Model),
    "hubert": (transformers.HubertConfig, transformers.HubertModel),
}


def tiny_model(family: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    config_cls, model_cls = FAMILIES[family]
    return model_cls(config_cls(**{**TINY, **overrides})).eval()


def save_hf(model, path, normalize: bool = False):
    model.save_pretrained(path)
    (path / "preprocessor_config.json").write_text(json.dumps({"do_normalize": normalize, "sampling_rate": 16000}))
    return path


def reference_states(model, wav: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        return list(model(wav[None], output_hidden_states=True).hidden_states)


def assert_states_equal(ours, ref, atol=1e-5):
    assert len(ours) == len(ref)
    for i, (a, b) in enumerate(zip(ours, ref)):
        assert a.shape == b.shape, f"layer {i}: {a.shape} vs {b.shape}"
        assert torch.allclose(a, b, atol=atol), f"layer {i}: max diff {(a - b).abs().max()}"


@pytest.mark.parametrize("family", ["wav2vec2", "hubert"])
def test_transformers_directory_round_trip(tmp_path, family):
    model = tiny_model(family)
    up = load_upstream(save_hf(model, tmp_path / family))
    assert (up.num_layers, up.hidden_size, up.downsample_rate, up.frame_rate) == (2, 32, 20, 800.0)
    assert up.receptive_field == 10 + 2 * 5 + 2 * 10  # 1 + (10-1) + (3-1)*5 + (3-1)*10
    wav = torch.randn(3000)
    out = up(wav[None], torch.tensor([3000]))
    assert out.lengths.tolist() == [149]
    assert_states_equal([h[0] for h in out.hidden_states], [h[0] for h in reference_states(model, wav)])


def test_pre_ln_last_layer_is_before_final_layer_norm(tmp_path):
    model = tiny_model("wav2vec2", feat_extract_norm="layer", do_stable_layer_norm=True)
    up = load_upstream(save_hf(model, tmp_path / "large"))
    wav = torch.randn(2000)
    ours = [h[0] for h in up(wav[None], torch.tensor([2000])).hidden_states]
    with torch.no_grad():
        ref = model(wav[None], output_hidden_states=True)
    assert_states_equal(ours, [h[0] for h in ref.hidden_states])
    with torch.no_grad():  # the encoder's final LayerNorm is applied only to last_hidden_state
        assert torch.allclose(model.encoder.layer_norm(ours[-1]), ref.last_hidden_state[0], atol=1e-5)
    assert not torch.allclose(ours[-1], ref.last_hidden_state[0], atol=1e-3)


@pytest.mark.parametrize("overrides", [{}, {"feat_extract_norm": "layer", "do_stable_layer_norm": True}],
                         ids=["groupnorm-cnn", "layernorm-cnn"])
def test_padded_batch_equals_single_utterances(tmp_path, overrides):
    up = load_upstream(save_hf(tiny_model("hubert", **overrides), tmp_path / "m", normalize=bool(overrides)))
    lens = torch.tensor([4000, 2300, 1200])
    wavs = torch.randn(3, 4000) * (torch.arange(4000)[None] < lens[:, None])
    out = up(wavs, lens)
    expected = conv_output_lengths(lens, [10, 3, 3], [5, 2, 2])
    assert out.lengths.tolist() == expected.tolist() == [199, 114, 59]
    assert out.padding_mask.shape == (3, 199)
    assert out.padding_mask.sum(1).tolist() == [0, 199 - 114, 199 - 59]
    for b in range(3):
        alone = up(wavs[b : b + 1, : lens[b]], lens[b : b + 1])
        n = int(out.lengths[b])
        for layer in range(up.num_layers + 1):
            h = out.hidden_states[layer]
            assert torch.allclose(h[b, :n], alone.hidden_states[layer][0], atol=1e-4)
            assert torch.all(h[b, n:] == 0)


def test_truncate_keeps_lower_layers(tmp_path):
    path = save_hf(tiny_model("wav2vec2"), tmp_path / "m")
    full, cut = load_upstream(path), load_upstream(path)
    cut.truncate(1)
    assert cut.num_layers == 1 and len(cut.model.encoder.layers) == 1
    wav, lens = torch.randn(1, 1600), torch.tensor([1600])
    assert_states_equal(cut(wav, lens).hidden_states, full(wav, lens).hidden_states[:2])
    with pytest.raises(SpeechSSLError, match="layers 0..1"):
        cut.truncate(2)


def test_short_audio_names_the_utterance(tmp_path):
    up = load_upstream(save_hf(tiny_model("wav2vec2"), tmp_path / "m"))
    with pytest.raises(SpeechSSLError, match=r"utt-b \(20 samples\).*receptive field of 40 samples"):
        up(torch.randn(2, 500), torch.tensor([500, 20]), utt_ids=["utt-a", "utt-b"])


def test_parse_layers():
    assert parse_layers("all", 3) == [0, 1, 2, 3]
    assert parse_layers("14", 24) == [14]
    assert parse_layers("12,6,6", 12) == [6, 12]
    assert parse_layers("-1", 12) == [12]
    with pytest.raises(SpeechSSLError, match="layers 0..12"):
        parse_layers("13", 12)
    with pytest.raises(SpeechSSLError, match="comma-separated"):
        parse_layers("six", 12)


# --------------------------------------------------------------------------- fairseq
def to_fairseq_state(model) -> dict[str, torch.Tensor]:
    """Rename a tiny transformers model's weights to fairseq's names (written out by hand here)."""
    sd = model.state_dict()
    out = {}
    group = model.config.feat_extract_norm == "group"
    for i in range(len(model.config.conv_dim)):
        out[f"feature_extractor.conv_layers.{i}.0.weight"] = sd[f"feature_extractor.conv_layers.{i}.conv.weight"]
        if group and i == 0:
            for p in ("weight", "bias"):
                out[f"feature_extractor.conv_layers.0.2.{p}"] = sd[f"feature_extractor.conv_layers.0.layer_norm.{p}"]
    for p in ("weight", "bias"):
        out[f"layer_norm.{p}"] = sd[f"feature_projection.layer_norm.{p}"]
        out[f"post_extract_proj.{p}"] = sd[f"feature_projection.projection.{p}"]
        out[f"encoder.layer_norm.{p}"] = sd[f"encoder.layer_norm.{p}"]
    conv = model.encoder.pos_conv_embed.conv
    out["encoder.pos_conv.0.weight_g"] = conv.parametrizations.weight.original0.detach().clone()
    out["encoder.pos_conv.0.weight_v"] = conv.parametrizations.weight.original1.detach().clone()
    out["encoder.pos_conv.0.bias"] = sd["encoder.pos_conv_embed.conv.bias"]
    for i in range(model.config.num_hidden_layers):
        hf, fs = f"encoder.layers.{i}.", f"encoder.layers.{i}."
        for p in ("weight", "bias"):
            for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
                out[f"{fs}self_attn.{proj}.{p}"] = sd[f"{hf}attention.{proj}.{p}"]
            out[f"{fs}self_attn_layer_norm.{p}"] = sd[f"{hf}layer_norm.{p}"]
            out[f"{fs}fc1.{p}"] = sd[f"{hf}feed_forward.intermediate_dense.{p}"]
            out[f"{fs}fc2.{p}"] = sd[f"{hf}feed_forward.output_dense.{p}"]
            out[f"{fs}final_layer_norm.{p}"] = sd[f"{hf}final_layer_norm.{p}"]
    # training-only tensors that the converter must ignore
    out["mask_emb"] = torch.zeros(16)
    out["final_proj.weight"] = torch.zeros(8, 32)
    return {k: v.clone() for k, v in out.items()}


FAIRSEQ_MODEL_CFG = {
    "extractor_mode": "default", "encoder_layers": 2, "encoder_embed_dim": 32, "encoder_ffn_embed_dim": 64,
    "encoder_attention_heads": 2, "activation_fn": "gelu", "layer_norm_first": False,
    "conv_feature_layers": "[(16, 10, 5)] + [(16, 3, 2)] * 2", "conv_bias": False,
    "conv_pos": 8, "conv_pos_groups": 4,
}


def save_fairseq(path, family: str, state: dict, style: str = "cfg") -> None:
    """Write a checkpoint in fairseq's layout, with a pickled object of a class that is not importable."""
    meters = types.ModuleType("fake_fairseq_meters")

    class AverageMeter:
        def __init__(self):
            self.avg = 1.0

    AverageMeter.__module__ = "fake_fairseq_meters"
    AverageMeter.__qualname__ = "AverageMeter"
    meters.AverageMeter = AverageMeter
    sys.modules["fake_fairseq_meters"] = meters
    try:
        ckpt = {"model": state, "extra_state": {"metrics": {"loss": AverageMeter()}}, "optimizer_history": []}
        if style == "cfg":
            ckpt["cfg"] = {"model": {"_name": family, **FAIRSEQ_MODEL_CFG},
                           "task": {"_name": "audio_pretraining", "normalize": False, "sample_rate": 16000}}
            ckpt["args"] = None
        else:
            ckpt["args"] = argparse.Namespace(arch=family, normalize=False, **FAIRSEQ_MODEL_CFG)
        torch.save(ckpt, path)
    finally:
        del sys.modules["fake_fairseq_meters"]


@pytest.mark.parametrize("family,style", [("wav2vec2", "cfg"), ("hubert", "args")])
def test_fairseq_checkpoint_matches_transformers(tmp_path, family, style):
    model = tiny_model(family, seed=3)
    path = tmp_path / f"{family}.pt"
    save_fairseq(path, family, to_fairseq_state(model), style)
    with pytest.raises(ModuleNotFoundError):
        torch.load(path, weights_only=False)  # the plain unpickler cannot read it
    up = load_upstream(path)
    assert (up.num_layers, up.hidden_size, up.downsample_rate) == (2, 32, 20)
    assert type(up.model) is type(model)
    wav = torch.randn(2400)
    ours = [h[0] for h in up(wav[None], torch.tensor([2400])).hidden_states]
    assert_states_equal(ours, [h[0] for h in reference_states(model, wav)])


def test_fairseq_finetuned_prefix(tmp_path):
    model = tiny_model("wav2vec2", seed=4)
    state = {"w2v_encoder.w2v_model." + k: v for k, v in to_fairseq_state(model).items()}
    state["w2v_encoder.proj.weight"] = torch.zeros(5, 32)
    cfg = {"model": {"_name": "wav2vec_ctc", "w2v_args": {"model": {"_name": "wav2vec2", **FAIRSEQ_MODEL_CFG},
                                                         "task": {"normalize": False}}}, "task": {}}
    torch.save({"model": state, "cfg": cfg}, tmp_path / "ctc.pt")
    wav = torch.randn(2000)
    ours = [h[0] for h in load_upstream(tmp_path / "ctc.pt")(wav[None], torch.tensor([2000])).hidden_states]
    assert_states_equal(ours, [h[0] for h in reference_states(model, wav)])


def test_fairseq_missing_weights_are_named(tmp_path):
    state = to_fairseq_state(tiny_model("wav2vec2"))
    del state["encoder.layers.1.fc2.weight"], state["encoder.pos_conv.0.weight_g"]
    path = tmp_path / "broken.pt"
    save_fairseq(path, "wav2vec2", state)
    with pytest.raises(SpeechSSLError) as e:
        load_upstream(path)
    msg = str(e.value)
    assert "broken.pt" in msg and "2 weights missing" in msg
    assert "encoder.layers.1.fc2.weight" in msg and "encoder.pos_conv.0.weight_g" in msg


def test_unknown_and_unreadable_files(tmp_path):
    torch.save({"state_dict": {}, "hyper": 1}, tmp_path / "other.pt")
    with pytest.raises(SpeechSSLError, match=r"other\.pt: unknown model format .*state_dict, hyper"):
        load_upstream(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(SpeechSSLError, match=r"junk\.pt: cannot be read as a PyTorch checkpoint"):
        load_upstream(tmp_path / "junk.pt")
    with pytest.raises(SpeechSSLError, match="no such file"):
        load_upstream(tmp_path / "absent")
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(SpeechSSLError, match="unknown model format"):
        load_upstream(tmp_path / "emptydir")


def test_transformers_directory_with_missing_weights(tmp_path):
    path = save_hf(tiny_model("wav2vec2"), tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    config["num_hidden_layers"] = 3
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(SpeechSSLError, match=r"weights do not match config\.json .*encoder\.layers\.2\."):
        load_upstream(path)

