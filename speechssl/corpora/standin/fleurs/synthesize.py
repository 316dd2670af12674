"""Synthesize the FLEURS stand-in: espeak-ng voices reading real sentences of each language.

For each language and split, ``sentences`` sentences are drawn (seeded) from
the language's Debian text (:mod:`.text`); each is read by 1 to
``max_recordings`` different voices of the split's voice pool (splits have
disjoint pools), as FLEURS sentences are read by a few speakers.  A voice is
an espeak-ng variant with a pitch and rate; its gender comes from the variant.
File names are FLEURS-like 19-digit numbers, sentence ids 1-based integers.
"""
from __future__ import annotations

import gzip
import io
import json
import multiprocessing
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from speechssl.corpora.fleurs import SPLITS
from speechssl.corpora.fleurs_langs import LANGUAGES, get_language
from speechssl.corpora.standin.align import align_events
from speechssl.corpora.standin.chapter import SAMPLE_RATE, WORD_SEP, engine
from speechssl.corpora.standin.fleurs.config import FleursStandinConfig
from speechssl.corpora.standin.fleurs.text import load_sentences, normalize_sentence, word_spans
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)

MANIFEST = "standin_manifest.json"
UNPAIRED_TEXT = "unpaired_text.txt"


@dataclass(frozen=True)
class Voice:
    variant: str
    gender: str  # MALE or FEMALE
    pitch: int
    rate: int


@dataclass(frozen=True)
class Recording:
    sentence_id: int
    sentence: str
    file_name: str
    voice: Voice
    espeak: str  # espeak-ng voice of the language
    wav: Path
    seed: tuple[int, ...]


def _latin_mask(sentence: str) -> str:
    """``sentence`` with every letter replaced by ``a``: the same word spans for the
    ASCII word pattern of :func:`~speechssl.corpora.standin.align.align_events`."""
    return "".join("a" if c.isalpha() else c for c in sentence)


