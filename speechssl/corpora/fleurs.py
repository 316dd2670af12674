"""FLEURS (google/fleurs, 102 languages): data preparation from the corpus's own layout.

Layout read: the files of the Hugging Face dataset repository ``google/fleurs``
(its git/LFS tree, not the ``datasets`` cache), one directory per language::

    <root>/data/<lang>/train.tsv  dev.tsv  test.tsv
    <root>/data/<lang>/audio/train.tar.gz  dev.tar.gz  test.tar.gz
        (members ``<split>/<file_name>``: 16 kHz mono WAV)

where ``<lang>`` is a FLEURS code (``sw_ke``, ``es_419``, ``cmn_hans_cn``; see
:mod:`speechssl.corpora.fleurs_langs`).  An archive already extracted by the
user (``audio/<split>/<file_name>``) is used as it is; otherwise it is
extracted there (or under ``extract_dir``) once, with a ``.complete`` marker.
``<root>`` may also be the ``data`` directory itself.

A TSV has no header and seven tab-separated columns: sentence id (integer,
shared by the recordings of one sentence), file name, raw transcription,
normalised transcription (lower case, no punctuation), character-tokenised
transcription, number of samples, gender (``MALE``/``FEMALE``/``OTHER``).

FLEURS has no speaker ids: a sentence is read by one to a few people, each
recording is its own file, and nothing says who read it.  As ESPnet's FLEURS
recipe does, every recording is its own pseudo-speaker: ``utt2spk`` maps each
utterance to itself (per-speaker CMVN then becomes per-utterance).  Utterance
ids are ``<lang>-<sentence id, 5 digits>-<file stem>``, so the recordings of a
sentence sort together and ``utt2spk``/``spk2utt`` sort alike.

Each (language, split) becomes the data directory ``<lang>_<split>``
(``sw_ke_train``): ``wav.scp``, ``text`` (the normalised transcription),
``utt2spk``/``spk2utt``, ``utt2gender`` (male/female/other), ``spk2gender``
when every recording is male or female, ``utt2sentence`` (FLEURS sentence id),
``utt2raw_text`` (the raw transcription), and ``utt2<name>`` for each side file
``<split>.<name>.txt`` (``<file_name> value`` lines; the stand-in's reference
phones ``<split>.phones.txt`` become ``utt2phones``).

Get the corpus by hand (it cannot be fetched here): clone or download
``https://huggingface.co/datasets/google/fleurs`` (``data/<lang>/`` for the
languages you want) and set ``FLEURS`` in the recipe's ``db.sh`` to the
directory that holds ``data/``.
"""
from __future__ import annotations

import hashlib
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from speechssl.corpora.download import extract_tar
from speechssl.data.datadir import DataDir
from speechssl.data.scp import read_lines, read_table
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

SPLITS = ("train", "dev", "test")
TSV_COLUMNS = ("id", "file_name", "raw_transcription", "transcription", "char_transcription", "num_samples", "gender")
GENDERS = {"male": "m", "female": "f", "other": ""}
_COMPLETE = ".complete"


@dataclass(frozen=True)
class FleursRow:
    """One line of a FLEURS TSV (``line`` is its 1-based number)."""

    sentence_id: int
    file_name: str
    raw_transcription: str
    transcription: str
    char_transcription: str
    num_samples: int
    gender: str  # male, female or other
    line: int

    @property
    def stem(self) -> str:
        return self.file_name.rsplit(".", 1)[0]


