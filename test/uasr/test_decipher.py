"""Unsupervised segmentation and trigram-HMM decipherment (speechssl.uasr.segmentation, .decipher,
speechssl.bin.decipher_units)."""
from __future__ import annotations

import dataclasses
import itertools
import json
import math
import shutil
from pathlib import Path

import kaldiio
import numpy as np
import pytest
import torch

from speechssl.audio.features import speaker_cmvn
from speechssl.bin import decipher_units
from speechssl.data.scp import read_dict
from speechssl.uasr.decipher import DecipherConfig, EMState, JointState, TrigramHMM, UnitInventory, decipher_em, \
    expand_emissions, joint_em, phone_trigram, total_em_iterations
from speechssl.uasr.segmentation import SegmentationConfig, boundary_scores, read_bounds, rescale_bounds, \
    segment_thirds, spectral_boundaries
from speechssl.utils.errors import SpeechSSLError

pytestmark = pytest.mark.usefixtures("one_thread")

PHONES = ["a", "b", "c", "d", "e", "<SIL>"]
# a sparse phone grammar: each phone has two likely successors, so the text pins down which phone is which
GRAMMAR = np.array([[0.0, 0.7, 0.0, 0.3, 0.0, 0.0],
                    [0.0, 0.0, 0.8, 0.0, 0.0, 0.2],
                    [0.5, 0.0, 0.0, 0.0, 0.5, 0.0],
                    [0.0, 0.6, 0.0, 0.0, 0.4, 0.0],
                    [0.9, 0.0, 0.0, 0.0, 0.0, 0.1],
                    [0.6, 0.0, 0.0, 0.4, 0.0, 0.0]])


def sample_sentences(rng: np.random.Generator, n: int, length: tuple[int, int] = (6, 14)) -> list[list[int]]:
    out = []
    for _ in range(n):
        s = [int(rng.choice(len(PHONES), p=GRAMMAR[-1]))]
        for _ in range(int(rng.integers(*length)) - 1):
            s.append(int(rng.choice(len(PHONES), p=GRAMMAR[s[-1]])))
        out.append(s)
    return out


def steps(rng: np.random.Generator, n_segments: int, dim: int = 13, noise: float = 0.05):
    """Piecewise-constant features: segments of 5-11 frames with random means; returns feats and boundaries."""
    lengths = rng.integers(5, 12, size=n_segments)
    means = rng.normal(size=(n_segments, dim)) * 2
    feats = np.repeat(means, lengths, axis=0) + noise * rng.normal(size=(lengths.sum(), dim))
    return feats.astype(np.float32), np.concatenate([[0], np.cumsum(lengths)])


def test_spectral_boundaries_find_the_steps():
    rng = np.random.default_rng(0)
    hyp, ref = [], []
    for _ in range(20):
        feats, gold = steps(rng, 12)
        b = spectral_boundaries(feats, SegmentationConfig(shift=0, prominence=0.5))
        assert b[0] == 0 and b[-1] == len(feats) and np.all(np.diff(b) >= 3)
        hyp.append(list(b[1:-1]))
        ref.append(list(gold[1:-1]))
    scores = boundary_scores(hyp, ref, tolerance=1)
    assert scores["precision"] > 0.9 and scores["recall"] > 0.9, scores
    with pytest.raises(SpeechSSLError, match="empty"):
        spectral_boundaries(np.zeros((0, 13)), SegmentationConfig())


def test_shift_moves_every_inner_boundary():
    feats, _ = steps(np.random.default_rng(1), 8)
    b0 = spectral_boundaries(feats, SegmentationConfig(shift=0))
    b1 = spectral_boundaries(feats, SegmentationConfig(shift=1))
    assert list(b1[1:-1]) == [t + 1 for t in b0[1:-1]]


def test_segment_thirds_and_boundary_scores():
    feats = np.arange(12, dtype=np.float32).reshape(6, 2)      # rows [0,1], [2,3], ..., [10,11]
    out = segment_thirds(feats, np.array([0, 6]))
    assert out.shape == (1, 6)
    np.testing.assert_allclose(out[0], [1, 2, 5, 6, 9, 10])     # means of rows 0-1, 2-3, 4-5
    one = segment_thirds(feats, np.array([0, 1, 6]))
    np.testing.assert_allclose(one[0], [0, 1, 0, 1, 0, 1])      # a one-frame segment repeats its frame
    s = boundary_scores([[5, 10, 20]], [[4, 11, 30, 40]], tolerance=1)
    assert (s["precision"], s["recall"]) == (2 / 3, 0.5)
    assert math.isclose(s["f1"], 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    perfect = boundary_scores([[3, 7]], [[3, 7]])
    assert perfect["r_value"] == 1.0 and perfect["f1"] == 1.0


def test_trigram_rows_are_distributions():
    p = phone_trigram([[0, 1, 2], [2, 1]], 3)
    assert p.shape == (4, 4, 4)
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-9)
    assert p[3, 3, 0] > p[3, 3, 1]                               # sentences start with 0 or 2, never 1
    with pytest.raises(SpeechSSLError, match="no sentences"):
        phone_trigram([], 3)


