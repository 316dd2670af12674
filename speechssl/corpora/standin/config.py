"""Configuration of the synthesized stand-in corpus (sizes, voices, seed), read from YAML."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


from speechssl.text.sentences import SOURCES
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.yaml_file import read_yaml

_SUBSET_NAME = re.compile(r"^[a-z]+(-[a-z0-9]+)+$")


@dataclass(frozen=True)
class SubsetSpec:
    """One subset: ``speakers`` x ``chapters_per_speaker`` x ``utts_per_chapter`` utterances."""

    name: str
    speakers: int
    chapters_per_speaker: int = 1
    utts_per_chapter: int = 10

    @property
    def num_utts(self) -> int:
        return self.speakers * self.chapters_per_speaker * self.utts_per_chapter


@dataclass(frozen=True)
class StandinConfig:
    """Everything that determines the stand-in corpus; the same config gives the same bytes.

    ``accents``: espeak-ng English languages (``en-us``, ``en-gb``, ``en-gb-scotland``,
    ``en-us-nyc``, ``en-029``, ...); each speaker draws one, and its reference
    phones come from that accent.  ``variants``: espeak-ng voice variants whose
    file gives a gender (``m1``..``m8``, ``f1``..``f5``).  ``pitch``: range of
    espeak-ng's pitch (0-99); ``rate``: range of speaking rates in words per
    minute; ``padding_s``: range of the silence added before and after each
    utterance; ``noise_dbfs``: level of white noise added to every utterance
    (RMS relative to full scale; null for none); ``min_pause_ms``: shortest
    silence between two words that counts as a pause in ``*.pauses.txt``.
    """

    subsets: tuple[SubsetSpec, ...]
    seed: int = 1
    sources: tuple[str, ...] = SOURCES
    min_words: int = 5
    max_words: int = 20
    unpaired_sentences: int = 5000
    accents: tuple[str, ...] = ("en-us",)
    variants: tuple[str, ...] = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
    pitch: tuple[int, int] = (30, 70)
    rate: tuple[int, int] = (140, 190)
    padding_s: tuple[float, float] = (0.1, 0.3)
    noise_dbfs: float | None = -60.0
    min_pause_ms: float = 50.0
    where: str = field(default="", compare=False)  # the file it came from, for error messages

    def __post_init__(self) -> None:
        def bad(key: str, what: str) -> SpeechSSLError:
            return SpeechSSLError(f"{self.where or 'stand-in config'}: {key}: {what}")

        if not self.subsets:
            raise bad("subsets", "give at least one subset")
        names = [s.name for s in self.subsets]
        if len(set(names)) != len(names):
            raise bad("subsets", f"subset names repeat: {names}")
        for s in self.subsets:
            if not _SUBSET_NAME.match(s.name):
                raise bad("subsets", f"{s.name!r} is not a LibriSpeech-like subset name (e.g. train-clean-5)")
            for key in ("speakers", "chapters_per_speaker", "utts_per_chapter"):
                if getattr(s, key) < 1:
                    raise bad(f"subsets[{s.name}].{key}", f"must be at least 1, got {getattr(s, key)}")
        unknown = [s for s in self.sources if s not in SOURCES]
        if unknown or not self.sources:
            raise bad("sources", f"choose from {', '.join(SOURCES)}, got {list(self.sources)}")
        if not 1 <= self.min_words <= self.max_words:
            raise bad("min_words/max_words", f"need 1 <= min_words <= max_words, got {self.min_words}, {self.max_words}")
        if self.unpaired_sentences < 0:
            raise bad("unpaired_sentences", "must not be negative")
        if not self.accents or not self.variants:
            raise bad("accents/variants", "give at least one accent and one variant")
        for key, lo, hi in (("pitch", 0, 99), ("rate", 80, 450)):
            a, b = getattr(self, key)
            if not lo <= a <= b <= hi:
                raise bad(key, f"need {lo} <= min <= max <= {hi}, got [{a}, {b}]")
        a, b = self.padding_s
        if not 0 <= a <= b:
            raise bad("padding_s", f"need 0 <= min <= max, got [{a}, {b}]")
        if self.min_pause_ms <= 0:
            raise bad("min_pause_ms", "must be positive")

    @property
    def num_spoken(self) -> int:
        return sum(s.num_utts for s in self.subsets)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for the done-marker and the manifest)."""
        d = asdict(self)
        d.pop("where")
        return d


