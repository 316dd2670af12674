"""The synthesized stand-in corpus: LibriSpeech layout, audio, determinism, side files, resumption."""
from __future__ import annotations

import ctypes
import ctypes.util
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from speechssl.bin import synthesize_standin as cli
from speechssl.corpora.librispeech import prepare_librispeech, read_speakers
from speechssl.corpora.standin import (MANIFEST, UNPAIRED_TEXT, load_standin_config, load_standin_summary,
                                       read_voices, standin_config_from_dict, synthesize_standin)
from speechssl.corpora.standin import synthesize as synth_module
from speechssl.corpora.standin.align import _split_group, align_events
from speechssl.corpora.standin.espeak import EspeakEngine
from speechssl.data.scp import read_lines
from speechssl.text.sentences import clean_sentence, load_sentences, normalize_transcript
from speechssl.utils.errors import SpeechSSLError

TINY = {
    "seed": 7,
    "max_words": 12,
    "subsets": [
        {"name": "train-clean-5", "speakers": 4, "utts_per_chapter": 3},
        {"name": "dev-clean-2", "speakers": 2, "utts_per_chapter": 2},
        {"name": "test-clean-2", "speakers": 2, "utts_per_chapter": 2},
    ],
    "unpaired_sentences": 50,
}
SUBSETS = ("train-clean-5", "dev-clean-2", "test-clean-2")
UTT_RE = re.compile(r"^(\d+)-(\d+)-(\d{4})$")