def _brute_force(trigram, emis, units, stay):
    """Sum over every phone sequence and stay decision, straight from the model's definition."""
    v, bnd = trigram.shape[0] - 1, trigram.shape[0] - 1
    total, post = 0.0, np.zeros((len(units), v))
    for phones in itertools.product(range(v), repeat=len(units)):
        for stays in itertools.product((False, True), repeat=len(units) - 1):
            if any(s and phones[t + 1] != phones[t] for t, s in enumerate(stays)):
                continue
            hist, p = (bnd, bnd), 1.0
            for t, (y, u) in enumerate(zip(phones, units)):
                if t and stays[t - 1]:
                    p *= stay
                else:
                    p *= (1 - stay if t else 1.0) * trigram[hist[0], hist[1], y]
                    hist = (hist[1], y)
                p *= emis[y, u]
            p *= trigram[hist[0], hist[1], bnd]
            total += p
            post[np.arange(len(units)), phones] += p
    return math.log(total), post / total


@pytest.mark.parametrize("stay", [0.0, 0.3])
def test_forward_backward_matches_enumeration(stay):
    rng = np.random.default_rng(2)
    trigram = phone_trigram([list(rng.integers(0, 3, size=5)) for _ in range(10)], 3)
    emis = rng.random((3, 4)) + 0.1
    emis /= emis.sum(1, keepdims=True)
    hmm = TrigramHMM(trigram, stay)
    batch = [np.array([0, 3, 1, 1]), np.array([2, 0]), np.array([1, 2, 3])]  # batched by length, returned in order
    ll, post = hmm.posteriors(torch.tensor(emis, dtype=torch.float32), batch, batch_size=2)
    want = [_brute_force(trigram, emis, u, stay) for u in batch]
    assert math.isclose(ll, sum(w[0] for w in want), rel_tol=1e-4)
    for got, (_, p) in zip(post, want):
        np.testing.assert_allclose(got.numpy(), p, atol=1e-4)
    # other batch shapes through the buffers the HMM keeps from call to call: the same numbers
    ll_again, post_again = hmm.posteriors(torch.tensor(emis, dtype=torch.float32), batch[::-1], batch_size=1)
    assert math.isclose(ll_again, ll, rel_tol=1e-5)
    for got, p in zip(post_again[::-1], post):
        np.testing.assert_allclose(got.numpy(), p.numpy(), atol=1e-5)


def _cipher(rng: np.random.Generator, per_phone: int, n: int = 400, noise: float = 0.1):
    """Units as a hidden many-to-one code of the phones (``per_phone`` units each, ``noise`` of them random)."""
    k = per_phone * len(PHONES)
    truth = sample_sentences(rng, n)
    units = []
    for s in truth:
        u = per_phone * np.array(s) + rng.integers(0, per_phone, size=len(s))
        wrong = rng.random(len(s)) < noise
        u[wrong] = rng.integers(0, k, size=wrong.sum())
        units.append(u)
    return truth, units


def _accuracy(hmm: TrigramHMM, emis: torch.Tensor, units, truth) -> float:
    post = hmm.posteriors(emis, units, 64)[1]
    return float(np.mean(np.concatenate([p.argmax(1).numpy() == np.array(s) for p, s in zip(post, truth)])))


def test_em_deciphers_a_noisy_substitution_cipher():
    """Two units per phone, 10 % noise: EM with the text's trigram recovers the key from unpaired data, the
    likelihood never falls, and a run resumed from its state ends where the uninterrupted run did."""
    rng = np.random.default_rng(3)
    text = sample_sentences(rng, 3000)
    truth, units = _cipher(rng, 2)
    hmm = TrigramHMM(phone_trigram(text, len(PHONES)), stay=0.0)
    cfg = DecipherConfig(n_units=2 * len(PHONES), coarse_units=0, em_iters=25, seed=1)
    lls, states = [], {}

    def record(st, stage, ll):
        lls.append(ll)
        states[st.step] = EMState(**dataclasses.asdict(st))

    emis = decipher_em(hmm, units, cfg, None, on_iter=record)
    assert all(b >= a - 1e-3 * abs(a) for a, b in zip(lls, lls[1:])), lls
    assert _accuracy(hmm, emis, units, truth) > 0.93
    torch.testing.assert_close(decipher_em(hmm, units, cfg, None, state=states[10]), emis)


