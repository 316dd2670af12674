"""Synthesize the whole stand-in corpus: plan, parallel chapters, tables, manifest."""
from __future__ import annotations

import json
import multiprocessing
import shutil
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from speechssl.corpora.standin.chapter import SAMPLE_RATE, ChapterJob, engine, synthesize_chapter
from speechssl.corpora.standin.config import StandinConfig
from speechssl.corpora.standin.plan import CorpusPlan, plan_corpus
from speechssl.corpora.standin.tables import write_chapters, write_speakers, write_voices
from speechssl.text.sentences import load_sentences
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)

MANIFEST = "standin_manifest.json"
UNPAIRED_TEXT = "unpaired_text.txt"
_WORK = ".standin_work"  # per-chapter records of an unfinished run, beside LibriSpeech/


def _marker(libri: Path, config: StandinConfig) -> StageMarker:
    return StageMarker(libri / MANIFEST, "synthesize_standin", {**config.to_dict(), "standin_format": 1})


def _check_ownership(root: Path, libri: Path, work: Path, marker: StageMarker, redo: bool) -> None:
    """Refuse to touch a LibriSpeech directory we did not write; clear ours on ``redo``."""
    ours = (libri / MANIFEST).is_file() or work.is_dir()
    if libri.exists() and not ours:
        raise SpeechSSLError(f"{libri} exists and was not written by synthesize_standin (no {MANIFEST}); "
                             "it may be the real corpus. Give another root directory")
    if redo and ours:
        log.info("--redo: removing the stand-in corpus in %s", root)
        marker.clear([libri, work])
        return
    done = json.loads((work / "config.json").read_text()) if (work / "config.json").is_file() else None
    if done is not None and done.get("hash") != marker.digest and not (libri / MANIFEST).is_file():
        raise SpeechSSLError(f"{root} holds an unfinished stand-in corpus made with another configuration; "
                             "rerun with --redo true to discard it, or give another root directory")


def _jobs(plan: CorpusPlan, config: StandinConfig, libri: Path, work: Path) -> list[ChapterJob]:
    return [ChapterJob(c, libri / c.speaker.subset / str(c.speaker.id) / str(c.chapter_id),
                       work / c.speaker.subset / f"{c.stem}.json", config.seed, config.padding_s,
                       config.noise_dbfs, config.min_pause_ms)
            for c in plan.chapters]


def _run_jobs(jobs: list[ChapterJob], nj: int) -> None:
    pending = [j for j in jobs if not j.record.is_file()]
    total = sum(len(j.chapter.utterances) for j in jobs)
    done = total - sum(len(j.chapter.utterances) for j in pending)
    if done:
        log.info("resuming: %d of %d chapters already synthesized", len(jobs) - len(pending), len(jobs))
    for j in pending:
        j.chapter_dir.mkdir(parents=True, exist_ok=True)
        j.record.parent.mkdir(parents=True, exist_ok=True)
    progress = dict(total=total, initial=done, desc="synthesize", unit="utt", disable=None)
    if nj <= 1 or len(pending) <= 1:
        with tqdm(**progress) as bar:
            for j in pending:
                synthesize_chapter(j)
                bar.update(len(j.chapter.utterances))
        return
    # fork (before tqdm starts its monitor thread): the workers inherit the loaded modules and the
    # freshly initialised espeak-ng engine.
    with multiprocessing.get_context("fork").Pool(min(nj, len(pending))) as pool, tqdm(**progress) as bar:
        for stats in pool.imap_unordered(synthesize_chapter, pending):
            bar.update(len(stats["utts"]))


