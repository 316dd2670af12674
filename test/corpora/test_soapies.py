"""Soapies: the code-switched stand-in, preparation of its layout, and hand-written real-layout fixtures."""
from __future__ import annotations

import json
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechssl.bin import codeswitch_stats as stats_cli
from speechssl.bin import prepare_soapies as prepare_cli
from speechssl.corpora.soapies import prepare_pair, prepare_unlabelled, read_pair_xml
from speechssl.corpora.standin.soapies import (SoapiesStandinConfig, bantu_phrases, manifest_path, read_mo,
                                               synthesize_soapies, synthesize_unlabelled)
from speechssl.data.datadir import DataDir
from speechssl.data.scp import read_lines
from speechssl.data.validate import validate_data_dir
from speechssl.utils.errors import SpeechSSLError

ZULU = ["sawubona", "ngiyabonga", "umfana", "intombazane", "indlu", "amanzi", "ukudla", "isikole", "umama",
        "ubaba", "inja", "ikati"]


def write_mo(path: Path, pairs: list[tuple[str, str]]) -> None:
    """A GNU gettext .mo file holding ``pairs`` (msgid, msgstr)."""
    pairs = sorted(pairs)
    ids = [a.encode() for a, _ in pairs]
    strs = [b.encode() for _, b in pairs]
    n = len(pairs)
    orig_at, trans_at, data_at = 28, 28 + 8 * n, 28 + 16 * n
    table_o, table_t, blob = b"", b"", b""
    for s in ids:
        table_o += struct.pack("<2I", len(s), data_at + len(blob))
        blob += s + b"\0"
    for s in strs:
        table_t += struct.pack("<2I", len(s), data_at + len(blob))
        blob += s + b"\0"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<7I", 0x950412DE, 0, n, orig_at, trans_at, 0, 0) + table_o + table_t + blob)


def l10n_dir(root: Path) -> Path:
    """Zulu "UI strings": every ordered pair of ZULU words, plus strings that must be left out."""
    pairs = [(f"en {i}", f"{a} {b}") for i, (a, b) in enumerate((a, b) for a in ZULU for b in ZULU if a != b)]
    pairs += [("x1", "Faka %1 lapha"), ("x2", "LibreOffice"), ("x3", "the window"), ("untranslated", "untranslated")]
    write_mo(root / "zu" / "LC_MESSAGES" / "ui.mo", pairs)
    return root


TINY = dict(pairs=("engzul",), speakers={"train": 2, "dev": 1, "test": 1},
            utterances={"train": 4, "dev": 2, "test": 2}, unpaired_sentences=30, max_words=8,
            unlabelled_segments=4, unlabelled_episodes=2)


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("soapies")
    config = SoapiesStandinConfig(**TINY, l10n_dir=str(l10n_dir(base / "l10n")))
    synthesize_soapies(base / "corpus", config, nj=2)
    synthesize_unlabelled(base / "corpus", config, nj=2)
    return base / "corpus"


def test_mo_reader_and_phrase_filter(tmp_path):
    root = l10n_dir(tmp_path)
    assert ("x3", "the window") in read_mo(root / "zu" / "LC_MESSAGES" / "ui.mo")
    phrases = bantu_phrases("zul", root, english={"window"})
    assert ("sawubona", "ngiyabonga") in phrases and len(phrases) == 12 * 11
    assert not any({"libreoffice", "window", "lapha", "untranslated"} & set(p) for p in phrases)
    with pytest.raises(SpeechSSLError, match="libreoffice-l10n-xh"):
        bantu_phrases("xho", root, set())


def test_standin_layout_and_reference_phones(standin):
    utts = read_pair_xml(standin / "balanced_engzul.xml")
    assert len(utts) == 8 and all(set(u.langs) <= {"eng", "zul"} for u in utts)
    assert any(len(set(u.langs)) == 2 for u in utts)
    phones = dict(line.split(" ", 1) for line in read_lines(standin / "balanced_engzul.phones.txt"))
    tags = dict(line.split(" ", 1) for line in read_lines(standin / "balanced_engzul.phone_langs.txt"))
    for u in utts:
        audio, rate = sf.read(standin / "balanced_engzul" / "audio" / f"{u.stem}.wav", dtype="int16")
        assert rate == 16000 and len(audio) > 16000 * 0.5
        ph = [p for p in phones[u.stem].split() if p != "|"]
        assert len(ph) == len(tags[u.stem].split())  # one tag per reference phone
        assert set(tags[u.stem].split()) == set(u.langs)
        assert not any(c in p for p in ph for c in "ːˈ")  # the common IPA convention
    dev = read_lines(standin / "splits/cs_engzul_balanced/transcriptions/engzul_dev_set_utterance_ids.txt")
    assert len(dev) == 2 and all("DEV" in s for s in dev)
    text = read_lines(standin / "unpaired" / "engzul.txt")
    langs = read_lines(standin / "unpaired" / "engzul.langs")
    assert len(text) == len(langs) == 30
    assert all(len(t.split()) == len(l.split()) for t, l in zip(text, langs))
    spoken = {" ".join(u.words) for u in utts}
    assert not spoken & set(text)
    summary = json.loads(manifest_path(standin, "engzul").read_text())["summary"]
    assert set(summary["text_side_mismatch_per"]) == {"eng", "zul"}