def test_coarse_to_fine_em_picks_the_best_start_and_resumes():
    """Four units per phone pooled into two coarse units per phone: the coarse starts, the expansion and the
    fine EM recover the key; the best start is the one of highest final likelihood; a run resumed in the
    middle of the second start ends exactly where the uninterrupted run did."""
    rng = np.random.default_rng(6)
    text = sample_sentences(rng, 3000)
    truth, units = _cipher(rng, 4)
    parent = np.arange(4 * len(PHONES)) // 2
    hmm = TrigramHMM(phone_trigram(text, len(PHONES)), stay=0.0)
    cfg = DecipherConfig(n_units=4 * len(PHONES), coarse_units=2 * len(PHONES), coarse_iters=6, restarts=3,
                         em_iters=8, seed=2)
    stages, states = [], {}

    def record(st, stage, ll):
        stages.append(stage)
        states[st.step] = EMState(**dataclasses.asdict(st))

    emis = decipher_em(hmm, units, cfg, parent, on_iter=record)
    assert stages == [f"coarse {r}/3" for r in (1, 2, 3) for _ in range(6)] + ["fine"] * 8
    final = states[18]
    assert len(final.logliks) == 3 and final.best_loglik == max(final.logliks)
    best = int(np.argmax(final.logliks))                        # the start whose emissions the fine stage expands
    torch.testing.assert_close(final.best_emis, states[6 * (best + 1)].emis)
    assert _accuracy(hmm, emis, units, truth) > 0.9
    torch.testing.assert_close(decipher_em(hmm, units, cfg, parent, state=states[9]), emis)


def test_refine_stage_expands_the_fine_solution_and_resumes():
    """Four cipher units per phone, seen first as two fine units per phone (pairs pooled): EM over the fine units,
    then the refine stage over the four; the result is P(refine unit | phone), it recovers the key, and runs
    resumed at the switch to the refine stage or inside it end exactly where the uninterrupted run did."""
    rng = np.random.default_rng(8)
    text = sample_sentences(rng, 3000)
    truth, refined = _cipher(rng, 4)
    refine_parent = np.arange(4 * len(PHONES)) // 2
    units = [refine_parent[u] for u in refined]
    hmm = TrigramHMM(phone_trigram(text, len(PHONES)), stay=0.0)
    cfg = DecipherConfig(n_units=2 * len(PHONES), coarse_units=0, em_iters=10, refine_units=4 * len(PHONES),
                         refine_iters=6, seed=1)
    assert total_em_iterations(cfg, False) == 16
    stages, states = [], {}

    def record(st, stage, ll):
        stages.append(stage)
        states[st.step] = EMState(**dataclasses.asdict(st))

    emis = decipher_em(hmm, units, cfg, None, on_iter=record, refined=refined, refine_parent=refine_parent)
    assert stages == ["fine"] * 10 + ["refine"] * 6 and emis.shape == (len(PHONES), 4 * len(PHONES))
    assert _accuracy(hmm, emis, refined, truth) > 0.9
    for step in (10, 13):
        resumed = decipher_em(hmm, units, cfg, None, state=states[step], refined=refined, refine_parent=refine_parent)
        torch.testing.assert_close(resumed, emis)
    with pytest.raises(SpeechSSLError, match="refine stage needs the refine units"):
        decipher_em(hmm, units, cfg, None)
    with pytest.raises(SpeechSSLError, match="refine_iters >= 1"):
        dataclasses.replace(cfg, refine_iters=0).check()


def test_joint_em_over_two_unit_streams_beats_either_stream():
    """The same phone sequences coded twice (two units per phone, 35 % noise each, independently): EM on each stream
    alone, then joint EM over both from those solutions; the joint labels are better than either stream's, the
    joint likelihood never falls, and one stream's joint posteriors are its plain posteriors."""
    rng = np.random.default_rng(9)
    text = sample_sentences(rng, 3000)
    truth, first = _cipher(rng, 2, noise=0.35)
    second = []
    for s in truth:
        u = 2 * np.array(s) + rng.integers(0, 2, size=len(s))
        wrong = rng.random(len(s)) < 0.35
        u[wrong] = rng.integers(0, 2 * len(PHONES), size=wrong.sum())
        second.append(u)
    hmm = TrigramHMM(phone_trigram(text, len(PHONES)), stay=0.0)
    cfg = DecipherConfig(n_units=2 * len(PHONES), coarse_units=0, em_iters=20, joint_iters=6, seed=1)
    alone = [decipher_em(hmm, first, cfg, None), decipher_em(hmm, second, cfg, None)]
    acc = [_accuracy(hmm, alone[0], first, truth), _accuracy(hmm, alone[1], second, truth)]
    lls = []
    emissions = joint_em(hmm, [first, second], cfg, JointState(emissions=list(alone)),
                         on_iter=lambda st: lls.append(st.loglik))
    assert len(lls) == 6 and all(b >= a - 1e-4 * abs(a) for a, b in zip(lls, lls[1:])), lls
    post = hmm.joint_posteriors(emissions, [first, second], 64)[1]
    joint = float(np.mean(np.concatenate([p.argmax(1).numpy() == np.array(s) for p, s in zip(post, truth)])))
    assert joint > max(acc) + 0.02, (joint, acc)
    ll, single = hmm.joint_posteriors([alone[0]], [first], 64)
    assert ll == hmm.posteriors(alone[0], first, 64)[0]
    torch.testing.assert_close(single[3], hmm.posteriors(alone[0], first, 64)[1][3])
    with pytest.raises(SpeechSSLError, match="differ in the number of segments"):
        hmm.joint_posteriors(alone, [first, [u[:-1] for u in second]], 64)