def _pair(value: Any, key: str, where: str, kind: type) -> tuple:
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise SpeechSSLError(f"{where}: {key}: give [min, max], got {value!r}")
    try:
        return tuple(kind(v) for v in value)
    except (TypeError, ValueError):
        raise SpeechSSLError(f"{where}: {key}: [min, max] must be numbers, got {value!r}") from None


def standin_config_from_dict(raw: dict[str, Any], where: str = "stand-in config") -> StandinConfig:
    """Build a :class:`StandinConfig` from a mapping (as read from YAML), naming bad keys."""
    if not isinstance(raw, dict):
        raise SpeechSSLError(f"{where}: expected a mapping of options, got {type(raw).__name__}")
    known = {f.name for f in fields(StandinConfig)} - {"where"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise SpeechSSLError(f"{where}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if "subsets" not in raw:
        raise SpeechSSLError(f"{where}: 'subsets' is required (a list of {{name, speakers, ...}})")
    subset_keys = {f.name for f in fields(SubsetSpec)}
    subsets = []
    for i, s in enumerate(raw["subsets"] or []):
        if not isinstance(s, dict) or "name" not in s or "speakers" not in s:
            raise SpeechSSLError(f"{where}: subsets[{i}]: give at least name and speakers, got {s!r}")
        extra = sorted(set(s) - subset_keys)
        if extra:
            raise SpeechSSLError(f"{where}: subsets[{i}]: unknown key(s) {', '.join(extra)}; known: "
                                 f"{', '.join(sorted(subset_keys))}")
        try:
            subsets.append(SubsetSpec(name=str(s["name"]), **{k: int(v) for k, v in s.items() if k != "name"}))
        except (TypeError, ValueError):
            raise SpeechSSLError(f"{where}: subsets[{i}]: counts must be integers, got {s!r}") from None
    kwargs: dict[str, Any] = {"subsets": tuple(subsets), "where": where}
    for key in ("sources", "accents", "variants"):
        if key in raw:
            value = raw[key]
            kwargs[key] = tuple(str(v) for v in ([value] if isinstance(value, str) else value))
    for key, kind in (("pitch", int), ("rate", int), ("padding_s", float)):
        if key in raw:
            kwargs[key] = _pair(raw[key], key, where, kind)
    for key, kind in (("seed", int), ("min_words", int), ("max_words", int), ("unpaired_sentences", int),
                      ("min_pause_ms", float)):
        if key in raw:
            try:
                kwargs[key] = kind(raw[key])
            except (TypeError, ValueError):
                raise SpeechSSLError(f"{where}: {key}: expected a number, got {raw[key]!r}") from None
    if "noise_dbfs" in raw:
        value = raw["noise_dbfs"]
        try:
            kwargs["noise_dbfs"] = None if value is None else float(value)
        except (TypeError, ValueError):
            raise SpeechSSLError(f"{where}: noise_dbfs: expected a level in dB (e.g. -60) or null, "
                                 f"got {value!r}") from None
    return StandinConfig(**kwargs)


def load_standin_config(path: str | Path) -> StandinConfig:
    """Read a stand-in configuration from a YAML file (see ``egs/TEMPLATE/conf/standin_mini.yaml``)."""
    path = Path(path)
    raw = read_yaml(path, "stand-in config file")
    return standin_config_from_dict(raw, where=str(path))
