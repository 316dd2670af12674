"""Who says what: speakers, chapters and sentences of the stand-in corpus, drawn from the seed."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from speechssl.corpora.standin.config import StandinConfig
from speechssl.text.sentences import normalize_transcript
from speechssl.utils.errors import SpeechSSLError

#: LibriSpeech-like id ranges (its speaker ids have 2-4 digits, chapter ids up to 6).
SPEAKER_IDS = (10, 10000)
CHAPTER_IDS = (1000, 400000)


@dataclass(frozen=True)
class Speaker:
    """An espeak-ng voice posing as a reader."""

    id: int
    sex: str  # "F" or "M"
    subset: str
    accent: str  # language code, e.g. en-us
    voice: str  # espeak-ng voice name of the accent, e.g. gmw/en-US
    variant: str
    pitch: int
    rate: int

    @property
    def espeak_voice(self) -> str:
        return f"{self.voice}+{self.variant}"

    @property
    def name(self) -> str:
        """The NAME column of SPEAKERS.TXT."""
        return f"espeak-ng {self.accent}+{self.variant} p{self.pitch} s{self.rate}"


@dataclass(frozen=True)
class Utterance:
    utt_id: str
    sentence: str  # cleaned, punctuated text given to espeak-ng
    transcript: str  # LibriSpeech-style (upper case, no punctuation)


@dataclass(frozen=True)
class Chapter:
    speaker: Speaker
    chapter_id: int
    utterances: tuple[Utterance, ...]

    @property
    def stem(self) -> str:
        return f"{self.speaker.id}-{self.chapter_id}"


@dataclass(frozen=True)
class CorpusPlan:
    speakers: tuple[Speaker, ...]
    chapters: tuple[Chapter, ...]
    unpaired: tuple[str, ...]  # normalised transcripts of sentences nobody speaks


def _draw_speakers(config: StandinConfig, rng: np.random.Generator, voices: dict[str, str],
                   genders: dict[str, str]) -> list[Speaker]:
    num = sum(s.speakers for s in config.subsets)
    ids = rng.choice(np.arange(*SPEAKER_IDS), size=num, replace=False)
    by_sex = {sex: [v for v in config.variants if genders[v] == sex] for sex in ("F", "M")}
    sexes_available = [sex for sex in ("F", "M") if by_sex[sex]]
    speakers: list[Speaker] = []
    used: set[tuple] = set()
    k = 0
    for subset in config.subsets:
        sexes = [sexes_available[i % len(sexes_available)] for i in range(subset.speakers)]
        rng.shuffle(sexes)
        for sex in sexes:
            for _ in range(1000):
                accent = config.accents[rng.integers(len(config.accents))]
                variant = by_sex[sex][rng.integers(len(by_sex[sex]))]
                pitch = int(rng.integers(config.pitch[0], config.pitch[1] + 1))
                rate = int(rng.integers(config.rate[0], config.rate[1] + 1))
                if (accent, variant, pitch, rate) not in used:
                    break
            else:
                raise SpeechSSLError(f"{config.where or 'stand-in config'}: cannot find {num} distinct voices; widen "
                                     "the pitch or rate range or give more variants")
            used.add((accent, variant, pitch, rate))
            speakers.append(Speaker(int(ids[k]), sex, subset.name, accent, voices[accent], variant, pitch, rate))
            k += 1
    return speakers


def plan_corpus(config: StandinConfig, sentences: list[str], voices: dict[str, str],
                genders: dict[str, str]) -> CorpusPlan:
    """Draw speakers, chapters and sentence assignment from ``config.seed``.

    ``sentences`` are cleaned sentences (:func:`~speechssl.text.sentences.load_sentences`);
    ``voices`` maps each accent to its espeak-ng voice, ``genders`` each variant to F/M.
    Spoken and unpaired sentences come from one seeded shuffle: the first
    ``config.num_spoken`` are spoken, the next ``config.unpaired_sentences``
    form the unpaired text, so the two never share a sentence.
    """
    need = config.num_spoken + config.unpaired_sentences
    if len(sentences) < need:
        raise SpeechSSLError(f"{config.where or 'stand-in config'}: needs {config.num_spoken} spoken + "
                             f"{config.unpaired_sentences} unpaired sentences, but the sources "
                             f"{list(config.sources)} give only {len(sentences)} of {config.min_words}-"
                             f"{config.max_words} words; lower the sizes or widen the word range")
    rng = np.random.default_rng(config.seed)
    order = rng.permutation(len(sentences))
    speakers = _draw_speakers(config, rng, voices, genders)
    num_chapters = sum(s.speakers * s.chapters_per_speaker for s in config.subsets)
    chapter_ids = rng.choice(np.arange(*CHAPTER_IDS), size=num_chapters, replace=False)
    chapters: list[Chapter] = []
    next_sentence = 0
    spk_iter = iter(speakers)
    for subset in config.subsets:
        for _ in range(subset.speakers):
            speaker = next(spk_iter)
            for _ in range(subset.chapters_per_speaker):
                chapter_id = int(chapter_ids[len(chapters)])
                utts = []
                for u in range(subset.utts_per_chapter):
                    sentence = sentences[order[next_sentence]]
                    next_sentence += 1
                    utts.append(Utterance(f"{speaker.id}-{chapter_id}-{u:04d}", sentence,
                                          normalize_transcript(sentence)))
                chapters.append(Chapter(speaker, chapter_id, tuple(utts)))
    unpaired = tuple(normalize_transcript(sentences[i])
                     for i in order[next_sentence:next_sentence + config.unpaired_sentences])
    return CorpusPlan(tuple(speakers), tuple(chapters), unpaired)
