"""FLEURS: language table, preparation from the real layout, and the synthesized stand-in."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechssl.bin import prepare_fleurs
from speechssl.corpora.fleurs import prepare_split, read_fleurs_tsv, split_data_dir_name
from speechssl.corpora.fleurs_langs import LANGUAGES, get_language, installed_voices, parse_langs, voice_status
from speechssl.corpora.standin.fleurs import FleursStandinConfig, synthesize_fleurs_standin
from speechssl.corpora.standin.fleurs.text import clean_sentence, normalize_sentence
from speechssl.data.datadir import DataDir
from speechssl.data.validate import validate_data_dir
from speechssl.utils.errors import SpeechSSLError

NO_VOICE = "ast ceb ckb ff fil gl ha ig jv kam kea km lg ln lo luo mn nso ny oc ps sn so tg umb wo xh yo zu".split()


def test_language_table_has_102_languages_and_the_29_without_voice():
    assert len(LANGUAGES) == 102
    assert sorted(c.split("_")[0] for c, lang in LANGUAGES.items() if not lang.has_voice) == sorted(NO_VOICE)
    assert get_language("sw_ke").espeak == "sw" and get_language("zu_za").epitran == "zul-Latn"
    voices = installed_voices()
    assert all(voice_status(lang, voices) != "missing" for lang in LANGUAGES.values())
    assert parse_langs("zu_za, es_419") == ["es_419", "zu_za"]  # table order
    with pytest.raises(SpeechSSLError, match="did you mean sw_ke"):
        parse_langs("sw_tz")


def _tsv_line(sid, name, raw, gender="FEMALE", n=16000):
    norm = normalize_sentence(raw)
    return f"{sid}\t{name}\t{raw}\t{norm}\t{' '.join(norm)}\t{n}\t{gender}\n"


def make_real_layout(root: Path, lang: str, rows: dict[str, list[tuple]], archive: bool = False) -> Path:
    """A tiny FLEURS tree: {split: [(sentence id, file name, raw text, gender), ...]}; WAVs extracted."""
    lang_dir = root / "data" / lang
    rng = np.random.default_rng(0)
    for split, items in rows.items():
        (lang_dir / "audio" / split).mkdir(parents=True)
        with open(lang_dir / f"{split}.tsv", "w", encoding="utf-8") as f:
            for sid, name, raw, gender in items:
                f.write(_tsv_line(sid, name, raw, gender))
                sf.write(lang_dir / "audio" / split / name, (rng.normal(0, 0.1, 16000) * 3e4).astype(np.int16), 16000)
        if archive:
            shutil.make_archive(str(lang_dir / "audio" / split), "gztar", lang_dir / "audio", split)
            shutil.rmtree(lang_dir / "audio" / split)
    return lang_dir


def test_prepare_real_layout(tmp_path, capfd):
    lang_dir = make_real_layout(tmp_path, "zu_za", {
        "train": [(7, "111.wav", "Sawubona, mngane.", "FEMALE"), (7, "222.wav", "Sawubona, mngane.", "MALE"),
                  (12, "333.wav", "Ngiyabonga kakhulu!", "OTHER")],
        "dev": [(30, "444.wav", "Hamba kahle.", "MALE")]}, archive=True)
    (lang_dir / "dev.tsv").write_text((lang_dir / "dev.tsv").read_text() + _tsv_line(31, "555.wav", "Yebo."))
    assert prepare_fleurs.main([str(tmp_path), str(tmp_path / "out"), "--langs", "all", "--splits", "train,dev"]) == 0
    log = capfd.readouterr().err
    report = (tmp_path / "out" / "fleurs_voices.tsv").read_text().splitlines()
    assert len(report) == 103 and "zu_za\tZulu\tnone\tzul-Latn\tno_voice\tyes\t" in report
    assert "29 of 102 languages have no espeak-ng voice" in log and "(in the corpus: zu_za)" in log
    train = tmp_path / "out" / "zu_za_train"
    assert validate_data_dir(train, expected_sample_rate=16000).ok
    d = DataDir.load(train)
    assert d.utts == ["zu_za-00007-111", "zu_za-00007-222", "zu_za-00012-333"]
    assert all(d.utt2spk[u] == u for u in d.utts)  # one pseudo-speaker per recording
    assert d.text["zu_za-00007-111"] == "sawubona mngane"
    assert d.extra["utt2raw_text"]["zu_za-00007-111"] == "Sawubona, mngane."
    assert d.extra["utt2gender"]["zu_za-00012-333"] == "other" and d.spk2gender is None
    dev = DataDir.load(tmp_path / "out" / "zu_za_dev")
    assert dev.utts == ["zu_za-00030-444"] and dev.spk2gender == {"zu_za-00030-444": "m"}
    assert "555.wav is not in" in log  # TSV line without audio: dropped and logged
    assert (lang_dir / "audio" / "train" / ".complete").is_file()
    assert split_data_dir_name("cmn_hans_cn_dev") == ("cmn_hans_cn", "dev")


def test_bad_input_names_file_and_line(tmp_path):
    lang_dir = make_real_layout(tmp_path, "sw_ke", {"test": [(1, "1.wav", "Habari ya leo.", "MALE")]})
    tsv = lang_dir / "test.tsv"
    tsv.write_text(tsv.read_text() + "2\t2.wav\tonly four\tcolumns\n")
    with pytest.raises(SpeechSSLError, match=r"test.tsv:2: expected 7 tab-separated columns"):
        read_fleurs_tsv(tsv)
    tsv.write_text(_tsv_line(1, "1.wav", "Habari.", gender="unknown"))
    with pytest.raises(SpeechSSLError, match=r"test.tsv:1: gender 'unknown'"):
        prepare_split(lang_dir, "sw_ke", "test")
    assert prepare_fleurs.main([str(tmp_path), str(tmp_path / "out"), "--langs", "sw_ke,de_de"]) == 1  # de_de absent


def test_clean_sentence_keeps_the_language_letters():
    assert clean_sentence("¿Qué  pasa, señor?", "áéíóúüñ", 2, 20) == ("Qué pasa, señor?", "")
    assert clean_sentence("Er aß 3 Äpfel.", "äöüß", 2, 20) == (None, "digits")
    assert clean_sentence("Это не испанский язык.", "áéíóúüñ", 2, 20) == (None, "foreign_letters")
    assert normalize_sentence("Straße über Öl, l'uomo.") == "straße über öl l'uomo"


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    root = tmp_path_factory.mktemp("fleurs_standin")
    config = FleursStandinConfig(langs=("es_419",), sentences={"train": 3, "dev": 1, "test": 1},
                                 unpaired_sentences=5, voices_per_split=2, noise_dbfs=None)
    return root, config, synthesize_fleurs_standin(root, config, nj=1)


def test_standin_has_fleurs_layout_and_prepares(standin, tmp_path):
    root, config, summary = standin
    lang_dir = root / "data" / "es_419"
    assert sorted(p.name for p in (lang_dir / "audio").iterdir()) == ["dev.tar.gz", "test.tar.gz", "train.tar.gz"]
    rows = read_fleurs_tsv(lang_dir / "train.tsv")
    assert len({r.sentence_id for r in rows}) == 3
    assert len(rows) == summary["langs"]["es_419"]["splits"]["train"]["recordings"]
    assert len((lang_dir / "unpaired_text.txt").read_text().splitlines()) == 5
    assert prepare_fleurs.main([str(root), str(tmp_path / "data"), "--langs", "es_419"]) == 0
    d = DataDir.load(tmp_path / "data" / "es_419_train")
    assert validate_data_dir(tmp_path / "data" / "es_419_train", expected_sample_rate=16000).ok
    for utt in d.utts:
        row = next(r for r in rows if utt.endswith(r.stem))
        audio, sr = sf.read(d.wav_scp[utt], dtype="int16")
        assert sr == 16000 and len(audio) == row.num_samples
        phones = d.extra["utt2phones"][utt].split(" | ")
        assert len(phones) == len(d.text[utt].split())  # one phone group per word
    # a rerun with the same config is skipped; a different one is refused
    assert synthesize_fleurs_standin(root, config, nj=1) == summary
    changed = FleursStandinConfig(langs=("es_419",), sentences={"train": 4, "dev": 1, "test": 1},
                                  unpaired_sentences=5, voices_per_split=2, noise_dbfs=None)
    with pytest.raises(SpeechSSLError, match="different configuration"):
        synthesize_fleurs_standin(root, changed, nj=1)


def test_standin_refuses_languages_without_text_or_voice():
    with pytest.raises(SpeechSSLError, match="no stand-in text source or no espeak-ng voice"):
        FleursStandinConfig(langs=("zu_za",), sentences={"train": 1, "dev": 1, "test": 1})