def test_standin_rerun_skipped_and_change_refused(standin):
    config = SoapiesStandinConfig(**TINY, l10n_dir="/elsewhere")  # where the strings are is not hashed
    wav = next((standin / "balanced_engzul" / "audio").glob("*.wav"))
    before = wav.stat().st_mtime_ns
    synthesize_soapies(standin, config)
    assert wav.stat().st_mtime_ns == before
    with pytest.raises(SpeechSSLError, match="different configuration"):
        synthesize_soapies(standin, replace(config, seed=2))
    with pytest.raises(SpeechSSLError, match="not in its 'pairs'"):
        synthesize_soapies(standin, config, pairs=["engxho"])


def test_prepare_standin_sets_and_text_side(standin, tmp_path):
    out, text = tmp_path / "data", tmp_path / "data" / "local"
    rc = prepare_cli.main(["--sets", "engzul_train,engzul_dev,engzul_test", "--text-dir", str(text),
                           str(standin), str(out)])
    assert rc == 0
    d = DataDir.load(out / "engzul_dev")
    assert len(d.utt2spk) == 2 and all(u.startswith("engzul-ENGZULDEV01-") for u in d.utt2spk)
    for utt in d.utt2spk:
        words, tags = d.text[utt].split(), d.extra["utt2word_langs"][utt].split()
        assert len(words) == len(tags)
        assert d.extra["utt2lang"][utt] in ("eng", "zul", "eng+zul")
        n_phones = sum(p != "|" for p in d.extra["utt2phones"][utt].split())
        assert n_phones == len(d.extra["utt2phone_langs"][utt].split())
    stats = json.loads((out / "engzul_train" / "cs_stats.json").read_text())
    assert stats["utterances"] == 4 and set(stats["share_of_words"]) <= {"eng", "zul"}
    lexicon = dict(line.split(" ", 1) for line in read_lines(text / "lexicon.lst"))
    assert len(read_lines(text / "unpaired_text.txt")) == 30
    zulu_words = [w for w in lexicon if w in ZULU]
    assert zulu_words and all("ː" not in lexicon[w] for w in zulu_words)
    assert stats_cli.main([str(out / "engzul_train"), "--markdown", str(tmp_path / "cs.md")]) == 0
    assert "| engzul_train | 4 |" in (tmp_path / "cs.md").read_text()
    # the pooled sets need every pair
    assert prepare_cli.main(["--sets", "pooled_dev", str(standin), str(out)]) == 1


