"""Synthesized stand-in for SpokenCOCO: espeak-ng readers of "captions" in SpokenCOCO's exact layout.

There are no MSCOCO captions offline, so the "captions" are English
sentences from Debian text packages (:mod:`speechssl.text.sentences`:
WordNet examples and fortunes), grouped ``captions_per_image`` to a fake
image (``train2014/COCO_train2014_<id>.jpg``; no image file exists).  Each
caption is read by a different speaker of its split's pool (espeak-ng
voices: accent, variant, pitch and rate; train and val pools are disjoint).
Layout (``<root>/SpokenCOCO``), as in the real corpus::

    SpokenCOCO_train.json, SpokenCOCO_val.json
        {"data": [{"image": ..., "captions": [{"text": "UPPER CASE CAPTION", "speaker": ...,
                   "uttid": "<speaker>-<HIT id>_<image id>_<caption id>", "wav": "wavs/<split>/<n>/<uttid>.wav"}]}]}
    wavs/{train,val}/<n>/<uttid>.wav    16 kHz mono 16-bit PCM, <n> = image index // 100

and our own files beside it::

    SpokenCOCO_{train,val}.phones.txt   "<uttid> p p | p p ...": the IPA phones espeak-ng spoke (words
                                        separated by "|", no silence tokens), read as utt2phones
    standin_speakers.txt                speaker | sex | split | accent | variant | pitch | rate
    standin_manifest.json               done-marker: the configuration and a summary

Every caption has audio, including those of the images that the recipe
reserves for the unpaired text (as in the real corpus).  The same
configuration gives the same bytes whatever the number of jobs; a killed
run resumes at the first unfinished image.
"""
from __future__ import annotations

import json
import multiprocessing
import shutil
import string
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly
from tqdm import tqdm

from speechssl.corpora.standin.align import align_events
from speechssl.corpora.standin.chapter import SAMPLE_RATE, WORD_SEP, engine
from speechssl.text.sentences import SOURCES, load_sentences, normalize_transcript, words_of
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.yaml_file import read_yaml
from speechssl.utils.log import get_logger
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)

MANIFEST = "standin_manifest.json"
SPEAKERS = "standin_speakers.txt"
SPLITS = ("train", "val")
_WORK = ".spokencoco_standin_work"
_IMAGES_PER_DIR = 100


