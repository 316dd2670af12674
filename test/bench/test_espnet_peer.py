"""bench/espnet_uasr_peer.py: ESPnet model built from our config, batch mapping, a tiny side-by-side run.

Skipped (with the reason printed) when ESPnet is not installed (bash tools/install_espnet.sh).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch

from speechssl.models.uasr.gan import GANConfig
from speechssl.text.lm import train_ngram
from speechssl.trainers.uasr_gan import load_config
from speechssl.uasr.data import PhoneText, PhoneVocab
from speechssl.utils.errors import SpeechSSLError

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "egs/TEMPLATE/conf/uasr_tiny.yaml"
PHONES = ["<SIL>", "a", "b", "c", "d"]

if importlib.util.find_spec("espnet2") is None:
    REASON = "ESPnet is not installed (run: bash tools/install_espnet.sh)"
    print(f"test_espnet_peer: skipped: {REASON}")
    pytest.skip(REASON, allow_module_level=True)


def _load_bench():
    spec = importlib.util.spec_from_file_location("espnet_uasr_peer", ROOT / "bench/espnet_uasr_peer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


peer = _load_bench()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """12 train and 4 dev utterances of 8-dim features (a random vector per phone), phone text and a 3-gram."""
    root = tmp_path_factory.mktemp("peer")
    rng = np.random.default_rng(0)
    sentences = ["<SIL> " + " ".join(rng.choice(PHONES[1:], size=rng.integers(3, 7))) + " <SIL>" for _ in range(30)]
    text = root / "text"
    text.mkdir()
    (text / "phones_sil.txt").write_text("\n".join(sentences) + "\n")
    (text / "dict.phn.txt").write_text("".join(f"{p} 1\n" for p in PHONES))
    train_ngram(text / "phones_sil.txt", text / "lm.phones.4", 3)
    emb = rng.normal(size=(len(PHONES), 8))
    for name, n in (("train", 12), ("dev", 4)):
        d = root / name
        d.mkdir()
        refs, frames = {}, {}
        with kaldiio.WriteHelper(f"ark,scp:{d / 'feats.ark'},{d / 'feats.scp'}") as w:
            for i in range(n):
                utt = f"{name}{i:02d}"
                phones = sentences[i].split()
                ids = np.repeat([PHONES.index(p) for p in phones], 3)
                w(utt, (emb[ids] + 0.1 * rng.normal(size=(len(ids), 8))).astype(np.float32))
                frames[utt] = len(ids)
                refs[utt] = " ".join(p if p != "<SIL>" else "|" for p in phones)
        (d / "utt2num_frames").write_text("".join(f"{u} {f}\n" for u, f in frames.items()))
        (d / "utt2phones").write_text("".join(f"{u} {r}\n" for u, r in refs.items()))
    return root


def _tiny():
    cfg = load_config(TINY)
    return GANConfig.from_dict(cfg["model"], cfg["loss"]), cfg["optim"]


def test_espnet_model_follows_our_config():
    gan, optim = _tiny()
    vocab = PhoneVocab(PHONES)
    side = peer.EspnetSide(gan, optim, 8, vocab, torch.device("cpu"))
    model = side.model
    assert side.token_list[peer.ESPNET_PAD] == "<pad>" and model.pad == peer.ESPNET_PAD
    assert side.token_list[side.offset:] == PHONES
    conv = model.generator.proj[1]
    assert (conv.kernel_size[0], conv.stride[0], conv.out_channels) == (gan.generator.kernel, gan.generator.stride,
                                                                        len(PHONES) + side.offset)
    assert model.discriminator.net[0].out_channels == gan.discriminator.channels
    # ESPnet counts the gradient penalty twice: it gets half our weight.
    assert model.losses["gradient_penalty"].weight == pytest.approx(gan.loss.gradient_penalty / 2)
    assert model.losses["phoneme_diversity_loss"].weight == pytest.approx(gan.loss.code_penalty)
    assert model.losses["smoothness_penalty"].weight == pytest.approx(gan.loss.smoothness)
    assert side.optimizers[0].param_groups[0]["lr"] == pytest.approx(float(optim["generator"]["lr"]))
    assert side.optimizers[1].param_groups[0]["weight_decay"] == pytest.approx(
        float(optim["discriminator"]["weight_decay"]))


def test_text_batch_shifts_ids_and_pads_with_espnet_pad(data):
    gan, optim = _tiny()
    vocab = PhoneVocab.from_dict_file(data / "text/dict.phn.txt")
    text = PhoneText(data / "text/phones_sil.txt", vocab)
    side = peer.EspnetSide(gan, optim, 8, vocab, torch.device("cpu"))
    ids, lengths = side.text_batch(text, [0, 1])
    for row, i in enumerate([0, 1]):
        sent = text.sentences[i]
        assert lengths[row] == len(sent)
        assert ids[row, : len(sent)].tolist() == (sent + side.offset).tolist()
        assert (ids[row, len(sent):] == peer.ESPNET_PAD).all()


def test_gumbel_config_is_refused():
    gan, optim = _tiny()
    gan.gumbel.enabled = True
    with pytest.raises(SpeechSSLError, match="gumbel"):
        peer.EspnetSide(gan, optim, 8, PhoneVocab(PHONES), torch.device("cpu"))


def test_references_lose_silence_separators(data):
    refs = peer.clean_references(data / "dev/utt2phones")
    assert refs and all("|" not in r and r for r in refs.values())


def test_tiny_side_by_side_run(data, tmp_path, capsys):
    out = tmp_path / "peer.md"
    rc = peer.main(["--feats", str(data / "train"), "--valid-feats", str(data / "dev"), "--text-dir",
                    str(data / "text"), "--updates", "6", "--warmup", "2", "--seeds", "3", "--threads", "1",
                    "--set", "data.batch_size=4", "--output", str(out)])
    assert rc == 0
    lines = out.read_text().splitlines()
    assert lines[0].startswith("| date |") and len(lines) == 3
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert len(cells) == 10 and cells[3] == "3" and cells[4] == "6"
    ours_ups, espnet_ups = float(cells[5]), float(cells[6])
    assert ours_ups > 0 and espnet_ups > 0
    assert float(cells[7].rstrip("x")) == pytest.approx(ours_ups / espnet_ups, rel=0.02)
    for per in cells[8:10]:
        assert per.endswith("%") and float(per.rstrip(" %")) >= 0
    assert lines[2] in capsys.readouterr().out