def read_fleurs_tsv(path: str | Path) -> list[FleursRow]:
    """Parse a FLEURS split TSV; a malformed line is an error naming the file and line."""
    rows = []
    for n, line in enumerate(read_lines(path), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(TSV_COLUMNS):
            raise SpeechSSLError(f"{path}:{n}: expected {len(TSV_COLUMNS)} tab-separated columns "
                                 f"({', '.join(TSV_COLUMNS)}), got {len(fields)}")
        sid, name, raw, norm, chars, num, gender = (f.strip() for f in fields)
        if not sid.isdigit() or not num.isdigit():
            raise SpeechSSLError(f"{path}:{n}: id {sid!r} and num_samples {num!r} must be non-negative integers")
        if not name or any(c.isspace() for c in name) or "/" in name:
            raise SpeechSSLError(f"{path}:{n}: bad file name {name!r}")
        if gender.lower() not in GENDERS:
            raise SpeechSSLError(f"{path}:{n}: gender {gender!r} is not one of MALE, FEMALE, OTHER")
        rows.append(FleursRow(int(sid), name, raw, norm, chars, int(num), gender.lower(), n))
    return rows


def find_fleurs_dir(root: str | Path) -> Path:
    """The directory holding the ``<lang>/`` directories: ``<root>/data`` or ``root`` itself."""
    root = Path(root)
    for cand in (root / "data", root):
        if cand.is_dir() and any(p.is_dir() and any(p.glob("*.tsv")) for p in cand.iterdir()):
            return cand
    raise SpeechSSLError(f"{root}: no FLEURS corpus here (expected {root}/data/<lang>/train.tsv, e.g. "
                         "data/sw_ke/train.tsv); set FLEURS in the recipe's db.sh")


def utt_id(lang: str, row: FleursRow) -> str:
    """``<lang>-<sentence id:05d>-<file stem>``."""
    return f"{lang}-{row.sentence_id:05d}-{row.stem}"


def split_audio_dir(lang_dir: Path, split: str, extract_dir: Path | None = None) -> Path:
    """The directory of a split's WAV files, extracting ``audio/<split>.tar.gz`` if needed."""
    extracted = lang_dir / "audio" / split
    archive = lang_dir / "audio" / f"{split}.tar.gz"
    if extracted.is_dir() and ((extracted / _COMPLETE).is_file() or not archive.is_file()):
        return extracted  # extracted before (by us, or by the user who then removed the archive)
    if not archive.is_file():
        raise SpeechSSLError(f"{lang_dir}: no audio for {split} (expected {archive} or the directory {extracted})")
    base = (extract_dir / lang_dir.name / "audio") if extract_dir is not None else lang_dir / "audio"
    target = base / split
    if (target / _COMPLETE).is_file():
        return target
    log.info("extracting %s into %s", archive, base)
    try:
        with tarfile.open(archive) as tar:
            outside = [m.name for m in tar.getmembers() if m.isfile() and Path(m.name).parts[:1] != (split,)]
    except (tarfile.TarError, OSError) as e:
        raise SpeechSSLError(f"{archive}: cannot read the archive ({e}); download it again") from None
    if outside:
        raise SpeechSSLError(f"{archive}: member {outside[0]!r} is not under {split}/; not a FLEURS audio archive")
    extract_tar(archive, base)
    (target / _COMPLETE).touch()
    return target


def _side_tables(lang_dir: Path, split: str, stems: dict[str, str]) -> dict[str, dict[str, str]]:
    """``utt2<name>`` tables from ``<split>.<name>.txt`` side files keyed by file name."""
    tables: dict[str, dict[str, str]] = {}
    for side in sorted(lang_dir.glob(f"{split}.*.txt")):
        name = side.name[len(split) + 1: -len(".txt")]
        table = tables.setdefault(f"utt2{name}", {})
        for key, value, _ in read_table(side, allow_empty_value=True):
            if key in stems:
                table[stems[key]] = value
    return tables


def prepare_split(lang_dir: Path, lang: str, split: str, extract_dir: Path | None = None) -> tuple[DataDir, dict]:
    """The data directory of one language and split, with counts of what was kept and dropped."""
    tsv = lang_dir / f"{split}.tsv"
    if not tsv.is_file():
        raise SpeechSSLError(f"{tsv}: no such file; FLEURS splits are {', '.join(SPLITS)}")
    rows = read_fleurs_tsv(tsv)
    audio_dir = split_audio_dir(lang_dir, split, extract_dir)
    wavs = {p.name: p for p in audio_dir.iterdir() if p.suffix == ".wav"}
    d = DataDir(text={}, spk2gender={})
    gender, sentence, raw = {}, {}, {}
    stems: dict[str, str] = {}
    dropped = {"no_audio": 0, "empty_transcription": 0, "no_tsv_line": 0}
    for row in rows:
        if row.file_name in stems:
            raise SpeechSSLError(f"{tsv}:{row.line}: file {row.file_name} is listed twice")
        if row.file_name not in wavs:
            log.warning("%s:%d: %s is not in %s; recording dropped", tsv, row.line, row.file_name, audio_dir)
            dropped["no_audio"] += 1
            continue
        words = " ".join(row.transcription.split())
        if not words:
            log.warning("%s:%d: %s has an empty transcription; recording dropped", tsv, row.line, row.file_name)
            dropped["empty_transcription"] += 1
            continue
        utt = utt_id(lang, row)
        stems[row.file_name] = utt
        d.wav_scp[utt] = str(wavs[row.file_name].resolve())
        d.text[utt] = words
        d.utt2spk[utt] = utt
        gender[utt] = row.gender
        sentence[utt] = str(row.sentence_id)
        raw[utt] = " ".join(row.raw_transcription.split())
    dropped["no_tsv_line"] = len(set(wavs) - {r.file_name for r in rows})
    if dropped["no_tsv_line"]:
        log.warning("%s: %d WAV files have no line in %s; not used", audio_dir, dropped["no_tsv_line"], tsv)
    if not d.utt2spk:
        raise SpeechSSLError(f"{tsv}: no usable recording (none of its files is in {audio_dir})")
    d.spk2gender = {u: GENDERS[g] for u, g in gender.items()} if all(GENDERS[g] for g in gender.values()) else None
    d.extra = {"utt2gender": gender, "utt2sentence": sentence, "utt2raw_text": raw}
    for name, table in _side_tables(lang_dir, split, stems).items():
        if len(table) < len(d.utt2spk):
            log.warning("%s %s: %s lacks %d of %d utterances", lang, split, name, len(d.utt2spk) - len(table),
                        len(d.utt2spk))
        d.extra[name] = table
    counts = {"utterances": len(d.utt2spk), "sentences": len(set(sentence.values())), **dropped}
    return d, counts


def data_dir_name(lang: str, split: str) -> str:
    """``<lang>_<split>`` (``sw_ke_train``)."""
    return f"{lang}_{split}"


def split_data_dir_name(name: str) -> tuple[str, str]:
    """Inverse of :func:`data_dir_name`: ``sw_ke_train`` -> ``("sw_ke", "train")``."""
    lang, _, split = name.rpartition("_")
    if not lang or split not in SPLITS:
        raise SpeechSSLError(f"data set {name!r} is not <lang>_<split> with split in {', '.join(SPLITS)} "
                             "(e.g. sw_ke_train)")
    return lang, split


def listing_digest(lang_dir: Path, split: str) -> str:
    """Cheap fingerprint of a split: its TSV, side files and audio archive (or, without an
    archive, its WAV files), by name and size; unchanged by extracting the archive."""
    h = hashlib.sha256()
    archive = lang_dir / "audio" / f"{split}.tar.gz"
    paths = [lang_dir / f"{split}.tsv", *sorted(lang_dir.glob(f"{split}.*.txt"))]
    if archive.is_file():
        paths.append(archive)
    elif (lang_dir / "audio" / split).is_dir():
        paths += sorted(p for p in (lang_dir / "audio" / split).iterdir() if p.suffix == ".wav")
    for p in paths:
        if p.is_file():
            h.update(f"{p.relative_to(lang_dir)}\0{os.path.getsize(p)}\n".encode())
    return h.hexdigest()