def test_expand_emissions_shares_a_coarse_unit_by_counts():
    coarse = torch.tensor([[0.75, 0.25], [0.5, 0.5]])
    fine = expand_emissions(coarse, np.array([0, 0, 1]), np.array([2, 0, 7]))   # counts + 1: 3 and 1 share unit 0
    torch.testing.assert_close(fine, torch.tensor([[0.5625, 0.1875, 0.25], [0.375, 0.125, 0.5]]))


def test_unit_inventory_is_seeded_and_checks_its_size():
    x = np.random.default_rng(4).normal(size=(500, 9)).astype(np.float32)
    cfg = DecipherConfig(n_units=8, pca_dim=4, kmeans_iters=5, seed=7)
    a, b = UnitInventory.fit(x, cfg), UnitInventory.fit(x, cfg)
    np.testing.assert_array_equal(a.assign(x), b.assign(x))
    assert a.project(x).shape == (500, 4) and set(a.assign(x)) <= set(range(8))
    assert a.parent is None and "coarse_parent" not in a.state_dict()     # coarse_units 64 >= n_units 8
    with pytest.raises(SpeechSSLError, match="lower n_units"):
        UnitInventory.fit(x[:5], cfg)
    c = UnitInventory.fit(x, dataclasses.replace(cfg, coarse_units=3))
    assert c.parent.shape == (8,) and set(c.parent) <= {0, 1, 2}
    np.testing.assert_array_equal(c.state_dict()["coarse_parent"], c.parent)
    with pytest.raises(SpeechSSLError, match="coarse stage needs"):
        dataclasses.replace(cfg, coarse_units=3, restarts=0).check()
    r = UnitInventory.fit(x, dataclasses.replace(cfg, refine_units=20))
    assert r.refine_parent.shape == (20,) and set(r.refine_parent) <= set(range(8))
    assert set(r.assign_refined(x)) <= set(range(20)) and r.state_dict()["refine_centroids"].shape == (20, 4)
    np.testing.assert_array_equal(r.assign(x), a.assign(x))                 # the units themselves are unchanged
    with pytest.raises(SpeechSSLError, match="no refine units"):
        a.assign_refined(x)


# ---- the stage program on feature directories ----

def _write_set(d: Path, rng, sentences, means) -> None:
    d.mkdir(parents=True)
    refs, frames = {}, {}
    with kaldiio.WriteHelper(f"ark,scp:{d / 'feats.ark'},{d / 'feats.scp'}") as w:
        for i, s in enumerate(sentences):
            utt = f"{d.name}{i:03d}"
            ids = np.repeat(s, rng.integers(5, 10, size=len(s)))
            w(utt, (means[ids] + 0.2 * rng.normal(size=(len(ids), means.shape[1]))).astype(np.float32))
            refs[utt], frames[utt] = " ".join(PHONES[p] for p in s), len(ids)
    (d / "utt2num_frames").write_text("".join(f"{u} {n}\n" for u, n in frames.items()))
    (d / "utt2phones").write_text("".join(f"{u} {r}\n" for u, r in refs.items()))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("decipher")
    rng = np.random.default_rng(5)
    means = 3 * rng.normal(size=(len(PHONES), 13))
    (root / "text").mkdir()
    (root / "text/dict.phn.txt").write_text("".join(f"{p} 1\n" for p in PHONES))
    (root / "text/phones_sil.txt").write_text(
        "".join(" ".join(PHONES[p] for p in s) + "\n" for s in sample_sentences(rng, 2000)))
    _write_set(root / "train", rng, sample_sentences(rng, 150), means)
    _write_set(root / "dev", rng, sample_sentences(rng, 20), means)
    return root


def _args(corpus: Path, out: Path, *extra: str) -> list[str]:
    return [str(out), "--text-dir", str(corpus / "text"), "--train", f"train={corpus / 'train'}",
            "--set", f"dev={corpus / 'dev'}", "--ref", f"dev={corpus / 'dev/utt2phones'}",
            "--n-units", "24", "--pca-dim", "16", "--em-iters", "15",
            "--coarse-units", "12", "--coarse-iters", "4", "--restarts", "2", "--stay", "0.1",
            "--round", "0-decipher", *extra]