def corpus_files(root: Path) -> dict[str, bytes]:
    """Every file under root/LibriSpeech except the manifest (it holds a timestamp)."""
    libri = root / "LibriSpeech"
    return {str(p.relative_to(libri)): p.read_bytes() for p in sorted(libri.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("standin")
    synthesize_standin(root, standin_config_from_dict(TINY), nj=2)
    return root


def chapters(root: Path):
    """(subset, speaker dir, chapter dir, stem) of every chapter."""
    for subset in SUBSETS:
        for spk in sorted((root / "LibriSpeech" / subset).iterdir()):
            for ch in sorted(spk.iterdir()):
                yield subset, spk, ch, f"{spk.name}-{ch.name}"


def table(path: Path) -> dict[str, str]:
    rows = {}
    for line in read_lines(path):
        utt, _, value = line.partition(" ")
        rows[utt] = value
    return rows


def ctm(path: Path) -> dict[str, list[tuple[float, float, str]]]:
    out: dict[str, list] = {}
    for line in read_lines(path):
        utt, start, dur, phone = line.split()
        out.setdefault(utt, []).append((float(start), float(dur), phone))
    return out


def test_layout_is_librispeech(corpus):
    libri = corpus / "LibriSpeech"
    assert sorted(p.name for p in libri.iterdir() if p.is_dir()) == sorted(SUBSETS)
    speakers = read_speakers(libri / "SPEAKERS.TXT")
    assert len(speakers) == 8
    header = [line for line in read_lines(libri / "SPEAKERS.TXT") if line.startswith(";")]
    assert header[-1].replace(" ", "") == ";ID|SEX|SUBSET|MINUTES|NAME"
    n_utts = 0
    for subset, spk, ch, stem in chapters(corpus):
        assert spk.name.isdigit() and ch.name.isdigit()
        assert speakers[spk.name]["subset"] == subset and speakers[spk.name]["sex"] in ("f", "m")
        assert float(speakers[spk.name]["minutes"]) > 0
        names = sorted(p.name for p in ch.iterdir())
        trans = table(ch / f"{stem}.trans.txt")
        flacs = [n for n in names if n.endswith(".flac")]
        assert flacs == [f"{u}.flac" for u in trans]
        assert set(names) == set(flacs) | {f"{stem}.{s}" for s in ("trans.txt", "phones.txt", "pauses.txt",
                                                                      "alignment.ctm")}
        for i, (utt, words) in enumerate(trans.items()):
            m = UTT_RE.match(utt)
            assert m and m.group(1) == spk.name and m.group(2) == ch.name and int(m.group(3)) == i
            assert re.fullmatch(r"[A-Z']+( [A-Z']+)*", words)
            n_utts += 1
    assert n_utts == 4 * 3 + 2 * 2 + 2 * 2
    chapters_txt = [line.split("|") for line in read_lines(libri / "CHAPTERS.TXT") if not line.startswith(";")]
    assert len(chapters_txt) == 8 and all(len(row) == 8 for row in chapters_txt)
    # our own voice table agrees with SPEAKERS.TXT and the manifest
    voices = read_voices(libri / "VOICES.TXT")
    summary = load_standin_summary(corpus)
    assert set(voices) == set(speakers) == set(summary["speakers"])
    assert all(v["accent"] == "en-us" and v["sex"].lower() == speakers[k]["sex"] for k, v in voices.items())


def test_prepare_librispeech_reads_it(corpus, tmp_path):
    counts = prepare_librispeech(corpus, list(SUBSETS), tmp_path)
    assert set(counts) == {"train_clean_5", "dev_clean_2", "test_clean_2"}
    assert (tmp_path / "train_clean_5" / "utt2phones").is_file()
    assert len(read_lines(tmp_path / "dev_clean_2" / "utt2pauses")) == 4


def test_audio_is_16k_mono_flac_matching_the_alignment(corpus):
    for _, _, ch, stem in chapters(corpus):
        align = ctm(ch / f"{stem}.alignment.ctm")
        for utt in table(ch / f"{stem}.trans.txt"):
            info = sf.info(str(ch / f"{utt}.flac"))
            assert (info.format, info.subtype, info.samplerate, info.channels) == ("FLAC", "PCM_16", 16000, 1)
            segs = align[utt]
            assert segs[0][0] == 0.0
            for (s0, d0, _), (s1, _, _) in zip(segs, segs[1:]):
                assert s1 == pytest.approx(s0 + d0, abs=1e-9)  # contiguous
            assert segs[-1][0] + segs[-1][1] == pytest.approx(info.frames / 16000, abs=1e-9)
            audio, _ = sf.read(str(ch / f"{utt}.flac"), dtype="float64")
            assert np.sqrt(np.mean(audio ** 2)) > 0.01


def test_silences_in_alignment_are_quiet(corpus):
    """Phone boundaries are real: SIL segments are far quieter than the phones around them."""
    for _, _, ch, stem in chapters(corpus):
        for utt, segs in ctm(ch / f"{stem}.alignment.ctm").items():
            audio, sr = sf.read(str(ch / f"{utt}.flac"), dtype="float64")

            def rms(s, d):
                x = audio[round(s * sr):round((s + d) * sr)]
                return np.sqrt(np.mean(x ** 2))

            speech = np.sqrt(np.mean([rms(s, d) ** 2 for s, d, p in segs if p != "SIL" and d > 0]))
            assert all(rms(s, d) < 0.2 * speech for s, d, p in segs if p == "SIL" and d >= 0.03)


def test_phones_and_pauses_agree_with_alignment(corpus):
    n_boundaries = n_pauses = 0
    for _, _, ch, stem in chapters(corpus):
        trans = table(ch / f"{stem}.trans.txt")
        phones = table(ch / f"{stem}.phones.txt")
        pauses = table(ch / f"{stem}.pauses.txt")
        align = ctm(ch / f"{stem}.alignment.ctm")
        assert list(phones) == list(pauses) == list(trans)
        for utt, words in trans.items():
            word_phones = [w.split() for w in phones[utt].split(" | ")]
            assert len(word_phones) == len(words.split()) and all(word_phones)
            spoken = [p for _, _, p in align[utt] if p != "SIL"]
            assert spoken == [p for w in word_phones for p in w]
            assert all(d > 0 for _, d, p in align[utt] if p == "SIL")
            # silence between word k and k+1, from the alignment
            ends = np.cumsum([len(w) for w in word_phones])
            gaps = [0.0] * (len(word_phones) - 1)
            seen = 0
            pending = 0.0
            for _, dur, p in align[utt]:
                if p == "SIL":
                    pending += dur
                    continue
                if seen in ends[:-1]:
                    gaps[int(np.searchsorted(ends, seen))] += pending
                pending = 0.0
                seen += 1
            count, *listed = [int(k) for k in pauses[utt].split()]
            assert count == len(listed)
            assert listed == [k + 1 for k, g in enumerate(gaps) if g >= 0.050 - 1e-6]
            n_boundaries += len(gaps)
            n_pauses += len(listed)
    summary = load_standin_summary(corpus)
    assert sum(s["pauses"] for s in summary["subsets"].values()) == n_pauses
    assert sum(s["word_boundaries"] for s in summary["subsets"].values()) == n_boundaries


def test_speakers_disjoint_and_unpaired_text_unspoken(corpus):
    per_subset = {s: {p.name for p in (corpus / "LibriSpeech" / s).iterdir()} for s in SUBSETS}
    assert [len(per_subset[s]) for s in SUBSETS] == [4, 2, 2]
    assert not (per_subset[SUBSETS[0]] & per_subset[SUBSETS[1]] or per_subset[SUBSETS[0]] & per_subset[SUBSETS[2]]
                or per_subset[SUBSETS[1]] & per_subset[SUBSETS[2]])
    spoken = set()
    for _, _, ch, stem in chapters(corpus):
        spoken |= set(table(ch / f"{stem}.trans.txt").values())
    unpaired = read_lines(corpus / "LibriSpeech" / UNPAIRED_TEXT)
    assert len(unpaired) == len(set(unpaired)) == 50
    assert all(re.fullmatch(r"[A-Z']+( [A-Z']+)*", s) for s in unpaired)
    assert not spoken & set(unpaired)


def test_deterministic_whatever_nj_and_rerun_skips(corpus, tmp_path):
    other = tmp_path / "again"
    synthesize_standin(other, standin_config_from_dict(TINY), nj=1)
    assert corpus_files(other) == corpus_files(corpus)
    mtimes = {p: p.stat().st_mtime_ns for p in (other / "LibriSpeech").rglob("*")}
    assert synthesize_standin(other, standin_config_from_dict(TINY), nj=2) == load_standin_summary(other)
    assert {p: p.stat().st_mtime_ns for p in (other / "LibriSpeech").rglob("*")} == mtimes
    with pytest.raises(SpeechSSLError, match="--redo"):
        synthesize_standin(other, standin_config_from_dict({**TINY, "seed": 8}), nj=1)


def test_breath_noise_does_not_depend_on_the_parents_random_state():
    """A variant with breath noise (f3) draws it from libc's rand(), whose state a forked child inherits: whatever
    the synthesizing process called before, the same utterance gives the same samples, another one others."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    eng = EspeakEngine()

    def samples(text="the quick brown fox jumps over the lazy dog"):
        return eng.synthesize(text, "en-us+f3", 59, 141).samples

    first = samples()
    for _ in range(3):
        libc.rand()
    assert np.array_equal(samples(), first)
    libc.srand(12345)
    assert np.array_equal(samples(), first)
    assert not np.array_equal(samples("the quick brown fox jumps over the lazy cat")[:len(first)], first[:len(first)])


def test_other_seed_gives_other_corpus_and_interrupted_run_resumes(corpus, tmp_path, monkeypatch):
    root = tmp_path / "resumed"
    calls = []
    real = synth_module.synthesize_chapter

    def dies_on_third(job):
        calls.append(job)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(synth_module, "synthesize_chapter", dies_on_third)
    with pytest.raises(KeyboardInterrupt):
        synthesize_standin(root, standin_config_from_dict(TINY), nj=1)
    assert not (root / "LibriSpeech" / MANIFEST).exists()
    assert not list(root.rglob("*.tmp"))  # nothing half-written left behind
    monkeypatch.setattr(synth_module, "synthesize_chapter", real)
    synthesize_standin(root, standin_config_from_dict(TINY), nj=2)
    assert corpus_files(root) == corpus_files(corpus)

    other = tmp_path / "seed8"
    synthesize_standin(other, standin_config_from_dict({**TINY, "seed": 8, "unpaired_sentences": 5}), nj=2)
    assert read_speakers(other / "LibriSpeech" / "SPEAKERS.TXT").keys() != read_speakers(
        corpus / "LibriSpeech" / "SPEAKERS.TXT").keys()


def test_refuses_foreign_corpus_and_bad_config(tmp_path, repo_root):
    libri = tmp_path / "LibriSpeech"
    libri.mkdir()
    (libri / "SPEAKERS.TXT").write_text(";ID|SEX|SUBSET|MINUTES|NAME\n")
    with pytest.raises(SpeechSSLError, match="not written by synthesize_standin"):
        synthesize_standin(tmp_path, standin_config_from_dict(TINY))
    with pytest.raises(SpeechSSLError, match="unknown option.*speakerz"):
        standin_config_from_dict({**TINY, "speakerz": 3})
    with pytest.raises(SpeechSSLError, match="pitch"):
        standin_config_from_dict({**TINY, "pitch": [50, 120]})
    for name in ("standin_tiny.yaml", "standin_mini.yaml"):
        cfg = load_standin_config(repo_root / "egs/TEMPLATE/conf" / name)
        assert [s.name for s in cfg.subsets] == list(SUBSETS)
    mini = load_standin_config(repo_root / "egs/TEMPLATE/conf/standin_mini.yaml")
    assert [s.speakers for s in mini.subsets] == [20, 5, 5] and mini.unpaired_sentences >= 3000
    assert cli.main(["--config", str(tmp_path / "missing.yaml"), str(tmp_path)]) == 1


def test_cli_skips_finished_corpus(corpus, tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    before = corpus_files(corpus)
    assert cli.main(["--config", str(config), "--nj", "2", str(corpus)]) == 0
    assert corpus_files(corpus) == before
    assert cli.main(["--config", str(config), "--nj", "0", str(corpus)]) == 1


def test_clean_sentence_and_transcript():
    assert clean_sentence('"the dog barked all night"') == ("The dog barked all night.", "")
    assert clean_sentence("Wait...  what is THIS, Mr Smith?!") == ("Wait. what is this, Mr Smith?", "")
    assert clean_sentence("a well-known fact about the dogs' bones")[0] == "A well known fact about the dogs bones."
    assert clean_sentence("Collect $200 on the way home now")[1] == "digits"
    assert clean_sentence("Ask about (and pay for) the rooms")[1] == "symbols"
    assert clean_sentence("Too short here")[1] == "too_few_words"
    assert clean_sentence("word " * 21)[1] == "too_many_words"
    assert clean_sentence("caf\u00e9 au lait for everyone here")[0] == "Cafe au lait for everyone here."
    assert normalize_transcript("Don't stop, Mr. Smith; it's late!") == "DON'T STOP MR SMITH IT'S LATE"
    with pytest.raises(SpeechSSLError, match="digits"):
        normalize_transcript("at 5 pm")


def test_load_sentences_clean_and_deterministic():
    a = load_sentences(("wordnet",), min_words=6, max_words=8)
    assert a == load_sentences(("wordnet",), min_words=6, max_words=8)
    assert len(a) > 5000
    transcripts = [normalize_transcript(s) for s in a]
    assert len(set(transcripts)) == len(a)
    assert all(6 <= len(t.split()) <= 8 and t.isascii() for t in transcripts)
    with pytest.raises(SpeechSSLError, match="unknown sentence source"):
        load_sentences(("novels",))


def test_split_group_by_pronunciation():
    # "of the" said as one espeak-ng word: ʌ v ð ə
    assert _split_group(["ʌ", "v", "ð", "ə"], [["ʌ", "v"], ["ð", "ə"]]) == [0, 2, 4]
    assert _split_group(["t", "ə", "b", "iː"], [["t", "uː"], ["b", "iː"]]) == [0, 2, 4]
    assert _split_group(["x"], [["x"], ["y"]]) in ([0, 1, 1], [0, 0, 1])


def test_accents_give_their_own_phones_and_are_recorded(tmp_path):
    eng = EspeakEngine()
    phones = {}
    for accent in ("en-us", "en-gb"):
        sentence = "Go home, it is far."
        syn = eng.synthesize(sentence, eng.resolve_accent(accent) + "+m1", 50, 170, ["go", "home", "it", "is", "far"])
        phones[accent] = align_events(sentence, syn).word_phones
    assert phones["en-us"][1] == ["h", "oʊ", "m"] and phones["en-us"][4] == ["f", "ɑːɹ"]
    assert phones["en-gb"][1] == ["h", "əʊ", "m"] and phones["en-gb"][4] == ["f", "ɑː"]

    cfg = standin_config_from_dict({"seed": 1, "max_words": 8, "accents": ["en-us", "en-gb"], "unpaired_sentences": 0,
                                    "subsets": [{"name": "train-clean-5", "speakers": 4, "utts_per_chapter": 1}]})
    synthesize_standin(tmp_path, cfg, nj=1)
    voices = read_voices(tmp_path / "LibriSpeech" / "VOICES.TXT")
    assert {v["accent"] for v in voices.values()} == {"en-us", "en-gb"}
    summary = load_standin_summary(tmp_path)
    assert {k: v["accent"] for k, v in summary["speakers"].items()} == {k: v["accent"] for k, v in voices.items()}
