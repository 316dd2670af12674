"""SpokenCOCO: preparation from the real JSON + wav layout, the reserved-caption text, and the stand-in."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechssl.bin import prepare_spokencoco as prepare_cli
from speechssl.corpora.spokencoco import prepare_spokencoco, read_captions, take_fraction
from speechssl.corpora.standin import spokencoco as standin_module
from speechssl.corpora.standin.spokencoco import (MANIFEST, coco_standin_config_from_dict, load_coco_standin_config,
                                                  synthesize_spokencoco)
from speechssl.data.datadir import DataDir
from speechssl.data.validate import validate_data_dir
from speechssl.text.sentences import load_sentences
from speechssl.utils.errors import SpeechSSLError

TINY = {"seed": 5, "train_images": 4, "val_images": 4, "captions_per_image": 2, "train_speakers": 3,
        "val_speakers": 2, "max_words": 8, "sources": ["wordnet"]}


@pytest.fixture(scope="module", autouse=True)
def sentences_read_once():
    """Reading the Debian text files takes seconds: every synthesis of this module shares one read."""
    cache = {}

    def cached(sources, min_words, max_words):
        key = (tuple(sources), min_words, max_words)
        if key not in cache:
            cache[key] = load_sentences(sources, min_words, max_words)
        return cache[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(standin_module, "load_sentences", cached)
        yield


@pytest.fixture(scope="module")
def standin(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("coco_standin")
    synthesize_spokencoco(root, coco_standin_config_from_dict(TINY), nj=2)
    return root


def corpus_files(root: Path) -> dict[str, bytes]:
    coco = root / "SpokenCOCO"
    return {str(p.relative_to(coco)): p.read_bytes() for p in sorted(coco.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def test_standin_has_the_real_layout(standin):
    coco = standin / "SpokenCOCO"
    for split, folder in (("train", "train2014"), ("val", "val2014")):
        data = json.loads((coco / f"SpokenCOCO_{split}.json").read_text())["data"]
        assert len(data) == TINY[f"{split}_images"]
        phones = dict(line.split(" ", 1) for line in (coco / f"SpokenCOCO_{split}.phones.txt").read_text().splitlines())
        for entry in data:
            assert entry["image"].startswith(f"{folder}/COCO_{folder}_") and entry["image"].endswith(".jpg")
            assert len(entry["captions"]) == 2
            assert len({c["speaker"] for c in entry["captions"]}) == 2  # one reader per caption
            for cap in entry["captions"]:
                assert set(cap) == {"text", "speaker", "uttid", "wav"}
                assert cap["uttid"].startswith(cap["speaker"] + "-")
                assert cap["wav"] == f"wavs/{split}/0/{cap['uttid']}.wav"
                assert cap["text"] == cap["text"].upper() and cap["text"].strip()
                info = sf.info(coco / cap["wav"])
                assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
                assert len(phones[cap["uttid"]].split("|")) == len(cap["text"].split())
    manifest = json.loads((coco / MANIFEST).read_text())["summary"]
    assert manifest["train"]["captions"] == 8 and manifest["val"]["speakers"] == 2


def test_prepare_standin_reserved_text_and_valid_dirs(standin, tmp_path):
    prep = prepare_spokencoco(standin, text_fraction=0.5, seed=1)
    train_json = list(read_captions(standin / "SpokenCOCO" / "SpokenCOCO_train.json"))
    val_json = list(read_captions(standin / "SpokenCOCO" / "SpokenCOCO_val.json"))
    images = {name: set(d.extra["utt2image"].values()) for name, d in prep.sets.items()}
    assert len(images["train"]) == 2 and len(images["dev"]) == 2 and len(images["test"]) == 2
    assert images["dev"] | images["test"] == {c.image for c in val_json} and not images["dev"] & images["test"]
    # the reserved images' captions are the text; none of them is spoken in train
    text_caps = [c.text for c in train_json if c.image not in images["train"]]
    assert prep.text == text_caps and len(text_caps) == 4
    assert not set(prep.text) & set(prep.sets["train"].text.values())
    prep.sets["train"].save(tmp_path / "train")
    report = validate_data_dir(tmp_path / "train", expected_sample_rate=16000)
    assert report.ok, report.errors
    d = DataDir.load(tmp_path / "train")
    assert set(d.extra) >= {"utt2image", "utt2phones"} and len(d.extra["utt2phones"]) == 4
    assert all(u.startswith(s + "-") for u, s in d.utt2spk.items())


def test_standin_deterministic_and_skips_rerun(standin, tmp_path):
    other = tmp_path / "again"
    synthesize_spokencoco(other, coco_standin_config_from_dict(TINY), nj=1)
    assert corpus_files(other) == corpus_files(standin)
    mtime = (other / "SpokenCOCO" / MANIFEST).stat().st_mtime_ns
    synthesize_spokencoco(other, coco_standin_config_from_dict(TINY), nj=1)
    assert (other / "SpokenCOCO" / MANIFEST).stat().st_mtime_ns == mtime
    with pytest.raises(SpeechSSLError, match="--redo"):
        synthesize_spokencoco(other, coco_standin_config_from_dict({**TINY, "seed": 6}), nj=1)


def test_standin_refuses_foreign_dir_and_bad_config(tmp_path):
    (tmp_path / "SpokenCOCO").mkdir()
    with pytest.raises(SpeechSSLError, match="real corpus"):
        synthesize_spokencoco(tmp_path, coco_standin_config_from_dict(TINY))
    with pytest.raises(SpeechSSLError, match="unknown option"):
        coco_standin_config_from_dict({**TINY, "subsets": []})
    with pytest.raises(SpeechSSLError, match="val_speakers"):
        coco_standin_config_from_dict({**TINY, "val_speakers": 1})
    bad = tmp_path / "bad.yaml"
    bad.write_text("train_images: [\n")
    with pytest.raises(SpeechSSLError, match="not valid YAML"):
        load_coco_standin_config(bad)


# ---- hand-written real-layout fixtures ----------------------------------------------------------------

def write_wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.1 * np.random.default_rng(0).standard_normal(1600)).astype(np.float32), 16000,
             subtype="PCM_16")


def caption(spk: str, hit: str, image_id: int, cap_id: int, split: str, text: str, prefix: bool = True) -> dict:
    uttid = f"{spk}-{hit}_{image_id}_{cap_id}" if prefix else f"{hit}_{image_id}_{cap_id}"
    return {"text": text, "speaker": spk, "uttid": uttid, "wav": f"wavs/{split}/0/{uttid}.wav",
            "parse_tree": "( ( a b ) )"}


def real_corpus(root: Path, karpathy: bool = False) -> Path:
    """Nested train/val files (and Karpathy files: nested train, unrolled val/test); every wav but one exists."""
    coco = root / "SpokenCOCO"
    coco.mkdir(parents=True)
    texts = ["A DOG ON A BED", "a cat near a window.", "TWO MEN PLAY BALL", "A RED BUS", "A BOWL OF FRUIT",
             "A DOG ON A BED", "A TRAIN AT A STATION", "A MAN ON A HORSE"]
    train = {"data": []}
    for i in range(6):
        image = f"train2014/COCO_train2014_{i + 1:012d}.jpg"
        caps = [caption("m0a1", f"HIT{i}A", i + 1, 10 * i + 1, "train", texts[i]),
                caption("A2xy", f"HIT{i}B", i + 1, 10 * i + 2, "train", texts[(i + 3) % 8], prefix=i != 2)]
        train["data"].append({"image": image, "captions": caps})
    val = {"data": [{"image": f"val2014/COCO_val2014_{i + 100:012d}.jpg",
                     "captions": [caption("v1", f"VH{i}", i + 100, 500 + i, "val", texts[6 + i % 2])]}
                    for i in range(4)]}
    (coco / "SpokenCOCO_train.json").write_text(json.dumps(train))
    (coco / "SpokenCOCO_val.json").write_text(json.dumps(val))
    if karpathy:
        (coco / "SpokenCOCO_train_karpathy.json").write_text(json.dumps(train))
        for name, entries in (("val", val["data"][:2]), ("test", val["data"][2:])):
            unrolled = {"data": [{"image": e["image"], "caption": c} for e in entries for c in e["captions"]]}
            (coco / f"SpokenCOCO_{name}_unrolled_karpathy.json").write_text(json.dumps(unrolled))
    for data in (train, val):
        for entry in data["data"]:
            for cap in entry["captions"]:
                if cap["uttid"] != "m0a1-HIT5A_6_51":
                    write_wav(coco / cap["wav"])
    return coco


def test_prepare_real_layout(tmp_path, caplog):
    real_corpus(tmp_path)
    prep = prepare_spokencoco(tmp_path, split="original", text_fraction=0.5, seed=0)
    train = prep.sets["train"]
    assert len(set(train.extra["utt2image"].values())) + prep.counts["unpaired_text"]["images"] == 6
    # ids get the speaker prefix when the JSON's lacks it; captions are upper-cased with spaces collapsed
    assert all(u.startswith(s + "-") for d in prep.sets.values() for u, s in d.utt2spk.items())
    for d in prep.sets.values():
        assert all(t == " ".join(t.split()).upper() for t in d.text.values())
    dropped = sum(prep.counts[s]["no_audio"] for s in ("train", "dev", "test"))
    expected = 1 if "train2014/COCO_train2014_000000000006.jpg" in set(train.extra["utt2image"].values()) else 0
    assert dropped == expected
    # text: reserved captions only, minus those identical to a spoken caption ("A DOG ON A BED" is both)
    spoken = {t for d in prep.sets.values() for t in d.text.values()}
    assert prep.text and not set(prep.text) & spoken
    assert prep.counts["unpaired_text"]["captions"] + prep.counts["unpaired_text"]["dropped_same_as_spoken"] == 6
    assert len(prep.sets["dev"].utt2spk) == len(prep.sets["test"].utt2spk) == 2


def test_missing_audio_is_dropped_and_counted(tmp_path, caplog):
    real_corpus(tmp_path)
    image6 = "train2014/COCO_train2014_000000000006.jpg"
    images = sorted({f"train2014/COCO_train2014_{i:012d}.jpg" for i in range(1, 7)})
    seed = next(s for s in range(100) if image6 not in take_fraction(images, 0.5, s))
    prep = prepare_spokencoco(tmp_path, text_fraction=0.5, seed=seed)
    assert prep.counts["train"]["no_audio"] == 1
    assert "no audio file" in caplog.text and "m0a1-HIT5A_6_51" not in prep.sets["train"].utt2spk


def test_karpathy_split_reads_nested_and_unrolled(tmp_path):
    real_corpus(tmp_path, karpathy=True)
    prep = prepare_spokencoco(tmp_path, split="karpathy", text_fraction=0.5)
    assert set(prep.sets["dev"].extra["utt2image"].values()) == {f"val2014/COCO_val2014_{i:012d}.jpg"
                                                                 for i in (100, 101)}
    assert len(prep.sets["test"].utt2spk) == 2


def test_bad_input_errors_name_file_and_entry(tmp_path):
    coco = real_corpus(tmp_path)
    data = json.loads((coco / "SpokenCOCO_val.json").read_text())
    del data["data"][1]["captions"][0]["speaker"]
    (coco / "SpokenCOCO_val.json").write_text(json.dumps(data))
    with pytest.raises(SpeechSSLError, match=r"SpokenCOCO_val\.json: data\[1\]\.captions\[0\]: field 'speaker'"):
        prepare_spokencoco(tmp_path)
    (coco / "SpokenCOCO_val.json").write_text("{not json")
    with pytest.raises(SpeechSSLError, match="cannot read the SpokenCOCO JSON"):
        prepare_spokencoco(tmp_path)
    with pytest.raises(SpeechSSLError, match="karpathy"):
        prepare_spokencoco(tmp_path, split="karpathy")
    with pytest.raises(SpeechSSLError, match="no SpokenCOCO corpus"):
        prepare_spokencoco(tmp_path / "nowhere")


def test_cli_skips_rerun_and_refuses_changed_options(tmp_path, capsys):
    real_corpus(tmp_path / "corpus")
    out = tmp_path / "data"
    args = [str(tmp_path / "corpus"), str(out), "--text-fraction", "0.5"]
    assert prepare_cli.main(args) == 0
    text = (out / "local" / "unpaired_text.txt").read_text().splitlines()
    assert text and all(validate_data_dir(out / s, expected_sample_rate=16000).ok for s in ("train", "dev", "test"))
    assert prepare_cli.main(args) == 0
    assert prepare_cli.main(args[:2] + ["--text-fraction", "0.25"]) == 1
    assert "--redo true" in capsys.readouterr().err
    assert prepare_cli.main(args[:2] + ["--text-fraction", "0.25", "--redo", "true"]) == 0