def test_decipher_units_labels_every_set_and_is_resumable(corpus, tmp_path, monkeypatch, capsys):
    out = tmp_path / "dec" / "round0"
    assert decipher_units.main(_args(corpus, out)) == 0
    vocab = set(PHONES)
    for name in ("train", "dev"):
        labels = read_dict(out / name / "utt2pseudo", allow_empty_value=True)
        assert set(labels) == set(read_dict(corpus / name / "feats.scp"))
        assert all(set(v.split()) <= vocab for v in labels.values())
        bounds = read_dict(out / name / "utt2bounds")
        frames = read_dict(corpus / name / "utt2num_frames")
        assert all(b.split()[0] == "0" and b.split()[-1] == frames[u] for u, b in bounds.items())
    rows = json.loads((tmp_path / "dec" / "rounds.json").read_text())
    assert rows[0]["round"] == "0-decipher" and rows[0]["model"] == "decipher"
    # well-separated phones and a sparse grammar: decipherment must get most of them right
    assert rows[0]["per"]["dev"] < 10, rows[0]["per"]
    assert (out / "runs" / "seed1" / "curves.png").stat().st_size > 0
    model = np.load(out / "model.npz")
    assert list(model["seeds"]) == [1] and model["seed1.emissions"].shape == (len(PHONES), 24)
    np.testing.assert_allclose(model["seed1.emissions"].sum(1), 1.0, rtol=1e-5)

    # a rerun with the same options skips; another configuration is refused without --redo
    before = (out / "train" / "utt2pseudo").stat().st_mtime_ns
    assert decipher_units.main(_args(corpus, out)) == 0
    assert (out / "train" / "utt2pseudo").stat().st_mtime_ns == before
    assert decipher_units.main(_args(corpus, out, "--stay", "0.2")) == 1
    assert "--redo true" in capsys.readouterr().err

    # a run killed after EM iteration 6 (coarse start 2 of 2) resumes there and ends as the uninterrupted run did
    killed = tmp_path / "killed"
    real_log = decipher_units.CurveLogger.log

    def dies_at_7(self, split, update, values):
        if update == 7:
            raise KeyboardInterrupt
        real_log(self, split, update, values)

    monkeypatch.setattr(decipher_units.CurveLogger, "log", dies_at_7)
    assert decipher_units.main(_args(corpus, killed)) == 130
    state = torch.load(killed / "runs/seed1/em_state.pt", weights_only=True)["state"]
    assert state["step"] == 6   # in the second coarse start
    monkeypatch.setattr(decipher_units.CurveLogger, "log", real_log)
    assert decipher_units.main(_args(corpus, killed)) == 0
    np.testing.assert_array_equal(np.load(killed / "model.npz")["seed1.emissions"], model["seed1.emissions"])
    assert "resuming EM after iteration 6" in (killed / "log" / "decipher.log").read_text()


def test_decipher_units_refine_stage_labels_with_the_finer_units(corpus, tmp_path):
    out = tmp_path / "refined"
    assert decipher_units.main(_args(corpus, out, "--refine-units", "48", "--refine-iters", "4")) == 0
    model = np.load(out / "model.npz")
    assert model["seed1.emissions"].shape == (len(PHONES), 48) and model["seed1.refine_parent"].shape == (48,)
    assert model["seed1.refine_centroids"].shape == (48, 16) and set(model["seed1.refine_parent"]) <= set(range(24))
    rows = json.loads((tmp_path / "rounds.json").read_text())
    assert rows[0]["per"]["dev"] < 10, rows[0]["per"]
    log = (out / "log" / "decipher.log").read_text()
    assert "(refine)" in log and "EM iteration 27 (refine)" in log   # 2 x 4 coarse + 15 fine + 4 refine


def test_decipher_units_phone_biases_give_the_labels_the_texts_frequencies(corpus, tmp_path):
    """The same EM, labelled with biases towards a text in which 'e' is ten times as frequent: more 'e' labels."""
    assert decipher_units.main(_args(corpus, tmp_path / "plain")) == 0
    text = tmp_path / "text"
    shutil.copytree(corpus / "text", text)
    (text / "dict.phn.txt").write_text("".join(f"{p} {10 if p == 'e' else 1}\n" for p in PHONES))
    biased = tmp_path / "biased"
    args = _args(corpus, biased, "--unigram-iters", "6")
    assert decipher_units.main(args[:1] + ["--text-dir", str(text)] + args[3:]) == 0
    np.testing.assert_array_equal(np.load(biased / "model.npz")["seed1.emissions"],
                                  np.load(tmp_path / "plain" / "model.npz")["seed1.emissions"])

    def count(out, phone):
        return sum(v.split().count(phone) for v in read_dict(out / "train" / "utt2pseudo", allow_empty_value=True)
                   .values())

    assert count(biased, "e") > count(tmp_path / "plain", "e")   # sharp posteriors here: only a few segments move
    bias = {p: float(b) for p, b in (line.split() for line in (biased / "token_bias.txt").read_text().splitlines())}
    assert list(bias) == PHONES and bias["<SIL>"] == 0.0 and bias["e"] == max(bias.values()) > 0
    assert not (tmp_path / "plain" / "token_bias.txt").exists()
    rows = json.loads((tmp_path / "rounds.json").read_text())
    assert rows[0]["decoder"].endswith("units, phone biases matched to the text on train)")
    assert decipher_units.main(_args(corpus, tmp_path / "bad", "--unigram-iters", "-1")) == 1


