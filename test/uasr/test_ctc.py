"""CTC phone recognizer and trainer on synthetic data: learning, supervised generator twin, resume, errors, CLI."""
from __future__ import annotations

import json

import pytest
import torch

from speechssl.bin import train_ctc
from speechssl.models.ctc import CTCModel, CTCModelConfig, ctc_frames_needed
from speechssl.trainers.base import NonFiniteError
from speechssl.trainers.ctc import CTCTrainer, load_config
from speechssl.utils.errors import SpeechSSLError

from ctc_corpus import DIM, PHONES, TINY, make_corpus

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("ctc"))


def _trainer(corpus, exp, overrides=(), valid=True):
    cfg = load_config(TINY, ["data.labels=gold", *overrides])
    return CTCTrainer(cfg, exp, corpus / "train", corpus / "text", corpus / "train/utt2phones",
                      corpus / "dev" if valid else None, corpus / "dev/utt2phones" if valid else None,
                      corpus / "dev/utt2phones" if valid else None)


def test_model_shapes_and_masks():
    for cfg in (CTCModelConfig(conv_channels=8, lstm_hidden=8, subsample=2),
                CTCModelConfig.from_dict({"body": "generator", "generator": {"kernel": 4, "stride": 3}})):
        model = CTCModel(DIM, 7, cfg).eval()
        feats = torch.randn(2, 10, DIM)
        mask = torch.tensor([[False] * 10, [False] * 7 + [True] * 3])
        out = model(feats, mask)
        t_out = model.output_length(10)
        assert out["logits"].shape == (2, t_out, 8)  # 7 phones + blank
        assert torch.equal(out["padding_mask"], mask[:, :: cfg.stride])
        # padding does not change the unpadded utterance's outputs
        alone = model(feats[1:, :7], mask[1:, :7])["logits"][0]
        valid = ~out["padding_mask"][1]
        assert torch.allclose(out["logits"][1][valid], alone, atol=1e-5)


def test_frames_needed_counts_repeats():
    assert ctc_frames_needed([1, 2, 3]) == 3
    assert ctc_frames_needed([1, 1, 2, 2, 2]) == 8
    assert ctc_frames_needed([]) == 0


def test_tiny_ctc_learns_synthetic_phones(corpus, tmp_path):
    trainer = _trainer(corpus, tmp_path / "exp", ["trainer.max_updates=300", "trainer.valid_interval=300"])
    assert trainer.model.blank == len(PHONES)
    summary = trainer.fit()
    metrics = [json.loads(line) for line in (tmp_path / "exp/log/metrics.jsonl").read_text().splitlines()]
    train_loss = [m["loss"] for m in metrics if m["split"] == "train"]
    assert train_loss[-1] < 0.3 * train_loss[0]
    final = trainer.validate(300)
    assert final["oracle_per"] < 0.20, final
    assert final["label_per"] == pytest.approx(final["oracle_per"])  # gold labels: both are the references
    assert summary["best_update"] == 300 and (tmp_path / "exp/checkpoint_best.pt").is_file()
    assert (tmp_path / "exp/curves.png").is_file()


def test_supervised_generator_twin_trains(corpus, tmp_path):
    overrides = ["model.body=generator", "model.generator.dropout=0.0", "trainer.max_updates=200",
                 "optim.lr=0.02"]
    trainer = _trainer(corpus, tmp_path / "exp", overrides)
    assert type(trainer.model.body).__name__ == "Generator"
    before = trainer.validate(0)
    trainer.fit()
    after = trainer.validate(200)
    assert after["loss"] < 0.5 * before["loss"]
    assert after["oracle_per"] < 0.6 < before["oracle_per"], (before, after)


AUGMENT = ["augment.time_masks=2", "augment.time_width=3", "augment.freq_masks=1", "augment.freq_width=2"]


