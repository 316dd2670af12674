"""Configuration of the FLEURS stand-in (languages, sizes, voices, seed), read from YAML."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


from speechssl.corpora.fleurs import SPLITS
from speechssl.corpora.fleurs_langs import get_language
from speechssl.corpora.standin.fleurs.text import TEXT_SOURCES
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.yaml_file import read_yaml


@dataclass(frozen=True)
class FleursStandinConfig:
    """Everything that determines the FLEURS stand-in; the same config gives the same files.

    ``langs``: FLEURS codes with an espeak-ng voice and a Debian text source
    (es_419, de_de, it_it, pt_br).  ``sentences``: sentences per split; each is
    read by 1 to ``max_recordings`` voices drawn from a pool of
    ``voices_per_split`` voices per split.  ``unpaired_sentences``: further
    sentences nobody reads (``data/<lang>/unpaired_text.txt``).  ``archive``:
    true writes ``audio/<split>.tar.gz`` as FLEURS ships it, false the
    extracted ``audio/<split>/`` directories.  ``variants``, ``pitch``,
    ``rate``, ``padding_s``, ``noise_dbfs``: as in the LibriSpeech stand-in.
    """

    langs: tuple[str, ...]
    sentences: dict[str, int]
    seed: int = 1
    max_recordings: int = 2
    voices_per_split: int = 8
    unpaired_sentences: int = 3000
    min_words: int = 5
    max_words: int = 20
    archive: bool = True
    variants: tuple[str, ...] = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
    pitch: tuple[int, int] = (30, 70)
    rate: tuple[int, int] = (140, 190)
    padding_s: tuple[float, float] = (0.1, 0.3)
    noise_dbfs: float | None = -60.0
    where: str = field(default="FLEURS stand-in config", compare=False)

    def __post_init__(self) -> None:
        def bad(key: str, what: str) -> SpeechSSLError:
            return SpeechSSLError(f"{self.where}: {key}: {what}")

        if not self.langs:
            raise bad("langs", "give at least one language")
        for lang in self.langs:
            if not get_language(lang).has_voice or lang not in TEXT_SOURCES:
                raise bad("langs", f"{lang} has no stand-in text source or no espeak-ng voice; "
                                   f"choose from {', '.join(TEXT_SOURCES)}")
        if sorted(self.sentences) != sorted(SPLITS) or min(self.sentences.values()) < 1:
            raise bad("sentences", f"give a positive count for each of {', '.join(SPLITS)}, got {self.sentences}")
        if not 1 <= self.max_recordings <= self.voices_per_split:
            raise bad("max_recordings", "need 1 <= max_recordings <= voices_per_split")
        if not 1 <= self.min_words <= self.max_words:
            raise bad("min_words/max_words", "need 1 <= min_words <= max_words")
        for key, lo, hi in (("pitch", 0, 99), ("rate", 80, 450)):
            a, b = getattr(self, key)
            if not lo <= a <= b <= hi:
                raise bad(key, f"need {lo} <= min <= max <= {hi}, got [{a}, {b}]")
        if not 0 <= self.padding_s[0] <= self.padding_s[1]:
            raise bad("padding_s", "need 0 <= min <= max")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("where")
        return d


def load_fleurs_standin_config(path: str | Path) -> FleursStandinConfig:
    """Read a :class:`FleursStandinConfig` from YAML, naming unknown or malformed keys."""
    path = Path(path)
    raw = read_yaml(path, "stand-in config file")
    if not isinstance(raw, dict):
        raise SpeechSSLError(f"{path}: expected a mapping of options")
    known = {f.name for f in fields(FleursStandinConfig)} - {"where"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SpeechSSLError(f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for key in ("langs", "sentences"):
        if key not in raw:
            raise SpeechSSLError(f"{path}: '{key}' is required")
    try:
        kwargs: dict[str, Any] = {k: v for k, v in raw.items()}
        kwargs["langs"] = tuple(str(v) for v in ([raw["langs"]] if isinstance(raw["langs"], str) else raw["langs"]))
        kwargs["sentences"] = {str(k): int(v) for k, v in dict(raw["sentences"]).items()}
        for key in ("variants",):
            if key in raw:
                kwargs[key] = tuple(str(v) for v in raw[key])
        for key, kind in (("pitch", int), ("rate", int), ("padding_s", float)):
            if key in raw:
                kwargs[key] = tuple(kind(v) for v in raw[key])
        for key in ("seed", "max_recordings", "voices_per_split", "unpaired_sentences", "min_words", "max_words"):
            if key in raw:
                kwargs[key] = int(raw[key])
        if raw.get("noise_dbfs") is not None:
            kwargs["noise_dbfs"] = float(raw["noise_dbfs"])
        if "archive" in raw and not isinstance(raw["archive"], bool):
            raise ValueError("archive must be true or false")
    except (TypeError, ValueError) as e:
        raise SpeechSSLError(f"{path}: bad value ({e})") from None
    return FleursStandinConfig(**kwargs, where=str(path))