def test_decipher_units_joins_runs_and_resumes(corpus, tmp_path, monkeypatch):
    """--runs 3: every run (its own units and starts) ends exactly where a single run of its seed does, its labels
    and PER are kept, the joint EM runs --joint-iters iterations over the three unit streams; the same in two
    worker processes; a run killed inside a run or inside the joint EM resumes there."""
    runs = ("--runs", "3", "--joint-iters", "3", "--seed", "4")
    out = tmp_path / "runs"
    assert decipher_units.main(_args(corpus, out, *runs)) == 0
    summary = json.loads((out / ".done.decipher.json").read_text())["summary"]["runs"]
    assert [r["seed"] for r in summary] == [4, 5, 6]
    model = np.load(out / "model.npz")
    assert list(model["seeds"]) == [4, 5, 6]
    for seed in (4, 5, 6):
        assert model[f"seed{seed}.emissions"].shape == (len(PHONES), 24)
        assert model[f"seed{seed}.centroids"].shape == (24, 16)
        assert (out / "runs" / f"seed{seed}" / "em_state.pt").is_file()
    row = json.loads((tmp_path / "rounds.json").read_text())[0]
    assert "3 runs joined" in row["decoder"] and row["per"]["dev"] < 10, row
    table = (out / "runs.md").read_text()
    assert "| seed 5 alone |" in table and "| yes |" in table and "| the 3 runs joined |" in table
    text = (out / "log" / "decipher.log").read_text()
    assert "joint EM iteration 3" in text and "joint EM iteration 4" not in text
    single = tmp_path / "single" / "round0"
    assert decipher_units.main(_args(corpus, single, "--seed", "5")) == 0
    assert (read_dict(single / "dev" / "utt2pseudo", allow_empty_value=True)
            == read_dict(out / "runs" / "seed5" / "dev" / "utt2pseudo", allow_empty_value=True))
    threads = torch.get_num_threads()
    try:
        assert decipher_units.main(_args(corpus, tmp_path / "workers" / "round0", *runs, "--num-threads", "2")) == 0
    finally:
        torch.set_num_threads(threads)
    pooled = np.load(tmp_path / "workers/round0/model.npz")
    for seed in (4, 5, 6):
        np.testing.assert_allclose(pooled[f"seed{seed}.emissions"], model[f"seed{seed}.emissions"], rtol=1e-5,
                                   atol=1e-7)

    killed = tmp_path / "killed"
    real_log = decipher_units.CurveLogger.log
    calls = []

    def dies(when):
        def log(self, split, update, values):
            calls.append(update)
            if when(len(calls), values):
                raise KeyboardInterrupt
            real_log(self, split, update, values)
        return log

    # run 1: 2 x 4 coarse + 15 fine iterations (23); die in the 7th iteration of run 2, then in joint iteration 2
    monkeypatch.setattr(decipher_units.CurveLogger, "log", dies(lambda n, v: n == 30))
    assert decipher_units.main(_args(corpus, killed, *runs)) == 130
    monkeypatch.setattr(decipher_units.CurveLogger, "log", dies(lambda n, v: "joint_loglik_per_unit" in v and
                                                                calls[-1] == 2))
    assert decipher_units.main(_args(corpus, killed, *runs)) == 130
    monkeypatch.setattr(decipher_units.CurveLogger, "log", real_log)
    assert decipher_units.main(_args(corpus, killed, *runs)) == 0
    resumed = np.load(killed / "model.npz")
    for seed in (4, 5, 6):
        np.testing.assert_array_equal(resumed[f"seed{seed}.emissions"], model[f"seed{seed}.emissions"])
    text = (killed / "log" / "decipher.log").read_text()
    assert "resuming EM after iteration 6" in text and "resuming EM after iteration 1 " in text
    with pytest.raises(SpeechSSLError, match="joint_iters >= 0"):
        DecipherConfig(runs=2, joint_iters=-1).check()