@pytest.mark.parametrize("augment", [[], AUGMENT], ids=["plain", "augmented"])
def test_resume_is_exact(corpus, tmp_path, augment):
    straight = _trainer(corpus, tmp_path / "a", ["trainer.max_updates=12", "trainer.save_interval=6", *augment],
                        valid=False)
    straight.fit()
    first = _trainer(corpus, tmp_path / "b", ["trainer.max_updates=6", "trainer.save_interval=6", *augment],
                     valid=False)
    first.fit()
    resumed = _trainer(corpus, tmp_path / "b", ["trainer.max_updates=12", "trainer.save_interval=6", *augment],
                       valid=False)
    assert resumed.resume("auto") == 6 and resumed.sampler.position > 0
    resumed.update = 0
    resumed.fit()
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_augment_masks_the_training_inputs_only(corpus, tmp_path, monkeypatch):
    trainer = _trainer(corpus, tmp_path / "exp", ["trainer.max_updates=3", "trainer.valid_interval=3", *AUGMENT])
    seen = []
    loss = trainer.ctc_loss
    monkeypatch.setattr(trainer, "ctc_loss", lambda feats, mask, targets: seen.append(
        ((feats == 0).all(dim=2) & ~mask).any().item()) or loss(feats, mask, targets))
    trainer.fit()
    assert seen[:3] == [True] * 3 and len(seen) > 3 and not any(seen[3:])   # 3 training batches masked, validation not
    plain = _trainer(corpus, tmp_path / "plain", ["trainer.max_updates=3", "trainer.valid_interval=3"])
    plain.model.load_state_dict(trainer.model.state_dict())
    assert trainer.validate(3)["loss"] == pytest.approx(plain.validate(3)["loss"])   # validation is not masked
    with pytest.raises(SpeechSSLError, match="augment"):
        _trainer(corpus, tmp_path / "bad", ["augment.time_masks=1"])


def test_nonfinite_loss_stops_before_the_step(corpus, tmp_path, monkeypatch):
    trainer = _trainer(corpus, tmp_path / "exp", ["trainer.max_updates=5"], valid=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    monkeypatch.setattr(trainer, "ctc_loss", lambda *a: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(NonFiniteError, match="diverged"):
        trainer.fit()
    assert all(torch.equal(v, trainer.model.state_dict()[k]) for k, v in before.items())


def test_bad_inputs_are_clear_errors(corpus, tmp_path):
    with pytest.raises(SpeechSSLError, match="model.lstm_size"):
        load_config(TINY, ["model.lstm_size=3"])
    with pytest.raises(SpeechSSLError, match="invalid model configuration.*body"):
        _trainer(corpus, tmp_path / "e1", ["model.body=transformer"], valid=False)
    bad = tmp_path / "utt2phones"
    bad.write_text("tr000 a zz b\n")
    cfg = load_config(TINY)
    with pytest.raises(SpeechSSLError, match=r"utt2phones: utterance tr000.*'zz'"):
        CTCTrainer(cfg, tmp_path / "e2", corpus / "train", corpus / "text", bad)
    other = tmp_path / "other"
    other.write_text("nobody a b\n")
    with pytest.raises(SpeechSSLError, match="no utterance.*usable label"):
        CTCTrainer(cfg, tmp_path / "e3", corpus / "train", corpus / "text", other)


def test_cli_trains_and_refuses_changed_config(corpus, tmp_path, capsys):
    exp = tmp_path / "exp"
    args = ["--config", str(TINY), "--feats", str(corpus / "train"), "--text-dir", str(corpus / "text"),
            "--labels", "gold", "--train-labels", str(corpus / "train/utt2phones"), "--valid-feats",
            str(corpus / "dev"), "--valid-ref", str(corpus / "dev/utt2phones"), "--max-updates", "20", str(exp)]
    assert train_ctc.main(args) == 0
    summary = json.loads((exp / "train_summary.json").read_text())
    assert summary["updates"] == 20 and summary["best_metric"] == "label_per"
    assert (exp / "checkpoint_last.pt").is_file() and (exp / "log/train.log").is_file()
    assert "labels: gold" in (exp / "config.yaml").read_text()
    assert train_ctc.main(args[:-1] + ["--set", "optim.lr=0.1", str(exp)]) == 1
    assert "another configuration" in capsys.readouterr().err
    no_labels = [a for a in args if a != "gold"]
    no_labels[no_labels.index("--labels")] = "--labels=pseudo"
    assert train_ctc.main(no_labels) == 1
    assert "--valid-labels" in capsys.readouterr().err
