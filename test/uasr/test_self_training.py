"""Self-training: logits export (GAN and CTC), pseudo-label tables, a noisy-label round, the rounds table."""
from __future__ import annotations

import json

import kaldiio
import numpy as np
import pytest

from speechssl.bin import export_logits, pseudo_label, train_ctc
from speechssl.data.scp import read_dict
from speechssl.text.lm import load_lm, train_ngram
from speechssl.trainers.uasr_gan import UASRGANTrainer, load_config as load_gan_config
from speechssl.uasr.data import FeatureSet
from speechssl.decoding import BeamConfig
from speechssl.uasr.pseudo_label import (compute_logprobs, decode_labels, load_uasr_model, match_insertion_bonus,
                                         read_phone_table, score_labels, update_rounds_table, write_label_table)
from speechssl.uasr.token_bias import fit_token_bias, read_token_bias, text_frequencies
from speechssl.utils.errors import SpeechSSLError
from ctc_corpus import PHONES, ROOT, TINY, make_corpus

GAN_TINY = ROOT / "egs/TEMPLATE/conf/uasr_tiny.yaml"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = make_corpus(tmp_path_factory.mktemp("st"), n_train=120)
    sentences = [v for v in read_phone_table(root / "train/utt2phones").values()]
    (root / "text/phones_sil.txt").write_text("".join(" ".join(s) + "\n" for s in sentences))
    train_ngram(root / "text/phones_sil.txt", root / "text/lm.phones.4", 4)
    return root


def _noisy(refs, rng, rate):
    """Replace a fraction ``rate`` of the non-silence phones by another random phone."""
    out = {}
    for utt, phones in refs.items():
        out[utt] = [p if p == "<SIL>" or rng.random() > rate else str(rng.choice([q for q in PHONES[:-1] if q != p]))
                    for p in phones]
    return out


def test_gan_checkpoint_exports_contract_logits(corpus, tmp_path):
    cfg = load_gan_config(GAN_TINY, ["trainer.max_updates=4", "trainer.save_interval=4", "trainer.valid_interval=4"])
    gan = UASRGANTrainer(cfg, tmp_path / "gan", corpus / "train", None, corpus / "text")
    gan.fit()
    out = tmp_path / "logits"
    assert export_logits.main([str(tmp_path / "gan/checkpoint_last.pt"), str(corpus / "dev"), str(out)]) == 0
    tokens = (out / "tokens.txt").read_text().split()
    assert tokens == gan.vocab.tokens  # no blank column for GAN outputs
    feats = FeatureSet(corpus / "dev")
    logits = dict(kaldiio.load_scp(str(out / "logits.scp")).items())
    assert sorted(logits) == sorted(feats.utts)
    batch = feats.collate(np.arange(len(feats)))
    greedy = dict(zip(feats.utts, gan.model.eval().greedy_ids(batch.feats, batch.padding_mask)))
    for i, utt in enumerate(feats.utts):
        mat = logits[utt]
        assert mat.shape == (feats.lengths[i], len(tokens))
        assert np.allclose(np.exp(mat).sum(axis=1), 1.0, atol=1e-4)  # log-probabilities
        best = mat.argmax(axis=1)
        assert [int(v) for k, v in enumerate(best) if k == 0 or v != best[k - 1]] == greedy[utt]
    # rerun with the same inputs: skipped; another checkpoint without --redo: refused
    assert export_logits.main([str(tmp_path / "gan/checkpoint_last.pt"), str(corpus / "dev"), str(out)]) == 0
    model = load_uasr_model(tmp_path / "gan/checkpoint_last.pt")
    assert model.kind == "gan" and model.blank == ""
    with pytest.raises(SpeechSSLError, match="12-dimensional features but .* trained on 7"):
        model.input_dim = 7
        list(compute_logprobs(model, feats))


def test_label_table_round_trip_and_rounds_table(tmp_path):
    labels = {"u2": ["a", "<SIL>", "b"], "u1": [], "u10": ["c"]}
    write_label_table(tmp_path / "utt2pseudo", labels)
    assert (tmp_path / "utt2pseudo").read_text() == "u1\nu10 c\nu2 a <SIL> b\n"  # C order, empty utterance kept
    assert read_phone_table(tmp_path / "utt2pseudo") == labels
    score = score_labels({"u2": ["a", "<SIL>", "c"], "u10": ["c"], "u1": ["a"]},
                         {"u2": ["a", "b", "<SIL>"], "u10": ["c", "c"], "u1": ["<SIL>"]}, tmp_path / "scoring")
    assert score["per"] == pytest.approx(100 * 2 / 4) and score["utterances"] == 2  # u1's reference is empty
    assert "%PER 50.00" in (tmp_path / "scoring/result.txt").read_text()
    update_rounds_table(tmp_path, {"round": "0-gan", "model": "gan", "checkpoint": "g.pt", "decoder": "greedy",
                                   "per": {"dev": 40.0}})
    update_rounds_table(tmp_path, {"round": "1-ctc", "model": "ctc", "checkpoint": "c.pt", "decoder": "greedy",
                                   "per": {"dev": 30.0, "test": 31.5}})
    rows = update_rounds_table(tmp_path, {"round": "0-gan", "model": "gan", "checkpoint": "g.pt",
                                          "decoder": "greedy", "per": {"dev": 39.0}})
    assert [r["round"] for r in rows] == ["0-gan", "1-ctc"] and rows[0]["per"]["dev"] == 39.0
    md = (tmp_path / "rounds.md").read_text().splitlines()
    assert md[2] == "| round | model | decoder | dev PER % | test PER % | checkpoint |"
    assert md[4] == "| 0-gan | gan | greedy | 39.00 | - | g.pt |"
    assert json.loads((tmp_path / "rounds.json").read_text()) == rows