def test_decipher_units_joins_only_the_most_likely_runs(corpus, tmp_path):
    """--keep 2 of --runs 3: the run of lowest final log-likelihood is labelled and scored alone but left out of
    the joint EM and the model; the runs table and the rounds table say so."""
    out = tmp_path / "keep"
    assert decipher_units.main(_args(corpus, out, "--runs", "3", "--keep", "2", "--joint-iters", "2",
                                     "--seed", "7", "--em-iters", "3", "--restarts", "1")) == 0
    runs = json.loads((out / ".done.decipher.json").read_text())["summary"]["runs"]
    worst = min(runs, key=lambda r: r["loglik_per_unit"])
    assert [r["joined"] for r in runs] == [r is not worst for r in runs]
    assert sorted(np.load(out / "model.npz")["seeds"]) == sorted(r["seed"] for r in runs if r is not worst)
    assert (out / "runs" / f"seed{worst['seed']}" / "dev" / "utt2pseudo").is_file()
    table = (out / "runs.md").read_text()
    assert f"| seed {worst['seed']} alone | {worst['loglik_per_unit']:.4f} | no |" in table
    assert "| the 2 runs joined |" in table
    assert "leaving out seeds " + str(worst["seed"]) in (out / "log" / "decipher.log").read_text()
    row = json.loads((tmp_path / "rounds.json").read_text())[0]
    assert "the 2 most likely of 3 runs joined" in row["decoder"], row

    # --keep 1 is another configuration: refused alone; with --redo the three finished runs are reused, not rerun
    keep1 = _args(corpus, out, "--runs", "3", "--keep", "1", "--joint-iters", "2", "--seed", "7", "--em-iters", "3",
                  "--restarts", "1")
    assert decipher_units.main(keep1) == 1
    log_file = out / "log" / "decipher.log"
    before = log_file.read_text()
    assert decipher_units.main(keep1 + ["--redo", "true"]) == 0
    redo_log = log_file.read_text()[len(before):]
    assert redo_log.count("resuming EM after iteration 7 ") == 3, redo_log   # 4 coarse + 3 fine: all done
    assert "EM iteration" not in redo_log.replace("joint EM iteration", "")
    best = max(runs, key=lambda r: r["loglik_per_unit"])
    assert list(np.load(out / "model.npz")["seeds"]) == [best["seed"]]
    assert json.loads((out / ".done.decipher.json").read_text())["summary"]["runs"] == [
        {**r, "joined": r is best} for r in runs]
    # an EM option changes every run: no state is reused (the three runs' and the joint EM's)
    assert decipher_units.main(keep1 + ["--redo", "true", "--stay", "0.2"]) == 0
    redo_log = log_file.read_text()[len(before) + len(redo_log):]
    assert redo_log.count("belongs to another configuration") == 4 and "resuming EM" not in redo_log
    with pytest.raises(SpeechSSLError, match="keep in"):
        DecipherConfig(runs=2, keep=3).check()


def test_most_likely_keeps_run_order_and_breaks_ties_by_seed():
    runs = [(s, None, None, ll) for s, ll in ((1, -3.0), (2, -1.0), (3, -2.0), (4, -1.0))]
    assert decipher_units.most_likely(runs, 2) == [1, 3]
    assert decipher_units.most_likely(runs, 3) == [1, 2, 3]
    assert decipher_units.most_likely(runs, 4) == [0, 1, 2, 3]


def test_decipher_units_bad_input(corpus, tmp_path, capsys):
    def fails(args, message):
        assert decipher_units.main(args) == 1
        err = capsys.readouterr().err
        assert message in err, err

    fails(_args(corpus, tmp_path / "a", "--dims", "40"), "asks for more")
    fails(_args(corpus, tmp_path / "b", "--ref", f"test={corpus / 'dev/utt2phones'}"), "no --train or --set")
    fails(_args(corpus, tmp_path / "c", "--stay", "1.0"), "stay must be in [0, 1)")
    empty = tmp_path / "text"
    shutil.copytree(corpus / "text", empty)
    (empty / "phones_sil.txt").write_text("\n")
    args = _args(corpus, tmp_path / "d")
    args[args.index("--text-dir") + 1] = str(empty)
    fails(args, "the phone text corpus is empty")


# ---- boundaries of other features, speaker normalisation ----

