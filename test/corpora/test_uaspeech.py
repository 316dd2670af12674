"""UA-Speech: preparation from hand-written real-layout fixtures and from a tiny synthesized stand-in."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechssl.bin import prepare_uaspeech
from speechssl.corpora.standin.uaspeech import (
    LABEL, UASpeechStandinConfig, load_uaspeech_standin_config, synthesize_uaspeech_standin)
from speechssl.corpora.uaspeech import (
    PrepareOptions, collect_sets, find_uaspeech_dir, find_word_list, isolated_word_text, read_word_list, recording_id,
    speaker_group, word_key, word_type)
from speechssl.data.datadir import DataDir
from speechssl.data.validate import validate_data_dir
from speechssl.utils.errors import SpeechSSLError



WORDS = """CW1 THE
C1 COMMAND
D0 ZERO
LA ALPHA
B1_UW1 NATURALIZATION
B2_UW1 FAITHFULNESS
B3_UW1 FRUGALITY
"""


def make_corpus(root: Path, files: list[str], variant: str = "", words: str = WORDS) -> Path:
    """A tiny UASpeech tree: ``files`` are '<SPK>_<B>_<WORD>_<MIC>' stems (controls go under control/)."""
    ua = root / "UASpeech"
    (ua / "doc").mkdir(parents=True)
    (ua / "doc" / "word_list.txt").write_text(words)
    rng = np.random.default_rng(0)
    for stem in files:
        spk = stem.split("_")[0]
        d = ua / "audio" / variant / ("control" if spk.startswith("C") else "") / spk
        d.mkdir(parents=True, exist_ok=True)
        sf.write(d / f"{stem}.wav", (0.1 * rng.standard_normal(1600)).astype(np.float32), 16000, subtype="PCM_16")
    return ua


FILES = ["F02_B1_CW1_M2", "F02_B1_CW1_M5", "F02_B1_UW1_M2", "F02_B2_UW1_M2", "F02_B2_C1_M2", "F02_B3_UW1_M2",
         "F02_B3_LA_M2", "M04_B1_D0_M2", "M04_B2_D0_M2", "CM04_B1_C1_M2", "CM04_B2_LA_M2", "CM04_B3_CW1_M2"]


def test_word_codes():
    assert [word_type(c) for c in ("D0", "LA", "C19", "CW12", "UW100")] == \
        ["digit", "letter", "command", "common", "uncommon"]
    assert word_key("B2", "UW7") == "B2_UW7" and word_key("B2", "CW7") == "CW7"
    assert speaker_group("M04") == "very_low" and speaker_group("F05") == "high" and speaker_group("CF02") == "control"
    assert recording_id("F02_B1_C1_M2") == "F02_B1_C1"
    with pytest.raises(SpeechSSLError, match="not one of the 15 dysarthric speakers"):
        speaker_group("M99")
    with pytest.raises(SpeechSSLError, match="not one of the 13 control speakers"):
        speaker_group("CM99")
    with pytest.raises(SpeechSSLError, match="not a UA-Speech word code"):
        word_type("X1")


def test_real_layout_sets_and_tables(tmp_path):
    ua = make_corpus(tmp_path, FILES)
    assert find_uaspeech_dir(tmp_path) == ua and find_word_list(ua) == ua / "doc" / "word_list.txt"
    sets, dropped = collect_sets(ua, read_word_list(find_word_list(ua)), PrepareOptions(dev_fraction=0.0))
    assert not dropped and not sets["dev"].utt2spk
    train, test = sets["train"], sets["test"]
    assert set(test.utt2spk) == {f for f in FILES if "_B2_" in f}
    assert set(train.utt2spk) == {f for f in FILES if "_B2_" not in f}
    # uncommon words differ by block: the key carries the block
    assert train.text["F02_B1_UW1_M2"] == "NATURALIZATION" and train.text["F02_B3_UW1_M2"] == "FRUGALITY"
    assert test.text["F02_B2_UW1_M2"] == "FAITHFULNESS"
    assert test.extra["utt2group"] == {"F02_B2_UW1_M2": "low", "F02_B2_C1_M2": "low", "M04_B2_D0_M2": "very_low",
                                       "CM04_B2_LA_M2": "control"}
    assert train.extra["utt2wordtype"]["F02_B1_CW1_M5"] == "common"
    assert train.extra["utt2wordkey"]["F02_B3_UW1_M2"] == "B3_UW1"
    assert train.extra["utt2mic"]["F02_B1_CW1_M5"] == "M5" and train.extra["utt2block"]["F02_B3_LA_M2"] == "B3"
    assert train.spk2gender == {"F02": "f", "M04": "m", "CM04": "m"}
    assert Path(train.wav_scp["CM04_B1_C1_M2"]).parent.parent.name == "control"
    assert "utt2phones" not in train.extra  # only the stand-in has reference phones


def test_dev_holds_whole_recordings_and_filters(tmp_path, caplog):
    ua = make_corpus(tmp_path, FILES + ["F02_B1_CW1_M7", "F02_B1_CW1_M8"])
    (ua / "audio/F02/F02_B3_LA_M2.wav").write_bytes((ua / "audio/F02/F02_B3_LA_M2.wav").read_bytes()[:44])
    (ua / "audio/F02/F02_B1_CW1.wav").write_bytes(b"")  # not a UA-Speech name
    words = read_word_list(find_word_list(ua))
    sets, dropped = collect_sets(ua, words, PrepareOptions(dev_fraction=0.5, seed=3))
    assert dropped == {"empty": 1, "bad_name": 1}
    assert "F02_B3_LA_M2.wav is empty" in caplog.text
    train_recs = {recording_id(u) for u in sets["train"].utt2spk}
    dev_recs = {recording_id(u) for u in sets["dev"].utt2spk}
    assert dev_recs and train_recs and not train_recs & dev_recs  # all microphones of a recording together
    assert not {u for u in sets["dev"].utt2spk if "_B2_" in u}
    sets, dropped = collect_sets(ua, words, PrepareOptions(mics=("M2",), include_control=False))
    assert dropped["mic_not_selected"] == 3 and dropped["control_excluded"] == 3
    assert all(u.endswith("_M2") and not u.startswith("C") for s in sets.values() for u in s.utt2spk)


def test_audio_variants(tmp_path):
    ua = make_corpus(tmp_path, ["F02_B1_CW1_M2", "F02_B2_CW1_M2", "CF02_B1_D0_M2"], variant="noisereduce")
    words = read_word_list(find_word_list(ua))
    with pytest.raises(SpeechSSLError, match="choose one with --audio-variant"):
        collect_sets(ua, words, PrepareOptions())
    sets, _ = collect_sets(ua, words, PrepareOptions(audio_variant="noisereduce", dev_fraction=0.0))
    assert len(sets["train"].utt2spk) == 2 and "noisereduce" in sets["test"].wav_scp["F02_B2_CW1_M2"]


def test_word_list_formats_and_errors(tmp_path):
    csv_file = tmp_path / "word_list.csv"
    csv_file.write_text("WORD,FILE NAME\nthe,CW1\nNaturalization,B1_UW1\n\n")
    assert read_word_list(csv_file) == {"CW1": "THE", "B1_UW1": "NATURALIZATION"}
    (tmp_path / "bad.csv").write_text("A,B\nthe,CW1\n")
    with pytest.raises(SpeechSSLError, match=r"bad.csv:1: expected a header with the columns WORD and FILE NAME"):
        read_word_list(tmp_path / "bad.csv")
    (tmp_path / "bad.txt").write_text("CW1 THE\nUW1 ABLE\n")
    with pytest.raises(SpeechSSLError, match=r"bad.txt:2: 'UW1' is not a UA-Speech word key"):
        read_word_list(tmp_path / "bad.txt")
    (tmp_path / "dup.txt").write_text("CW1 THE\nCW1 OF\n")
    with pytest.raises(SpeechSSLError, match=r"dup.txt:2: key CW1 listed twice"):
        read_word_list(tmp_path / "dup.txt")


def test_xls_without_reader(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "xlrd", None)  # as if xlrd were not installed
    (tmp_path / "speaker_wordlist.xls").write_bytes(b"")
    with pytest.raises(SpeechSSLError, match=r"needs the xlrd package \(pip install xlrd==2.0.2\)"):
        read_word_list(tmp_path / "speaker_wordlist.xls")


def test_bad_corpus_errors(tmp_path):
    with pytest.raises(SpeechSSLError, match="no UA-Speech corpus here"):
        find_uaspeech_dir(tmp_path)
    ua = make_corpus(tmp_path / "a", ["M99_B1_CW1_M2"])
    with pytest.raises(SpeechSSLError, match="M99 is not one of the 15 dysarthric speakers"):
        collect_sets(ua, read_word_list(find_word_list(ua)), PrepareOptions())
    ua = make_corpus(tmp_path / "b", ["F02_B1_CW1_M2"])
    (ua / "doc" / "word_list.txt").unlink()
    with pytest.raises(SpeechSSLError, match="no word list found"):
        find_word_list(ua)
    with pytest.raises(SpeechSSLError, match="dev_fraction"):
        PrepareOptions(dev_fraction=1.0)


def test_isolated_word_text():
    counts = Counter({"the": 10000, "a": 100, "zebra": 1})
    text = isolated_word_text(counts, 2000, seed=0, exponent=0.5)
    assert text == isolated_word_text(counts, 2000, seed=0, exponent=0.5)  # seeded
    n = Counter(text)
    assert n["the"] > n["a"] > n["zebra"] > 0 and n["the"] < 0.95 * 2000  # flattened: sqrt of the counts
    assert Counter(isolated_word_text(counts, 2000, seed=0, exponent=1.0))["the"] > 0.98 * 2000
    with pytest.raises(SpeechSSLError, match="must not be negative"):
        isolated_word_text(counts, 10, seed=0, exponent=-1)


def test_standin_config_errors(tmp_path):
    with pytest.raises(SpeechSSLError, match="M04 is not a UA-Speech speaker of group high"):
        UASpeechStandinConfig(speakers={"high": ("M04",)})
    cfg = tmp_path / "s.yaml"
    cfg.write_text("speakers: {high: [F05]}\nvoices: 3\n")
    with pytest.raises(SpeechSSLError, match="unknown option"):
        load_uaspeech_standin_config(cfg)


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """A stand-in of 2 speakers x 4 words x 2 microphones, prepared into data/."""
    root = tmp_path_factory.mktemp("uaspeech")
    cfg = UASpeechStandinConfig(speakers={"low": ("F02",), "control": ("CM04",)}, mics=("M2", "M5"),
                                words_per_block={"B1": 2, "B2": 1, "B3": 1})
    summary = synthesize_uaspeech_standin(root / "corpus", cfg, nj=1)
    rc = prepare_uaspeech.main([str(root / "corpus"), str(root / "data"), "--unpaired-lines", "300",
                                "--dev-fraction", "0.3", "--seed", "1"])
    assert rc == 0
    return root, cfg, summary


def test_standin_layout_and_prepare(standin):
    root, cfg, summary = standin
    ua = root / "corpus" / "UASpeech"
    assert summary["files"] == 16 and summary["label"] == LABEL
    assert sorted(p.name for p in (ua / "audio").iterdir()) == ["F02", "control"]
    assert (ua / "audio/control/CM04").is_dir()
    assert "does not model dysarthria" in (ua / "standin/README.txt").read_text()
    wav = next((ua / "audio/F02").glob("F02_B1_*_M2.wav"))
    x, sr = sf.read(wav, dtype="int16")
    assert sr == 16000 and x.ndim == 1 and np.abs(x).max() > 1000
    assert len(read_word_list(ua / "doc/word_list.csv")) == 455
    data = root / "data"
    total = 0
    for name in ("train", "dev", "test"):
        d = DataDir.load(data / name)
        total += len(d.utt2spk)
        if d.utt2spk:
            report = validate_data_dir(data / name, expected_sample_rate=16000)
            assert report.ok, report.errors
            assert set(d.extra["utt2phones"]) == set(d.utt2spk)  # every microphone gets the recording's phones
            assert set(d.extra["utt2group"].values()) <= {"low", "control"}
    assert total == 16
    test = DataDir.load(data / "test")
    assert set(test.extra["utt2block"].values()) == {"B2"} and len(test.utt2spk) == 4
    local = data / "local" / "uaspeech"
    lexicon = dict(line.split(" ", 1) for line in (local / "lexicon_words.lst").read_text().splitlines())
    assert len(lexicon) == 455 and lexicon["alpha"].strip()
    for u, word in test.text.items():
        assert word.lower() in lexicon
    kenlm = pytest.importorskip("kenlm")
    lm = kenlm.Model(str(local / "lm_isolated_words.arpa"))
    assert lm.score("alpha", bos=True, eos=True) == pytest.approx(-np.log10(455), abs=1e-3)  # every word alike
    assert lm.score("alpha bravo", bos=True, eos=True) < -90  # one word per utterance
    lines = (local / "unpaired_text.txt").read_text().splitlines()
    assert len(lines) == 300 and all(len(line.split()) == 1 for line in lines)


def test_standin_rerun_skips_and_refuses_change(standin, caplog):
    root, cfg, _ = standin
    synthesize_uaspeech_standin(root / "corpus", cfg, nj=1)
    assert "already done" in caplog.text
    changed = UASpeechStandinConfig(speakers=cfg.speakers, mics=("M2",), words_per_block=cfg.words_per_block)
    with pytest.raises(SpeechSSLError, match="different configuration"):
        synthesize_uaspeech_standin(root / "corpus", changed, nj=1)
    assert prepare_uaspeech.main([str(root / "corpus"), str(root / "data"), "--unpaired-lines", "300",
                                  "--dev-fraction", "0.3", "--seed", "1"]) == 0
    assert prepare_uaspeech.main([str(root / "corpus"), str(root / "data"), "--unpaired-lines", "300",
                                  "--dev-fraction", "0.5", "--seed", "1"]) == 1  # changed: refused
    marker = json.loads((root / "data/local/uaspeech/.done.json").read_text())
    assert marker["summary"]["sets"]["test"]["groups"] == {"control": 2, "low": 2}


def test_standin_refuses_real_corpus(tmp_path):
    make_corpus(tmp_path, ["F02_B1_CW1_M2"])
    with pytest.raises(SpeechSSLError, match="may be the real corpus"):
        synthesize_uaspeech_standin(tmp_path, UASpeechStandinConfig(speakers={"low": ("F02",)}), nj=1)


def test_recipe_layout(repo_root, recipe_env):
    """egs/uaspeech/uasr1 shares run.sh like the other recipes, and its run.conf sets only run.sh's options."""
    recipe = repo_root / "egs" / "uaspeech" / "uasr1"
    links = {"run.sh": "../../TEMPLATE/uasr1/run.sh", "path.sh": "../../TEMPLATE/uasr1/path.sh",
             "utils": "../../../utils"}
    for name, target in links.items():
        assert (recipe / name).is_symlink() and os.readlink(recipe / name) == target
    declared = set(re.findall(r"^(\w+)=", (repo_root / "egs/TEMPLATE/uasr1/run.sh").read_text(), re.M))
    assert set(re.findall(r"^(\w+)=", (recipe / "conf/run.conf").read_text(), re.M)) <= declared
    out = subprocess.run(["local/data.sh", "--help"], cwd=recipe, env=recipe_env, capture_output=True, text=True)
    assert out.returncode == 0 and "--audio_variant" in out.stdout and "--mics" in out.stdout
    assert load_uaspeech_standin_config(recipe / "conf/standin.yaml").speakers["control"] == ("CM04", "CF02")