def synthesize_recording(job: tuple[Recording, FleursStandinConfig]) -> tuple[str, int, str]:
    """Write one WAV; return its file name, number of samples and reference phones."""
    rec, config = job
    words = [w.lower() for w in (rec.sentence[a:b] for a, b in word_spans(rec.sentence))]
    v = rec.voice
    syn = engine().synthesize(rec.sentence, f"{rec.espeak}+{v.variant}", v.pitch, v.rate, words)
    al = align_events(_latin_mask(rec.sentence), syn)
    rng = np.random.default_rng(rec.seed)
    lead, trail = (int(round(rng.uniform(*config.padding_s) * SAMPLE_RATE)) for _ in range(2))
    speech = resample_poly(syn.samples.astype(np.float64), SAMPLE_RATE, syn.sample_rate)
    audio = np.concatenate([np.zeros(lead), speech, np.zeros(trail)])
    if config.noise_dbfs is not None:
        audio += rng.normal(0.0, 32767 * 10 ** (config.noise_dbfs / 20), len(audio))
    audio = np.clip(np.round(audio), -32768, 32767).astype(np.int16)
    with atomic_write(rec.wav, "wb") as f:
        sf.write(f, audio, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    phones = f" {WORD_SEP} ".join(" ".join(p) for p in al.word_phones if p)
    return rec.file_name, len(audio), phones


def _voice_pools(config: FleursStandinConfig, rng: np.random.Generator) -> dict[str, list[Voice]]:
    """Disjoint pools of distinct voices, one per split."""
    genders = {v: engine().variant_gender(v) for v in config.variants}
    used: set[Voice] = set()
    pools: dict[str, list[Voice]] = {}
    for split in SPLITS:
        pool = []
        while len(pool) < config.voices_per_split:
            variant = config.variants[rng.integers(len(config.variants))]
            voice = Voice(variant, "MALE" if genders[variant] == "M" else "FEMALE",
                          int(rng.integers(config.pitch[0], config.pitch[1] + 1)),
                          int(rng.integers(config.rate[0], config.rate[1] + 1)))
            if voice not in used:
                used.add(voice)
                pool.append(voice)
        pools[split] = pool
    return pools


def _plan_language(lang: str, config: FleursStandinConfig, lang_dir: Path
                   ) -> tuple[dict[str, list[Recording]], list[str]]:
    """Recordings per split and the unpaired sentences of one language (seeded by the
    language's place in the FLEURS table, so adding a language changes no other)."""
    lang_index = list(LANGUAGES).index(lang)
    espeak = get_language(lang).espeak
    sentences = load_sentences(lang, config.min_words, config.max_words)
    need = sum(config.sentences[s] for s in SPLITS) + config.unpaired_sentences
    if len(sentences) < need:
        raise SpeechSSLError(f"{config.where}: {lang} needs {need} sentences (spoken + unpaired) but its text "
                             f"source gives {len(sentences)}; lower the sizes")
    rng = np.random.default_rng([config.seed, lang_index])
    order = rng.permutation(len(sentences))
    pools = _voice_pools(config, rng)
    total = sum(config.sentences.values())
    ids = np.sort(rng.choice(np.arange(1, max(2010, 2 * total)), size=total, replace=False))
    plan: dict[str, list[Recording]] = {}
    k = 0
    for s_index, split in enumerate(SPLITS):
        recs = []
        for _ in range(config.sentences[split]):
            n = int(rng.integers(1, config.max_recordings + 1))
            for voice_i in rng.choice(len(pools[split]), size=n, replace=False):
                name = f"{int(rng.integers(10 ** 17, 10 ** 18)) * 10 + int(rng.integers(10))}.wav"
                recs.append(Recording(int(ids[k]), sentences[order[k]], name, pools[split][voice_i], espeak,
                                      lang_dir / "audio" / split / name, (config.seed, lang_index, s_index,
                                                                          len(recs))))
            k += 1
        plan[split] = recs
    unpaired = [sentences[i] for i in order[k:k + config.unpaired_sentences]]
    return plan, unpaired


def _char_tokens(words: str) -> str:
    """FLEURS's character-tokenised column: characters separated by spaces, ``|`` between words."""
    return " ".join(" ".join(w) + " |" for w in words.split())


def _write_archive(audio_dir: Path, split: str) -> None:
    """``audio/<split>.tar.gz`` with members ``<split>/<file>`` (sorted, fixed metadata: reproducible bytes)."""
    with atomic_write(audio_dir / f"{split}.tar.gz", "wb") as f:
        with gzip.GzipFile(filename="", fileobj=f, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
            for wav in sorted((audio_dir / split).glob("*.wav")):
                info = tarfile.TarInfo(f"{split}/{wav.name}")
                data = wav.read_bytes()
                info.size, info.mode, info.mtime = len(data), 0o644, 0
                tar.addfile(info, io.BytesIO(data))
    shutil.rmtree(audio_dir / split)


def synthesize_language(root: Path, lang: str, config: FleursStandinConfig, nj: int) -> dict:
    """Write ``<root>/data/<lang>/`` (TSVs, audio, phones, unpaired text); return its summary."""
    lang_dir = root / "data" / lang
    plan, unpaired = _plan_language(lang, config, lang_dir)
    summary: dict = {"espeak": get_language(lang).espeak, "splits": {}}
    for split, recs in plan.items():
        (lang_dir / "audio" / split).mkdir(parents=True, exist_ok=True)
        jobs = [(r, config) for r in recs]
        if nj > 1:
            with multiprocessing.get_context("fork").Pool(nj) as pool:
                results = pool.map(synthesize_recording, jobs, chunksize=8)
        else:
            results = [synthesize_recording(j) for j in jobs]
        with atomic_write(lang_dir / f"{split}.tsv") as tsv, atomic_write(lang_dir / f"{split}.phones.txt") as ph:
            for rec, (name, num, phones) in zip(recs, results):
                words = normalize_sentence(rec.sentence)
                tsv.write("\t".join([str(rec.sentence_id), name, rec.sentence, words, _char_tokens(words), str(num),
                                     rec.voice.gender]) + "\n")
                ph.write(f"{name} {phones}\n")
        if config.archive:
            _write_archive(lang_dir / "audio", split)
        summary["splits"][split] = {
            "recordings": len(recs), "sentences": len({r.sentence_id for r in recs}),
            "hours": round(sum(n for _, n, _ in results) / SAMPLE_RATE / 3600, 4),
            "voices": len({r.voice for r in recs})}
        log.info("%s %s: %s", lang, split, summary["splits"][split])
    with atomic_write(lang_dir / UNPAIRED_TEXT) as f:
        f.writelines(s + "\n" for s in unpaired)
    summary["unpaired_sentences"] = len(unpaired)
    return summary


def synthesize_fleurs_standin(root: str | Path, config: FleursStandinConfig, nj: int = 2, redo: bool = False) -> dict:
    """Synthesize every language of ``config`` under ``<root>/data``; return the summary.

    A finished stand-in with the same configuration is not redone; another
    configuration is refused unless ``redo``.  A directory ``data/<lang>`` not
    written by us (no manifest) is never touched.
    """
    root = Path(root)
    marker = StageMarker(root / MANIFEST, "synthesize_fleurs_standin", {**config.to_dict(), "format": 1})
    outputs = [root / "data" / lang for lang in config.langs]
    for lang in config.langs:
        if (root / "data" / lang).exists() and not (root / MANIFEST).is_file():
            raise SpeechSSLError(f"{root / 'data' / lang} exists and was not written by the stand-in synthesizer "
                                 f"(no {root / MANIFEST}); it may be the real corpus. Give another directory")
    if not marker.needs_run(outputs, redo=redo):
        return marker.read()["summary"]
    for lang in config.langs:
        shutil.rmtree(root / "data" / lang, ignore_errors=True)
    eng = engine()
    log.info("synthesizing the FLEURS stand-in for %s with %d jobs (espeak-ng %s)", " ".join(config.langs), nj,
             eng.version)
    summary = {"espeak_ng": eng.version, "sample_rate": SAMPLE_RATE,
               "langs": {lang: synthesize_language(root, lang, config, nj) for lang in config.langs}}
    marker.write(outputs, summary)
    return summary


def load_standin_summary(root: str | Path) -> dict:
    """The summary recorded by :func:`synthesize_fleurs_standin`."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise SpeechSSLError(f"{path}: no FLEURS stand-in manifest; synthesize the stand-in first")
    return json.loads(path.read_text(encoding="utf-8"))["summary"]
