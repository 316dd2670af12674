"""SpokenCOCO (Hsu et al., 2021): spoken captions of MSCOCO images, prepared for UASR.

Target: the MIT distribution ``SpokenCOCO.tar.gz`` (linked from
https://groups.csail.mit.edu/sls/downloads/placesaudio/; the file is
https://data.csail.mit.edu/placesaudio/SpokenCOCO.tar.gz): about 600k
captions of the MSCOCO 2014 train and val images, each read by an Amazon
Mechanical Turk worker.  Fetch and unpack it by hand and point the recipe's
``db.sh`` (``SPOKENCOCO``) at the directory that holds ``SpokenCOCO/``.
MSCOCO's images are not needed.  Layout read::

    <root>/SpokenCOCO/SpokenCOCO_train.json     captions of the train2014 images
    <root>/SpokenCOCO/SpokenCOCO_val.json       captions of the val2014 images
    <root>/SpokenCOCO/wavs/{train,val}/<n>/<uttid>.wav     16 kHz mono

    {"data": [{"image": "train2014/COCO_train2014_000000000009.jpg",
               "captions": [{"text": "A PLATE OF FOOD ...", "speaker": "<speaker>",
                             "uttid": "<speaker>-<HIT id>_<image id>_<caption id>",
                             "wav": "wavs/train/0/<uttid>.wav"}, ...]}, ...]}

(other caption keys, e.g. ``parse_tree``, are ignored).  The Karpathy split
used by FaST-VGS and SpeechCLIP is read as well:
``SpokenCOCO_{train,val,test}_karpathy.json`` in the same form, or the
``*_unrolled_karpathy.json`` files with one ``{"image", "caption": {...}}``
entry per caption.

Sets (``split``):

``original``
    train: ``SpokenCOCO_train.json``; dev and test: the images of
    ``SpokenCOCO_val.json`` split in two halves by image (a seeded hash of the
    image path ranks the images; the first half is dev).
``karpathy``
    train, dev, test: the Karpathy train (with restval), val and test files.

Unpaired text ("reserved captions"): a fraction ``text_fraction`` of the
train images (the lowest-ranked by a seeded hash of the image path) give all
their captions to the unpaired text and none of their audio to training; the
other train images give their captions as speech.  So no caption whose audio
is in train is in the text, and dev/test captions never are.  Text lines equal
to a transcript of the prepared sets (COCO captions repeat, e.g. "A MAN
RIDING A WAVE ON TOP OF A SURFBOARD") are dropped and counted unless
``drop_overlap`` is off.

Data directories ``train``, ``dev``, ``test``: ``wav.scp``, ``text`` (the
caption in upper case, spaces collapsed), ``utt2spk`` (the JSON's speaker),
``spk2utt``, ``utt2image`` (the image path) and one ``utt2<name>`` table per
side file ``SpokenCOCO/SpokenCOCO_<x>.<name>.txt`` (``<uttid> value`` lines:
the stand-in's reference phones).  Utterance ids are the JSON's ``uttid``,
which starts with ``<speaker>-``; one that does not is prefixed with it.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from speechssl.data.datadir import DataDir
from speechssl.data.scp import read_table
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

SPLITS = ("original", "karpathy")
SET_NAMES = ("train", "dev", "test")
#: JSON file stems of each split, per set; for karpathy the unrolled file is read when the nested one is absent.
SPLIT_FILES = {
    "original": {"train": ("SpokenCOCO_train",), "val": ("SpokenCOCO_val",)},
    "karpathy": {"train": ("SpokenCOCO_train_karpathy", "SpokenCOCO_train_unrolled_karpathy"),
                 "dev": ("SpokenCOCO_val_karpathy", "SpokenCOCO_val_unrolled_karpathy"),
                 "test": ("SpokenCOCO_test_karpathy", "SpokenCOCO_test_unrolled_karpathy")},
}
_ID = re.compile(r"^[^\s/]+$")


@dataclass(frozen=True)
class Caption:
    """One spoken caption: utterance id, speaker, transcript, wav path (relative to SpokenCOCO/), image."""

    utt: str
    speaker: str
    text: str
    wav: str
    image: str
    source_uttid: str  # the JSON's uttid (side files are keyed by it)


def find_spokencoco_dir(root: str | Path) -> Path:
    """The ``SpokenCOCO`` directory at or below ``root``."""
    root = Path(root)
    for cand in (root / "SpokenCOCO", root):
        if any(cand.glob("SpokenCOCO_*.json")):
            return cand
    raise SpeechSSLError(f"{root}: no SpokenCOCO corpus here (expected {root}/SpokenCOCO/SpokenCOCO_train.json "
                         "and SpokenCOCO_val.json); unpack SpokenCOCO.tar.gz there and set SPOKENCOCO in db.sh")


def normalize_caption(text: str) -> str:
    """Upper case, whitespace collapsed (punctuation is left to the text side's normaliser)."""
    return " ".join(text.split()).upper()


def image_rank(image: str, seed: int) -> str:
    """A seeded, order-free rank of an image path (its position in a split is decided by this)."""
    return hashlib.sha1(f"{seed}:{image}".encode()).hexdigest()


def take_fraction(images: list[str], fraction: float, seed: int) -> set[str]:
    """The ``ceil(fraction * len(images))`` images of lowest :func:`image_rank`."""
    if not 0.0 <= fraction <= 1.0:
        raise SpeechSSLError(f"fraction {fraction} must be in [0, 1]")
    ranked = sorted(set(images), key=lambda im: (image_rank(im, seed), im))
    return set(ranked[:math.ceil(fraction * len(ranked))])


def _load_json(path: Path) -> list:
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SpeechSSLError(f"{path}: cannot read the SpokenCOCO JSON ({e}); re-extract it from SpokenCOCO.tar.gz")
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise SpeechSSLError(f"{path}: expected {{\"data\": [...]}} (a SpokenCOCO caption file)")
    return data["data"]


def read_captions(path: str | Path) -> Iterator[Caption]:
    """Captions of one SpokenCOCO JSON file (nested or unrolled), in file order.

    A missing or malformed field is an error naming the file, the entry and the field.
    """
    path = Path(path)
    for i, entry in enumerate(_load_json(path)):
        where = f"{path}: data[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
            raise SpeechSSLError(f"{where}: expected an object with an 'image' path")
        if "captions" in entry:
            caps = entry["captions"]
            if not isinstance(caps, list):
                raise SpeechSSLError(f"{where}: 'captions' must be a list")
        elif "caption" in entry:
            caps = [entry["caption"]]
        else:
            raise SpeechSSLError(f"{where}: no 'captions' list (or 'caption' of an unrolled file)")
        for j, cap in enumerate(caps):
            here = f"{where}.captions[{j}]" if "captions" in entry else f"{where}.caption"
            if not isinstance(cap, dict):
                raise SpeechSSLError(f"{here}: expected an object with text, speaker, uttid and wav")
            for key in ("text", "speaker", "wav"):
                if not isinstance(cap.get(key), str):
                    raise SpeechSSLError(f"{here}: field {key!r} is missing or not a string")
            speaker = cap["speaker"]
            uttid = cap.get("uttid") or Path(cap["wav"]).stem
            if not _ID.match(speaker) or not _ID.match(uttid):
                raise SpeechSSLError(f"{here}: speaker {speaker!r} / uttid {uttid!r} must be non-empty and have "
                                     "no whitespace or '/'")
            utt = uttid if uttid.startswith(f"{speaker}-") else f"{speaker}-{uttid}"
            yield Caption(utt, speaker, normalize_caption(cap["text"]), cap["wav"], entry["image"], uttid)


def split_json(coco_dir: Path, split: str, set_name: str) -> Path:
    """The JSON file of one set of a split (``val`` for both dev and test of ``original``)."""
    for stem in SPLIT_FILES[split][set_name]:
        if (coco_dir / f"{stem}.json").is_file():
            return coco_dir / f"{stem}.json"
    raise SpeechSSLError(f"{coco_dir}: no {' or '.join(s + '.json' for s in SPLIT_FILES[split][set_name])} "
                         f"(split {split!r}); check the corpus location in db.sh"
                         + (" or use --split original" if split == "karpathy" else ""))


def read_side_tables(coco_dir: Path) -> dict[str, dict[str, str]]:
    """``utt2<name>`` tables from ``SpokenCOCO_<x>.<name>.txt`` side files, keyed by the JSON uttid."""
    tables: dict[str, dict[str, str]] = {}
    for path in sorted(coco_dir.glob("SpokenCOCO_*.*.txt")):
        name = path.name[: -len(".txt")].rsplit(".", 1)[1]
        table = tables.setdefault(f"utt2{name}", {})
        for utt, value, _ in read_table(path, allow_empty_value=True):
            table[utt] = value
    return tables


@dataclass
class Prepared:
    """Data directories by set name, the unpaired text lines, and the counts."""

    sets: dict[str, DataDir]
    text: list[str]
    counts: dict


def _data_dir(coco_dir: Path, captions: list[Caption], side: dict[str, dict[str, str]],
              set_name: str, dropped: dict[str, int]) -> DataDir:
    d = DataDir(text={}, extra={"utt2image": {}})
    for c in captions:
        if c.utt in d.utt2spk:
            raise SpeechSSLError(f"{set_name}: utterance id {c.utt} occurs twice (image {c.image}); "
                                 "the JSON files are corrupt: re-extract them")
        wav = coco_dir / c.wav
        if not wav.is_file():
            log.warning("%s: no audio file %s (utterance %s); dropped", set_name, wav, c.utt)
            dropped["no_audio"] += 1
            continue
        if not c.text:
            log.warning("%s: utterance %s has an empty caption; dropped", set_name, c.utt)
            dropped["empty_text"] += 1
            continue
        d.wav_scp[c.utt] = str(wav.resolve())
        d.text[c.utt] = c.text
        d.utt2spk[c.utt] = c.speaker
        d.extra["utt2image"][c.utt] = c.image
    if not d.utt2spk:
        raise SpeechSSLError(f"{coco_dir}: set {set_name} has no utterance with audio (expected the wav files "
                             "named in the JSON, under wavs/)")
    for name, table in side.items():
        rows = {c.utt: table[c.source_uttid] for c in captions
                if c.utt in d.utt2spk and c.source_uttid in table}
        if len(rows) < len(d.utt2spk):
            log.warning("%s: %s lacks %d of %d utterances", set_name, name, len(d.utt2spk) - len(rows),
                        len(d.utt2spk))
        d.extra[name] = rows
    return d


def prepare_spokencoco(root: str | Path, split: str = "original", text_fraction: float = 0.5, seed: int = 0,
                       drop_overlap: bool = True) -> Prepared:
    """Read the corpus and build the train/dev/test data directories and the unpaired text (see the module doc)."""
    if split not in SPLITS:
        raise SpeechSSLError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    coco_dir = find_spokencoco_dir(root)
    side = read_side_tables(coco_dir)
    if split == "original":
        train = list(read_captions(split_json(coco_dir, split, "train")))
        val = list(read_captions(split_json(coco_dir, split, "val")))
        dev_images = take_fraction([c.image for c in val], 0.5, seed)
        evals = {"dev": [c for c in val if c.image in dev_images],
                 "test": [c for c in val if c.image not in dev_images]}
    else:
        train = list(read_captions(split_json(coco_dir, split, "train")))
        evals = {s: list(read_captions(split_json(coco_dir, split, s))) for s in ("dev", "test")}
    train_images = sorted({c.image for c in train})
    eval_images = {c.image for caps in evals.values() for c in caps}
    shared = eval_images.intersection(train_images)
    if shared:
        raise SpeechSSLError(f"{coco_dir}: {len(shared)} image(s) are in both train and dev/test "
                             f"(e.g. {sorted(shared)[0]}); the split files are inconsistent")
    text_images = take_fraction(train_images, text_fraction, seed)
    speech = {"train": [c for c in train if c.image not in text_images], **evals}

    counts: dict = {"split": split, "text_fraction": text_fraction, "seed": seed}
    sets = {}
    for name in SET_NAMES:
        dropped = {"no_audio": 0, "empty_text": 0}
        sets[name] = _data_dir(coco_dir, speech[name], side, name, dropped)
        d = sets[name]
        counts[name] = {"utterances": len(d.utt2spk), "speakers": len(set(d.utt2spk.values())),
                        "images": len(set(d.extra["utt2image"].values())), **dropped}
        log.info("%s: %d utterances, %d speakers, %d images, dropped %s", name, len(d.utt2spk),
                 counts[name]["speakers"], counts[name]["images"], dropped)

    spoken = {t for d in sets.values() for t in d.text.values()}
    text, overlap, empty = [], 0, 0
    for c in train:
        if c.image not in text_images:
            continue
        if not c.text:
            empty += 1
        elif drop_overlap and c.text in spoken:
            overlap += 1
        else:
            text.append(c.text)
    counts["unpaired_text"] = {"images": len(text_images), "captions": len(text), "dropped_same_as_spoken": overlap,
                               "dropped_empty": empty}
    log.info("unpaired text: %d captions of %d reserved train images (%d dropped: the same text as a spoken "
             "caption of train/dev/test; %d empty)", len(text), len(text_images), overlap, empty)
    if not text:
        raise SpeechSSLError(f"{coco_dir}: the unpaired text is empty; raise --text-fraction "
                             f"(now {text_fraction})")
    return Prepared(sets, text, counts)


def write_prepared(prepared: Prepared, out_dirs: dict[str, Path], text_path: Path) -> None:
    """Save the data directories and the unpaired text (one caption a line)."""
    for name, d in prepared.sets.items():
        d.save(out_dirs[name])
    with atomic_write(text_path) as f:
        f.writelines(t + "\n" for t in prepared.text)