def make_real_corpus(root: Path, xml_body: str, dev=("B_2",), test=("C_3",), rate=32000) -> Path:
    (root / "balanced_engzul" / "audio").mkdir(parents=True)
    (root / "balanced_engzul.xml").write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<corpus>{xml_body}</corpus>\n')
    for stem in ("A_1", "B_2", "C_3"):
        sf.write(root / "balanced_engzul" / "audio" / f"{stem}.wav", np.zeros(rate // 2, np.int16), rate)
    lists = root / "splits" / "cs_engzul_balanced" / "transcriptions"
    lists.mkdir(parents=True)
    (lists / "engzul_dev_set_utterance_ids.txt").write_text("".join(f"{s}\n" for s in dev))
    (lists / "engzul_tst_set_utterance_ids.txt").write_text("".join(f"{s}\n" for s in test))
    return root


def utterance(stem: str, speaker: str, transcription: str) -> str:
    return (f"<utterance><speaker_id>{speaker}</speaker_id><audio>{stem}.wav</audio>"
            f"<transcription>{transcription}</transcription></utterance>")


REAL = (utterance("A_1", "Thabo M", '<seg lang="eng">So, where is</seg> <seg lang="zul">uMama wakho?</seg>')
        + utterance("B_2", "LINDI", '<w xml:lang="zul">sawubona</w>')
        + utterance("C_3", "LINDI", '<seg lang="eng">hello <w lang="zul">baba</w> my friend</seg>'))


def test_prepare_real_layout_fixture(tmp_path):
    root = make_real_corpus(tmp_path / "soapies", REAL)
    sets = prepare_pair(root, "engzul")
    train, _ = sets["train"]
    utt = "engzul-Thabo_M-A_1"
    assert train.text[utt] == "so where is umama wakho"
    assert train.extra["utt2word_langs"][utt] == "eng eng eng zul zul"
    assert train.extra["utt2lang"][utt] == "eng+zul"
    assert train.wav_scp[utt].startswith("sox ") and train.wav_scp[utt].endswith("-r 16000 -b 16 -c 1 - |")
    test, _ = sets["test"]
    utt = "engzul-LINDI-C_3"
    assert test.extra["utt2word_langs"][utt] == "eng zul eng eng"
    word_phones = test.extra["utt2phones"][utt].split(" | ")
    tags = test.extra["utt2phone_langs"][utt].split()
    assert len(word_phones) == 4 and len(tags) == sum(len(w.split()) for w in word_phones)
    assert tags[len(word_phones[0].split())] == "zul"
    assert sets["dev"][0].extra["utt2lang"]["engzul-LINDI-B_2"] == "zul"
    problems = validate_data_dir(_saved(train, tmp_path / "train"))
    assert not problems.errors


def _saved(d: DataDir, path: Path) -> Path:
    d.save(path)
    return path


@pytest.mark.parametrize("body, dev, match", [
    (utterance("A_1", "X", "no tag here"), ("B_2",), r"A_1\): words without a language tag \(no tag here\)"),
    (utterance("A_1", "X", '<s lang="nso">dumela</s>'), ("B_2",), "unknown language tag 'nso'"),
    ("<utterance><speaker_id>X</speaker_id><transcription/></utterance>", ("B_2",), r"no <audio> element"),
    (utterance("A_1", "X", '<s lang="eng">hi</s>') + utterance("A_1", "Y", '<s lang="eng">hi</s>'), ("B_2",),
     "listed twice"),
    (utterance("A_1", "X", '<s lang="eng">hi</s>') + utterance("C_3", "X", '<s lang="eng">hi</s>'), ("C_3",),
     "both the dev and the test list"),
])
def test_bad_real_layout_errors(tmp_path, body, dev, match):
    root = make_real_corpus(tmp_path / "soapies", body, dev=dev)
    with pytest.raises(SpeechSSLError, match=match):
        prepare_pair(root, "engzul", ref_phones="none")


def test_default_lang_and_missing_pieces(tmp_path):
    root = make_real_corpus(tmp_path / "soapies", utterance("A_1", "X", "no tag here") +
                            utterance("B_2", "X", '<s lang="zul">yebo</s>') + utterance("C_3", "X", "hi"))
    sets = prepare_pair(root, "engzul", default_lang="eng", ref_phones="none")
    assert sets["train"][0].extra["utt2word_langs"]["engzul-X-A_1"] == "eng eng eng"
    (root / "balanced_engzul.phones.txt").write_text("A_1 a\n")
    with pytest.raises(SpeechSSLError, match="phone_langs.txt"):
        prepare_pair(root, "engzul", default_lang="eng", ref_phones="auto")
    (root / "splits" / "cs_engzul_balanced" / "transcriptions" / "engzul_dev_set_utterance_ids.txt").unlink()
    with pytest.raises(SpeechSSLError, match="split list missing"):
        prepare_pair(root, "engzul", default_lang="eng", ref_phones="none")


def test_get_soapies_checks_the_hand_fetched_corpus(tmp_path, capsys):
    from speechssl.bin import get_soapies

    assert get_soapies.main(["--source", "corpus", "--pairs", "engzul", str(tmp_path)]) == 1
    assert "balanced_engzul.xml missing" in capsys.readouterr().err
    make_real_corpus(tmp_path / "c", REAL)
    assert get_soapies.main(["--source", "corpus", "--pairs", "engzul", str(tmp_path / "c")]) == 0
    assert get_soapies.main(["--source", "corpus", "--pairs", "engzul", "--unlabelled", "true",
                             str(tmp_path / "c")]) == 1
    assert "no unlabelled audio" in capsys.readouterr().err


def test_standin_unlabelled_set(standin, tmp_path):
    wavs = sorted((standin / "unlabelled").glob("*/*.wav"))
    assert [w.relative_to(standin / "unlabelled").as_posix() for w in wavs] == [
        "episode01/seg0000.wav", "episode01/seg0002.wav", "episode02/seg0001.wav", "episode02/seg0003.wav"]
    summary = json.loads(manifest_path(standin, "unlabelled").read_text())["summary"]
    assert summary["segments"] == 4 and summary["segments_per_pair"] == {"engzul": 4}
    # the pairs' markers do not hash the unlabelled options: a changed unlabelled size leaves them valid
    config = SoapiesStandinConfig(**{**TINY, "unlabelled_segments": 5}, l10n_dir="/elsewhere")
    synthesize_soapies(standin, config)
    with pytest.raises(SpeechSSLError, match="different configuration"):
        synthesize_unlabelled(standin, config)
    out = tmp_path / "data"
    assert prepare_cli.main(["--sets", "unlabelled", "--text-dir", str(out / "local"), str(standin), str(out)]) == 0
    d = DataDir.load(out / "unlabelled")
    assert d.text is None and not (out / "local").exists()  # no transcripts, no text side
    assert sorted(d.utt2spk) == ["unlab-episode01-seg0000", "unlab-episode01-seg0002", "unlab-episode02-seg0001",
                                 "unlab-episode02-seg0003"]
    assert set(d.spk2utt()) == {"unlab-episode01", "unlab-episode02"}
    assert all(not v.endswith("|") for v in d.wav_scp.values())  # 16 kHz: no resampling pipe
    assert all(float(d.utt2dur[u]) > 0.5 for u in d.utt2spk)
    assert not validate_data_dir(out / "unlabelled", no_text=True).errors
    marker = (out / "unlabelled" / ".done.json").stat().st_mtime_ns
    assert prepare_cli.main(["--sets", "unlabelled", str(standin), str(out)]) == 0  # rerun: skipped
    assert (out / "unlabelled" / ".done.json").stat().st_mtime_ns == marker


def test_prepare_unlabelled_real_layout_fixture(tmp_path):
    root = tmp_path / "soapies"
    for episode, stem, samples in [("Generations 12-12-05", "seg_1", 16000), ("Generations 12-12-05", "seg_2", 0),
                                   ("RhythmCity_150", "a.b", 8000)]:
        (root / "unlabelled" / episode).mkdir(parents=True, exist_ok=True)
        sf.write(root / "unlabelled" / episode / f"{stem}.wav", np.zeros(samples, np.int16), 32000)
    (root / "unlabelled" / "RhythmCity_150" / "broken.wav").write_bytes(b"RIFF not audio")
    (root / "unlabelled" / "RhythmCity_150" / "notes.txt").write_text("not a segment")
    d, counts = prepare_unlabelled(root)
    assert counts == {"unreadable": 1, "empty": 1, "utterances": 2, "speakers": 2, "hours": 0.0002}
    assert d.utt2spk == {"unlab-Generations_12_12_05-seg_1": "unlab-Generations_12_12_05",
                         "unlab-RhythmCity_150-a_b": "unlab-RhythmCity_150"}
    assert d.utt2dur == {"unlab-Generations_12_12_05-seg_1": "0.500", "unlab-RhythmCity_150-a_b": "0.250"}
    assert all(v.startswith("sox ") and v.endswith("-r 16000 -b 16 -c 1 - |") for v in d.wav_scp.values())
    assert not validate_data_dir(_saved(d, tmp_path / "unlabelled"), no_text=True).errors


@pytest.mark.parametrize("setup, match", [
    (lambda u: None, r"unlabelled: no unlabelled audio; put it there as <episode>/<segment>\.wav"),
    (lambda u: sf.write(u / "loose.wav", np.zeros(100, np.int16), 16000), r"loose\.wav: a WAV file directly in"),
    (lambda u: (u / "ep").mkdir() or (u / "ep" / "x.wav").write_bytes(b""), r"no readable, non-empty segments"),
    (lambda u: [sf.write(u / "ep" / n, np.zeros(100, np.int16), 16000) for n in ("a-b.wav", "a_b.wav")]
     if not (u / "ep").mkdir() else None, r"a_b\.wav: utterance id unlab-ep-a_b repeats"),
])
def test_bad_unlabelled_audio(tmp_path, setup, match):
    if "no unlabelled audio" not in match:
        (tmp_path / "unlabelled").mkdir()
        setup(tmp_path / "unlabelled")
    with pytest.raises(SpeechSSLError, match=match):
        prepare_unlabelled(tmp_path)