def _summarize(plan: CorpusPlan, jobs: list[ChapterJob], config: StandinConfig, n_sentences: int) -> tuple[dict, dict, dict]:
    """Summary for the manifest, and minutes per speaker and per chapter."""
    spk_min: dict[int, float] = defaultdict(float)
    ch_min: dict[int, float] = {}
    subsets: dict[str, dict] = {}
    words = same = linked = regrouped = 0
    for j in jobs:
        rec = json.loads(j.record.read_text())
        spk = j.chapter.speaker
        sub = subsets.setdefault(spk.subset, {"speakers": set(), "chapters": 0, "utterances": 0, "seconds": 0.0,
                                              "words": 0, "word_boundaries": 0, "pauses": 0})
        seconds = sum(u["seconds"] for u in rec["utts"].values())
        ch_min[j.chapter.chapter_id] = seconds / 60
        spk_min[spk.id] += seconds / 60
        sub["speakers"].add(spk.id)
        sub["chapters"] += 1
        sub["utterances"] += len(rec["utts"])
        sub["seconds"] += seconds
        for u in rec["utts"].values():
            sub["words"] += u["words"]
            sub["word_boundaries"] += u["words"] - 1
            sub["pauses"] += len(u["pauses_after"])
        words += rec["words"]
        same += rec["words_as_said_alone"]
        linked += rec["linked"]
        regrouped += rec["regrouped"]
    for sub in subsets.values():
        sub["speakers"] = len(sub["speakers"])
        sub["hours"] = round(sub.pop("seconds") / 3600, 4)
        sub["pause_rate"] = round(sub["pauses"] / max(sub["word_boundaries"], 1), 4)
    summary = {
        "espeak_ng": engine().version,
        "sample_rate": SAMPLE_RATE,
        "sentences_available": n_sentences,
        "unpaired_sentences": len(plan.unpaired),
        "min_pause_ms": config.min_pause_ms,
        "subsets": subsets,
        "speakers": {str(s.id): {"sex": s.sex, "subset": s.subset, "accent": s.accent, "variant": s.variant,
                                 "pitch": s.pitch, "rate": s.rate} for s in plan.speakers},
        "phones": {"words": words, "same_as_word_said_alone": round(same / max(words, 1), 4),
                   "linking_glides": linked, "words_split_from_espeak_groups": regrouped},
    }
    return summary, spk_min, ch_min


def synthesize_standin(root: str | Path, config: StandinConfig, nj: int = 2, redo: bool = False) -> dict:
    """Write the stand-in corpus under ``<root>/LibriSpeech`` and return its summary.

    A finished corpus with the same configuration is not redone; a different
    configuration is refused unless ``redo``.  An interrupted run resumes at
    the first unfinished chapter.
    """
    root = Path(root)
    libri, work = root / "LibriSpeech", root / _WORK
    marker = _marker(libri, config)
    _check_ownership(root, libri, work, marker, redo)
    if not marker.needs_run([libri / "SPEAKERS.TXT"]):
        return marker.read()["summary"]

    eng = engine()
    voices = {a: eng.resolve_accent(a) for a in config.accents}
    genders = {v: eng.variant_gender(v) for v in config.variants}
    sentences = load_sentences(config.sources, config.min_words, config.max_words)
    plan = plan_corpus(config, sentences, voices, genders)
    with atomic_write(work / "config.json") as f:
        json.dump({"hash": marker.digest, "config": config.to_dict()}, f, indent=2, sort_keys=True)
    jobs = _jobs(plan, config, libri, work)
    log.info("synthesizing %d utterances in %d chapters of %d speakers with %d jobs (espeak-ng %s)",
             config.num_spoken, len(jobs), len(plan.speakers), nj, eng.version)
    _run_jobs(jobs, nj)

    summary, spk_min, ch_min = _summarize(plan, jobs, config, len(sentences))
    write_speakers(libri / "SPEAKERS.TXT", plan.speakers, spk_min, config.seed)
    write_chapters(libri / "CHAPTERS.TXT", plan.chapters, ch_min, config.sources)
    write_voices(libri / "VOICES.TXT", plan.speakers)
    with atomic_write(libri / UNPAIRED_TEXT) as f:
        f.writelines(s + "\n" for s in plan.unpaired)
    outputs = [libri / "SPEAKERS.TXT", libri / "CHAPTERS.TXT", libri / "VOICES.TXT", libri / UNPAIRED_TEXT]
    marker.write(outputs + [libri / s.name for s in config.subsets], summary)
    shutil.rmtree(work)
    for name, sub in summary["subsets"].items():
        log.info("%s: %d speakers, %d utterances, %.2f h, pause rate %.3f per word boundary (>= %g ms)",
                 name, sub["speakers"], sub["utterances"], sub["hours"], sub["pause_rate"], config.min_pause_ms)
    return summary


def load_standin_summary(root: str | Path) -> dict:
    """The summary recorded by :func:`synthesize_standin` (counts, hours, pause rates, voices)."""
    path = Path(root) / "LibriSpeech" / MANIFEST
    if not path.is_file():
        raise SpeechSSLError(f"{path}: no stand-in manifest; synthesize the corpus first")
    return json.loads(path.read_text(encoding="utf-8"))["summary"]