def test_self_training_round_improves_on_noisy_labels(corpus, tmp_path, capsys, monkeypatch):
    """Round 0 labels are gold phones with 30% substitutions; one CTC round on them must beat them on dev.

    The CTC model is convolutional (local context cannot memorise the label noise) and selected by label_per.
    """
    rng = np.random.default_rng(3)
    st = tmp_path / "self_train"
    per0 = {}
    for name in ("train", "dev"):
        refs = read_phone_table(corpus / name / "utt2phones")
        write_label_table(st / "round0" / name / "utt2pseudo", _noisy(refs, rng, 0.3))
        per0[name] = score_labels(read_phone_table(st / "round0" / name / "utt2pseudo"), refs)["per"]
    update_rounds_table(st, {"round": "0-noisy", "model": "noisy gold", "checkpoint": "-", "decoder": "-",
                             "per": per0})
    assert 20 < per0["dev"] < 40
    exp = st / "ctc_round1"
    assert train_ctc.main(["--config", str(TINY), "--labels", "pseudo", "--feats", str(corpus / "train"),
                           "--text-dir", str(corpus / "text"), "--train-labels", str(st / "round0/train/utt2pseudo"),
                           "--valid-feats", str(corpus / "dev"), "--valid-labels", str(st / "round0/dev/utt2pseudo"),
                           "--valid-ref", str(corpus / "dev/utt2phones"), "--max-updates", "300",
                           "--set", "trainer.valid_interval=100", "--set", "model.lstm_layers=0",
                           "--set", "model.conv_layers=3", "--set", "model.conv_channels=64",
                           "--set", "optim.lr=0.01", "--set", "selection.metric=label_per", str(exp)]) == 0
    sets = ["--set", f"train={corpus / 'train'}", "--set", f"dev={corpus / 'dev'}",
            "--ref", f"dev={corpus / 'dev/utt2phones'}"]
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1"), *sets, "--decoder", "beam",
                              "--lm", str(corpus / "text/lm.phones.4.bin"), "--lm-weight", "0.5",
                              "--insertion-bonus", "2", "--round", "1-ctc"]) == 0
    # the table of the round: every training utterance, phones of the dictionary, nearly all labelled
    labels = read_phone_table(st / "round1/train/utt2pseudo")
    assert sorted(labels) == sorted(read_dict(corpus / "train/utt2phones"))
    assert {p for v in labels.values() for p in v} <= set(PHONES)
    assert sum(len(v) > 0 for v in labels.values()) > 0.9 * len(labels)
    tokens = (st / "round1/dev/logits/tokens.txt").read_text().split()
    assert tokens == PHONES + ["<blank>"]
    rows = json.loads((st / "rounds.json").read_text())
    assert [r["round"] for r in rows] == ["0-noisy", "1-ctc"]
    assert rows[1]["model"] == "ctc" and rows[1]["decoder"].startswith("beam 10 (lm.phones.4.bin")
    assert rows[1]["per"]["dev"] < per0["dev"] - 5, rows
    assert "| 1-ctc | ctc |" in (st / "rounds.md").read_text()
    assert (st / "round1/dev/scoring/result.pra").is_file()
    # same command again: labelling is skipped, the row is rewritten identically
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1"), *sets, "--decoder", "beam",
                              "--lm", str(corpus / "text/lm.phones.4.bin"), "--lm-weight", "0.5",
                              "--insertion-bonus", "2", "--round", "1-ctc"]) == 0
    assert json.loads((st / "rounds.json").read_text()) == rows
    # other decoding options without --redo: refused with a clear message
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1"), *sets]) == 1
    assert "--redo true" in capsys.readouterr().err

    # --match-length: the bonus of the grid whose dev output is closest in length to the round-0 dev labels
    lm_args = ["--decoder", "beam", "--lm", str(corpus / "text/lm.phones.4.bin"), "--lm-weight", "0.5"]
    matched = ["--match-length", f"dev={st / 'round0/dev/utt2pseudo'}", "--bonus-grid", "0,2,8"]
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1m"), *sets, *lm_args, *matched,
                              "--round", "1-ctc-matched"]) == 0
    model = load_uasr_model(exp / "checkpoint_best.pt")
    tokens = model.output_tokens()
    lm = load_lm(corpus / "text/lm.phones.4.bin", [t for t, e in zip(tokens.symbols, tokens.emittable) if e])
    logprobs = dict(compute_logprobs(model, FeatureSet(corpus / "dev")))
    target = read_phone_table(st / "round0/dev/utt2pseudo")
    bonus, counts = match_insertion_bonus(logprobs, tokens, lm, BeamConfig(lm_weight=0.5), target, [0, 2, 8])
    # the batches decoded by two processes: the same labels
    assert len(logprobs) > 4
    assert (decode_labels(logprobs, tokens, "beam", lm, BeamConfig(lm_weight=0.5), batch_size=4, nj=2)
            == decode_labels(logprobs, tokens, "beam", lm, BeamConfig(lm_weight=0.5), batch_size=4))
    want = sum(p != "<SIL>" for v in target.values() for p in v)
    assert all(abs(counts[bonus] - want) <= abs(c - want) for c in counts.values()) and len(set(counts.values())) > 1
    written = read_phone_table(st / "round1m/dev/utt2pseudo")
    assert sum(p != "<SIL>" for v in written.values() for p in v) == counts[bonus]
    row = json.loads((st / "rounds.json").read_text())[-1]
    assert row["decoder"] == f"beam 10 (lm.phones.4.bin, weight 0.5, bonus {bonus:g} matched to round0/dev)"
    # the same matched command again: no forward pass and no bonus search, the recorded bonus in the row
    rows = json.loads((st / "rounds.json").read_text())

    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished pseudo-labelling ran again")
    monkeypatch.setattr(pseudo_label, "compute_logprobs", must_not_run)
    monkeypatch.setattr(pseudo_label, "match_insertion_bonus", must_not_run)
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1m"), *sets, *lm_args, *matched,
                              "--round", "1-ctc-matched"]) == 0
    assert json.loads((st / "rounds.json").read_text()) == rows
    monkeypatch.undo()
    # a run killed after the train set: the bonus is matched again and must agree with the one train was made with
    (st / "round1m/dev/utt2pseudo").unlink()
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1m"), *sets, *lm_args, *matched,
                              "--round", "1-ctc-matched"]) == 0
    assert read_phone_table(st / "round1m/dev/utt2pseudo") == written
    assert json.loads((st / "rounds.json").read_text()) == rows
    train_marker = st / "round1m/train/.done.pseudo_label.json"
    record = json.loads(train_marker.read_text())
    record["summary"]["insertion_bonus"] = 99.0
    train_marker.write_text(json.dumps(record))
    (st / "round1m/dev/utt2pseudo").unlink()
    capsys.readouterr()
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1m"), *sets, *lm_args, *matched]) == 1
    assert "labelled with another insertion bonus" in capsys.readouterr().err
    # other labels to match: the recorded outputs are refused, not silently kept
    other = tmp_path / "other_utt2pseudo"
    write_label_table(other, {u: v[:1] for u, v in target.items()})
    capsys.readouterr()
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1m"), *sets, *lm_args,
                              "--match-length", f"dev={other}", "--bonus-grid", "0,2,8"]) == 1
    assert "--redo true" in capsys.readouterr().err
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1g"), *sets, *matched]) == 1
    assert "--decoder beam" in capsys.readouterr().err
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1x"), *sets, *lm_args,
                              "--match-length", f"test={st / 'round0/dev/utt2pseudo'}"]) == 1
    assert "no --set of that name" in capsys.readouterr().err

    # --match-unigram: output biases fitted on train's greedy output towards the text's phone counts (here the
    # train references'), written to token_bias.txt and used for every set
    refs = read_phone_table(corpus / "train/utt2phones")
    counts = {p: 1 + sum(v.count(p) for v in refs.values()) for p in PHONES if p != "<SIL>"}
    (tmp_path / "dict.phn.txt").write_text("".join(f"{p} {n}\n" for p, n in counts.items()))
    unigram = ["--match-unigram", f"train={tmp_path / 'dict.phn.txt'}"]
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1u"), *sets, *lm_args, *matched,
                              *unigram, "--round", "1-ctc-unigram"]) == 0
    bias = read_token_bias(st / "round1u/token_bias.txt", tokens.symbols)
    want = fit_token_bias(dict(compute_logprobs(model, FeatureSet(corpus / "train"))), tokens,
                          text_frequencies(tmp_path / "dict.phn.txt", tokens))
    np.testing.assert_allclose(bias, want, atol=1e-6)
    assert bias[-1] == bias[-2] == 0 and len(set(bias.tolist())) > 2       # the blank and <SIL> keep 0
    assert read_phone_table(st / "round1u/train/utt2pseudo") != read_phone_table(st / "round1m/train/utt2pseudo")
    row = json.loads((st / "rounds.json").read_text())[-1]
    assert row["decoder"].endswith(", phone biases matched to the text on train)")
    capsys.readouterr()
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1u"), *sets, *lm_args, *matched,
                              *unigram, "--unigram-step", "1"]) == 1          # other options: refused
    assert "--redo true" in capsys.readouterr().err
    assert pseudo_label.main([str(exp / "checkpoint_best.pt"), str(st / "round1y"), *sets, *lm_args,
                              "--match-unigram", f"test={tmp_path / 'dict.phn.txt'}"]) == 1
    assert "no --set of that name" in capsys.readouterr().err