@dataclass(frozen=True)
class CocoStandinConfig:
    """Everything that determines the stand-in; voices as in :class:`~speechssl.corpora.standin.StandinConfig`."""

    train_images: int
    val_images: int
    captions_per_image: int = 5
    train_speakers: int = 20
    val_speakers: int = 8
    seed: int = 1
    sources: tuple[str, ...] = SOURCES
    min_words: int = 5
    max_words: int = 14
    accents: tuple[str, ...] = ("en-us",)
    variants: tuple[str, ...] = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
    pitch: tuple[int, int] = (30, 70)
    rate: tuple[int, int] = (140, 190)
    padding_s: tuple[float, float] = (0.1, 0.3)
    noise_dbfs: float | None = -60.0
    where: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        def bad(key: str, what: str) -> SpeechSSLError:
            return SpeechSSLError(f"{self.where or 'stand-in config'}: {key}: {what}")

        for key in ("train_images", "val_images", "captions_per_image", "train_speakers", "val_speakers"):
            if getattr(self, key) < 1:
                raise bad(key, f"must be at least 1, got {getattr(self, key)}")
        for split in SPLITS:
            if getattr(self, f"{split}_speakers") < self.captions_per_image:
                raise bad(f"{split}_speakers", f"needs at least captions_per_image={self.captions_per_image} "
                          "speakers (each caption of an image has its own reader)")
        if not self.sources or any(s not in SOURCES for s in self.sources):
            raise bad("sources", f"choose from {', '.join(SOURCES)}, got {list(self.sources)}")
        if not 1 <= self.min_words <= self.max_words:
            raise bad("min_words/max_words",
                      f"need 1 <= min_words <= max_words, got {self.min_words}, {self.max_words}")
        if not self.accents or not self.variants:
            raise bad("accents/variants", "give at least one accent and one variant")
        for key, lo, hi in (("pitch", 0, 99), ("rate", 80, 450)):
            a, b = getattr(self, key)
            if not lo <= a <= b <= hi:
                raise bad(key, f"need {lo} <= min <= max <= {hi}, got [{a}, {b}]")
        if not 0 <= self.padding_s[0] <= self.padding_s[1]:
            raise bad("padding_s", f"need 0 <= min <= max, got {list(self.padding_s)}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("where")
        return d


def coco_standin_config_from_dict(raw: dict[str, Any], where: str = "stand-in config") -> CocoStandinConfig:
    """Build a :class:`CocoStandinConfig` from a mapping (as read from YAML), naming bad keys."""
    if not isinstance(raw, dict):
        raise SpeechSSLError(f"{where}: expected a mapping of options, got {type(raw).__name__}")
    known = {f.name: f for f in fields(CocoStandinConfig) if f.name != "where"}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise SpeechSSLError(f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    missing = [k for k in ("train_images", "val_images") if k not in raw]
    if missing:
        raise SpeechSSLError(f"{where}: {', '.join(missing)} required")
    kwargs: dict[str, Any] = {"where": where}
    try:
        for key, value in raw.items():
            if key in ("sources", "accents", "variants"):
                kwargs[key] = tuple(str(v) for v in ([value] if isinstance(value, str) else value))
            elif key in ("pitch", "rate", "padding_s"):
                kind = float if key == "padding_s" else int
                if not isinstance(value, (list, tuple)) or len(value) != 2:
                    raise ValueError
                kwargs[key] = (kind(value[0]), kind(value[1]))
            elif key == "noise_dbfs":
                kwargs[key] = None if value is None else float(value)
            else:
                kwargs[key] = int(value)
    except (TypeError, ValueError):
        raise SpeechSSLError(f"{where}: {key}: bad value {value!r}") from None
    return CocoStandinConfig(**kwargs)


def load_coco_standin_config(path: str | Path) -> CocoStandinConfig:
    """Read the stand-in configuration from YAML (see ``egs/spokencoco/uasr1/conf/standin.yaml``)."""
    path = Path(path)
    raw = read_yaml(path, "stand-in config file")
    return coco_standin_config_from_dict(raw, where=str(path))


@dataclass(frozen=True)
class Reader:
    id: str
    sex: str
    split: str
    accent: str
    voice: str  # espeak-ng voice of the accent
    variant: str
    pitch: int
    rate: int


@dataclass(frozen=True)
class CaptionJob:
    uttid: str
    sentence: str  # cleaned, punctuated: what espeak-ng reads
    reader: Reader
    wav: str  # relative to SpokenCOCO/


@dataclass(frozen=True)
class ImageJob:
    split: str
    index: int
    image: str
    captions: tuple[CaptionJob, ...]
    record: Path
    coco_dir: Path
    seed: int
    padding_s: tuple[float, float]
    noise_dbfs: float | None


def _random_id(rng: np.random.Generator, length: int, alphabet: str) -> str:
    return "".join(alphabet[i] for i in rng.integers(len(alphabet), size=length))


def _draw_readers(config: CocoStandinConfig, rng: np.random.Generator, voices: dict[str, str],
                  genders: dict[str, str]) -> dict[str, list[Reader]]:
    by_sex = {sex: [v for v in config.variants if genders[v] == sex] for sex in ("F", "M")}
    sexes = [s for s in ("F", "M") if by_sex[s]]
    used_ids: set[str] = set()
    used_voices: set[tuple] = set()
    pools: dict[str, list[Reader]] = {}
    for split in SPLITS:
        pool = []
        for k in range(getattr(config, f"{split}_speakers")):
            sex = sexes[k % len(sexes)]
            for _ in range(1000):
                voice = (config.accents[rng.integers(len(config.accents))],
                         by_sex[sex][rng.integers(len(by_sex[sex]))],
                         int(rng.integers(config.pitch[0], config.pitch[1] + 1)),
                         int(rng.integers(config.rate[0], config.rate[1] + 1)))
                if voice not in used_voices:
                    break
            else:
                raise SpeechSSLError(f"{config.where or 'stand-in config'}: cannot find enough distinct voices; "
                                     "widen the pitch or rate range or give more variants")
            used_voices.add(voice)
            rid = "a" + _random_id(rng, 12, string.ascii_lowercase + string.digits)
            if rid in used_ids:
                raise SpeechSSLError("speaker id collision; change the seed")
            used_ids.add(rid)
            accent, variant, pitch, rate = voice
            pool.append(Reader(rid, sex, split, accent, voices[accent], variant, pitch, rate))
        pools[split] = pool
    return pools


def plan_images(config: CocoStandinConfig, sentences: list[str], voices: dict[str, str], genders: dict[str, str],
                coco_dir: Path, work: Path) -> tuple[list[ImageJob], dict[str, list[Reader]]]:
    """Images, their captions and readers, drawn from ``config.seed``."""
    per = config.captions_per_image
    n_images = config.train_images + config.val_images
    need = n_images * per
    if len(sentences) < need:
        raise SpeechSSLError(f"{config.where or 'stand-in config'}: needs {need} sentences, but the sources "
                             f"{list(config.sources)} give only {len(sentences)} of {config.min_words}-"
                             f"{config.max_words} words; lower the sizes or widen the word range")
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(sentences))[:need]
    pools = _draw_readers(config, rng, voices, genders)
    image_ids = rng.choice(np.arange(1, 600000), size=n_images, replace=False)
    caption_ids = rng.choice(np.arange(1, 1000000), size=need, replace=False)
    jobs = []
    k = 0
    for split in SPLITS:
        folder = "train2014" if split == "train" else "val2014"
        for index in range(getattr(config, f"{split}_images")):
            image_id = int(image_ids[len(jobs)])
            readers = rng.choice(len(pools[split]), size=per, replace=False)
            caps = []
            for r in readers:
                reader = pools[split][int(r)]
                hit = _random_id(rng, 30, string.ascii_uppercase + string.digits)
                uttid = f"{reader.id}-{hit}_{image_id}_{int(caption_ids[k])}"
                caps.append(CaptionJob(uttid, sentences[order[k]], reader,
                                       f"wavs/{split}/{index // _IMAGES_PER_DIR}/{uttid}.wav"))
                k += 1
            jobs.append(ImageJob(split, index, f"{folder}/COCO_{folder}_{image_id:012d}.jpg", tuple(caps),
                                 work / split / f"{index}.json", coco_dir, config.seed, config.padding_s,
                                 config.noise_dbfs))
    return jobs, pools


def synthesize_image(job: ImageJob) -> dict:
    """Write the wav files of one image's captions; return (and record) their phones and durations."""
    eng = engine()
    record: dict = {}
    for c, cap in enumerate(job.captions):
        r = cap.reader
        words = [cap.sentence[a:b].lower() for a, b in words_of(cap.sentence)]
        syn = eng.synthesize(cap.sentence, f"{r.voice}+{r.variant}", r.pitch, r.rate, words)
        al = align_events(cap.sentence, syn)
        rng = np.random.default_rng([job.seed, SPLITS.index(job.split), job.index, c])
        lead, trail = (int(round(rng.uniform(*job.padding_s) * SAMPLE_RATE)) for _ in range(2))
        speech = resample_poly(syn.samples.astype(np.float64), SAMPLE_RATE, syn.sample_rate)
        audio = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
        if job.noise_dbfs is not None:
            audio += rng.normal(0.0, 32767 * 10 ** (job.noise_dbfs / 20), len(audio))
        audio = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
        with atomic_write(job.coco_dir / cap.wav, "wb") as f:
            sf.write(f, audio, SAMPLE_RATE, format="WAV", subtype="PCM_16")
        record[cap.uttid] = {"phones": f" {WORD_SEP} ".join(" ".join(p) for p in al.word_phones),
                             "seconds": len(audio) / SAMPLE_RATE, "words": len(words),
                             "as_said_alone": sum(p == q for p, q in zip(al.word_phones, syn.word_prons))}
    with atomic_write(job.record) as f:
        json.dump(record, f, sort_keys=True)
    return record


def _run(jobs: list[ImageJob], nj: int) -> None:
    pending = [j for j in jobs if not j.record.is_file()]
    if len(pending) < len(jobs):
        log.info("resuming: %d of %d images already synthesized", len(jobs) - len(pending), len(jobs))
    for j in pending:
        j.record.parent.mkdir(parents=True, exist_ok=True)
    total = sum(len(j.captions) for j in jobs)
    done = total - sum(len(j.captions) for j in pending)
    progress = dict(total=total, initial=done, desc="synthesize", unit="utt", disable=None)
    if nj <= 1 or len(pending) <= 1:
        with tqdm(**progress) as bar:
            for j in pending:
                bar.update(len(synthesize_image(j)))
        return
    # fork before tqdm starts its thread: workers inherit the initialised espeak-ng engine
    with multiprocessing.get_context("fork").Pool(min(nj, len(pending))) as pool, tqdm(**progress) as bar:
        for record in pool.imap_unordered(synthesize_image, pending):
            bar.update(len(record))


def _write_tables(coco_dir: Path, jobs: list[ImageJob], pools: dict[str, list[Reader]]) -> dict:
    summary: dict = {}
    words = same = 0
    for split in SPLITS:
        data, phones, seconds = [], [], 0.0
        for j in (j for j in jobs if j.split == split):
            rec = json.loads(j.record.read_text())
            caps = []
            for cap in j.captions:
                caps.append({"text": normalize_transcript(cap.sentence), "speaker": cap.reader.id,
                             "uttid": cap.uttid, "wav": cap.wav})
                phones.append(f"{cap.uttid} {rec[cap.uttid]['phones']}\n")
                seconds += rec[cap.uttid]["seconds"]
                words += rec[cap.uttid]["words"]
                same += rec[cap.uttid]["as_said_alone"]
            data.append({"image": j.image, "captions": caps})
        with atomic_write(coco_dir / f"SpokenCOCO_{split}.json") as f:
            json.dump({"data": data}, f)
        with atomic_write(coco_dir / f"SpokenCOCO_{split}.phones.txt") as f:
            f.writelines(phones)
        summary[split] = {"images": len(data), "captions": len(phones), "speakers": len(pools[split]),
                          "hours": round(seconds / 3600, 4)}
    with atomic_write(coco_dir / SPEAKERS) as f:
        f.write("; espeak-ng readers of the speechssl SpokenCOCO stand-in (voices, not people)\n")
        f.write(";ID           | SEX | SPLIT | ACCENT | VARIANT | PITCH | RATE\n")
        for split in SPLITS:
            for r in sorted(pools[split], key=lambda r: r.id):
                f.write(f"{r.id} | {r.sex} | {r.split} | {r.accent} | {r.variant} | {r.pitch} | {r.rate}\n")
    summary["phones"] = {"words": words, "same_as_word_said_alone": round(same / max(words, 1), 4)}
    return summary


def synthesize_spokencoco(root: str | Path, config: CocoStandinConfig, nj: int = 2, redo: bool = False) -> dict:
    """Write the stand-in under ``<root>/SpokenCOCO`` and return its summary.

    A finished stand-in with the same configuration is kept; another
    configuration is refused unless ``redo``; an existing ``SpokenCOCO`` that
    we did not write (the real corpus) is never touched.
    """
    root = Path(root)
    coco_dir, work = root / "SpokenCOCO", root / _WORK
    marker = StageMarker(coco_dir / MANIFEST, "synthesize_spokencoco", {**config.to_dict(), "format": 1})
    ours = (coco_dir / MANIFEST).is_file() or work.is_dir()
    if coco_dir.exists() and not ours:
        raise SpeechSSLError(f"{coco_dir} exists and was not written by synthesize_spokencoco (no {MANIFEST}); "
                             "it may be the real corpus. Give another root directory")
    if redo and ours:
        log.info("--redo: removing the stand-in in %s", root)
        marker.clear([coco_dir, work])
    done = json.loads((work / "config.json").read_text()) if (work / "config.json").is_file() else None
    if done is not None and done["hash"] != marker.digest:
        raise SpeechSSLError(f"{root} holds an unfinished SpokenCOCO stand-in made with another configuration; "
                             "rerun with --redo true to discard it, or give another root directory")
    if not marker.needs_run([coco_dir / f"SpokenCOCO_{s}.json" for s in SPLITS]):
        return marker.read()["summary"]

    eng = engine()
    voices = {a: eng.resolve_accent(a) for a in config.accents}
    genders = {v: eng.variant_gender(v) for v in config.variants}
    sentences = load_sentences(config.sources, config.min_words, config.max_words)
    jobs, pools = plan_images(config, sentences, voices, genders, coco_dir, work)
    with atomic_write(work / "config.json") as f:
        json.dump({"hash": marker.digest, "config": config.to_dict()}, f, indent=2, sort_keys=True)
    log.info("synthesizing %d captions of %d images with %d jobs (espeak-ng %s)",
             sum(len(j.captions) for j in jobs), len(jobs), nj, eng.version)
    _run(jobs, nj)
    summary = {"espeak_ng": eng.version, "sample_rate": SAMPLE_RATE, **_write_tables(coco_dir, jobs, pools)}
    outputs = [coco_dir / f"SpokenCOCO_{s}{ext}" for s in SPLITS for ext in (".json", ".phones.txt")]
    marker.write(outputs + [coco_dir / SPEAKERS, coco_dir / "wavs"], summary)
    shutil.rmtree(work)
    for split in SPLITS:
        log.info("%s: %s", split, summary[split])
    return summary