def _coarser_copy(src: Path, dst: Path, speakers: int = 0, rng=None) -> None:
    """SRC's utterances at half the frame rate (frames averaged in pairs, an odd last frame dropped); with
    ``speakers`` every utterance is given one of that many speakers (utt2spk), each with its own offset and scale."""
    dst.mkdir(parents=True)
    offsets = 4 * rng.normal(size=(speakers, 13)) if speakers else None
    scales = rng.uniform(0.5, 2.0, size=(speakers, 13)) if speakers else None
    frames, spk = {}, {}
    with kaldiio.WriteHelper(f"ark,scp:{dst / 'feats.ark'},{dst / 'feats.scp'}") as w:
        for i, (utt, m) in enumerate(kaldiio.load_scp(str(src / "feats.scp")).items()):
            m = m[:len(m) // 2 * 2].reshape(-1, 2, m.shape[1]).mean(1)
            if speakers:
                s = i % speakers
                m, spk[utt] = m * scales[s] + offsets[s], f"spk{s}"
            w(utt, m.astype(np.float32))
            frames[utt] = len(m)
    (dst / "utt2num_frames").write_text("".join(f"{u} {n}\n" for u, n in frames.items()))
    if speakers:
        (dst / "utt2spk").write_text("".join(f"{u} {s}\n" for u, s in spk.items()))
    shutil.copy(src / "utt2phones", dst / "utt2phones")


def test_rescale_and_read_bounds(tmp_path):
    np.testing.assert_array_equal(rescale_bounds(np.array([0, 3, 4, 9, 20]), 10), [0, 2, 4, 10])  # 3 and 4 -> 2
    table = tmp_path / "utt2bounds"
    table.write_text("u1 0 3 4 9 20\nu2 0 10 40\nu3 0 7 30\n")
    bounds, merged = read_bounds(table, ["u1", "u2"], [10, 20])
    assert [b.tolist() for b in bounds] == [[0, 2, 4, 10], [0, 5, 20]] and merged == 1
    with pytest.raises(SpeechSSLError, match="no boundaries for 1 of 3 utterances"):
        read_bounds(table, ["u1", "u2", "u4"], [10, 20, 5])
    with pytest.raises(SpeechSSLError, match="'u2' has 40 frames here and 40 there"):
        read_bounds(table, ["u1", "u2", "u3"], [10, 40, 15])   # u2's ratio is twice the others': other audio
    table.write_text("u1 0 3 3 20\n")
    with pytest.raises(SpeechSSLError, match=r"utt2bounds:1: boundaries of 'u1' must start at 0 and increase"):
        read_bounds(table, ["u1"], [10])


def test_speaker_cmvn_normalises_each_speakers_frames():
    rng = np.random.default_rng(0)
    feats = [rng.normal(loc=5 * (i % 2), scale=1 + i % 2, size=(50 + i, 3)).astype(np.float32) for i in range(6)]
    spk = ["a" if i % 2 == 0 else "b" for i in range(6)]
    out = speaker_cmvn(feats, spk)
    for s in "ab":
        frames = np.concatenate([m for m, k in zip(out, spk) if k == s])
        np.testing.assert_allclose(frames.mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(frames.std(0), 1, atol=1e-4)
    assert all(o.dtype == np.float32 and o.shape == m.shape for o, m in zip(out, feats))


def test_decipher_units_takes_another_runs_boundaries_and_normalises_speakers(corpus, tmp_path, capsys):
    """Half-rate features of three speakers with their own offsets and scales, segmented as the full-rate run
    found: --bounds-dir gives them the rescaled boundaries; --speaker-norm makes their units phones again."""
    full = tmp_path / "full"
    assert decipher_units.main(_args(corpus, full)) == 0
    rng = np.random.default_rng(3)
    half = tmp_path / "half"
    for name in ("train", "dev"):
        _coarser_copy(corpus / name, half / name, speakers=3, rng=rng)

    def args(out, *extra):
        a = _args(corpus, out, "--bounds-dir", str(full), "--n-units", "8", "--coarse-units", "0", *extra)
        return [x.replace(str(corpus / "train"), str(half / "train")).replace(str(corpus / "dev"), str(half / "dev"))
                for x in a]

    normed = tmp_path / "normed"
    assert decipher_units.main(args(normed, "--speaker-norm", "true", "--round", "normed")) == 0
    for name in ("train", "dev"):
        frames = read_dict(half / name / "utt2num_frames")
        want = {u: rescale_bounds(np.array(b.split(), dtype=np.int64), int(frames[u])).tolist()
                for u, b in read_dict(full / name / "utt2bounds").items()}
        got = {u: [int(x) for x in b.split()] for u, b in read_dict(normed / name / "utt2bounds").items()}
        assert got == want
    assert "boundaries from" in (normed / "log" / "decipher.log").read_text()
    plain = tmp_path / "plain"
    assert decipher_units.main(args(plain, "--round", "plain")) == 0
    per = {r["checkpoint"]: r["per"]["dev"] for r in json.loads((tmp_path / "rounds.json").read_text())}
    assert per[str(normed / "model.npz")] < 5 and per[str(plain / "model.npz")] > 10, per   # 1.6 and 12.3 %
    options = json.loads((normed / ".done.decipher.json").read_text())["config"]
    assert options["speaker_norm"] is True and options["bounds_dir"] == str(full)
    assert "speaker_norm" not in json.loads((full / ".done.decipher.json").read_text())["config"]

    # bad input: no utt2spk for --speaker-norm, no utt2bounds in --bounds-dir
    nospk = tmp_path / "nospk"
    shutil.copytree(half, nospk)
    (nospk / "dev" / "utt2spk").unlink()
    a = [x.replace(str(half), str(nospk)) for x in args(tmp_path / "x", "--speaker-norm", "true")]
    assert decipher_units.main(a) == 1
    assert "utt2spk: missing; --speaker-norm needs" in capsys.readouterr().err
    a = args(tmp_path / "y")
    a[a.index("--bounds-dir") + 1] = str(tmp_path / "nowhere")
    assert decipher_units.main(a) == 1
    assert "utt2bounds is missing" in capsys.readouterr().err
