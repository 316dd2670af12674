"""LibriSpeech (OpenSLR 12) and Mini LibriSpeech (OpenSLR 31): download and preparation.

Layout read (the real distribution, and our synthesized stand-in)::

    <root>/LibriSpeech/SPEAKERS.TXT
    <root>/LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>-<utt>.flac
    <root>/LibriSpeech/<subset>/<spk>/<chapter>/<spk>-<chapter>.trans.txt

Each subset becomes a Kaldi data directory named as Kaldi names it
(``train-clean-100`` -> ``train_clean_100``).  Speaker ids are LibriSpeech
reader ids, so utterance ids (``<spk>-<chapter>-<utt>``) start with them.
Side files ``<spk>-<chapter>.<name>.txt`` holding ``<utt-id> value`` lines
(the stand-in's phone transcriptions, for example) become per-utterance tables
``utt2<name>`` in the data directory.
"""
from __future__ import annotations

import re
from pathlib import Path

from speechssl.corpora.download import download, extract_tar
from speechssl.data.datadir import DataDir
from speechssl.data.scp import read_lines, read_table
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

OPENSLR_URL = "https://www.openslr.org/resources"
#: subset -> (OpenSLR resource number, md5 of its archive).  Resource 12 is
#: LibriSpeech, 31 is Mini LibriSpeech.
LIBRISPEECH_ARCHIVES = {
    "dev-clean": (12, "42e2234ba48799c1f50f24a7926300a1"),
    "dev-other": (12, "c8d0bcc9cca99d4f8b62fcc847357931"),
    "test-clean": (12, "32fa31d27d2e1cad72775fee3f4849a9"),
    "test-other": (12, "fb5a50374b501bb3bac4815ee91d3135"),
    "train-clean-100": (12, "2a93770f6d5c6c964bc36631d331a522"),
    "train-clean-360": (12, "c0e676e450a7ff2f54aeade5171606fa"),
    "train-other-500": (12, "d1a0fd59409feb2c614ce4d30c387708"),
    "train-clean-5": (31, "5df7d4e78065366204ca6845bb08f490"),
    "dev-clean-2": (31, "6d7ab67ac6a1d2c993d050e16d61080d"),
}
MINI_LIBRISPEECH_SUBSETS = ("dev-clean-2", "train-clean-5")
_UTT_RE = re.compile(r"^(\d+)-(\d+)-(\d+)$")


def kaldi_set_name(subset: str) -> str:
    """``train-clean-100`` -> ``train_clean_100``."""
    return subset.replace("-", "_")


def find_librispeech_dir(root: str | Path) -> Path:
    """The ``LibriSpeech`` directory at or below ``root``."""
    root = Path(root)
    for cand in (root / "LibriSpeech", root):
        if (cand / "SPEAKERS.TXT").is_file() or any(cand.glob("*-clean*")) or any(cand.glob("*-other*")):
            return cand
    raise SpeechSSLError(
        f"{root}: no LibriSpeech corpus here (expected {root}/LibriSpeech/SPEAKERS.TXT and subset "
        "directories such as train-clean-100); set the corpus location in the recipe's db.sh"
    )


def read_speakers(path: str | Path) -> dict[str, dict[str, str]]:
    """Parse SPEAKERS.TXT (``ID | SEX | SUBSET | MINUTES | NAME``, ``;`` comments)."""
    speakers = {}
    for n, line in enumerate(read_lines(path), start=1):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        fields = [f.strip() for f in line.split("|")]
        if len(fields) < 5:
            raise SpeechSSLError(f"{path}:{n}: expected 'ID | SEX | SUBSET | MINUTES | NAME', got {line!r}")
        spk, sex, subset, minutes = fields[:4]
        speakers[spk] = {"sex": sex.lower(), "subset": subset, "minutes": minutes, "name": "|".join(fields[4:])}
    return speakers


def prepare_subset(libri_dir: Path, subset: str, speakers: dict[str, dict[str, str]]) -> tuple[DataDir, dict[str, int]]:
    """Build the data directory of one subset; return it with counts of what was dropped."""
    subset_dir = libri_dir / subset
    if not subset_dir.is_dir():
        raise SpeechSSLError(f"{subset_dir}: subset {subset!r} not found; check the subset name and the corpus location")
    d = DataDir(text={}, spk2gender={})
    side: dict[str, dict[str, str]] = {}
    dropped = {"no_audio": 0, "no_transcript": 0}
    for trans in sorted(subset_dir.glob("*/*/*.trans.txt")):
        chapter_dir = trans.parent
        spk = chapter_dir.parent.name
        flacs = {p.stem: p for p in chapter_dir.glob("*.flac")}
        for utt, words, n in read_table(trans, allow_empty_value=True):
            m = _UTT_RE.match(utt)
            if not m or m.group(1) != spk or m.group(2) != chapter_dir.name:
                raise SpeechSSLError(f"{trans}:{n}: utterance id {utt!r} does not match the directory {chapter_dir}")
            if utt not in flacs:
                log.warning("%s:%d: no audio file %s.flac; utterance dropped", trans, n, utt)
                dropped["no_audio"] += 1
                continue
            if not words.strip():
                raise SpeechSSLError(f"{trans}:{n}: utterance {utt} has an empty transcript")
            d.wav_scp[utt] = str(flacs.pop(utt).resolve())
            d.text[utt] = words
            d.utt2spk[utt] = spk
        for utt in sorted(flacs):
            log.warning("%s has no line for %s.flac; utterance dropped", trans, utt)
            dropped["no_transcript"] += 1
        stem = trans.name[: -len(".trans.txt")]
        for side_file in sorted(chapter_dir.glob(f"{stem}.*.txt")):
            name = side_file.name[len(stem) + 1 : -len(".txt")]
            if name == "trans":
                continue
            table = side.setdefault(f"utt2{name}", {})
            for utt, value, _ in read_table(side_file, allow_empty_value=True):
                if utt in d.utt2spk:
                    table[utt] = value
        if spk in speakers:
            d.spk2gender[spk] = speakers[spk]["sex"]
    if not d.utt2spk:
        raise SpeechSSLError(f"{subset_dir}: no utterances found (expected <spk>/<chapter>/*.trans.txt and .flac files)")
    for name, table in side.items():
        missing = len(d.utt2spk) - len(table)
        if missing:
            log.warning("%s: %s lacks %d of %d utterances", subset, name, missing, len(d.utt2spk))
        d.extra[name] = table
    return d, dropped


def load_speakers(libri_dir: Path) -> dict[str, dict[str, str]]:
    """SPEAKERS.TXT of a LibriSpeech directory, or {} (with a warning) if absent."""
    spk_file = Path(libri_dir) / "SPEAKERS.TXT"
    if not spk_file.is_file():
        log.warning("%s missing: spk2gender will not be written", spk_file)
        return {}
    return read_speakers(spk_file)


def write_subset(libri_dir: Path, subset: str, speakers: dict[str, dict[str, str]], out: str | Path) -> dict[str, int]:
    """Prepare one subset into the data directory ``out``; return its counts."""
    d, dropped = prepare_subset(Path(libri_dir), subset, speakers)
    if not d.spk2gender:
        d.spk2gender = None
    d.save(out)
    n_spk = len(set(d.utt2spk.values()))
    log.info("%s: %d utterances, %d speakers, dropped %s", subset, len(d.utt2spk), n_spk, dropped)
    return {"utterances": len(d.utt2spk), "speakers": n_spk, **dropped}


def prepare_librispeech(root: str | Path, subsets: list[str], out_dir: str | Path) -> dict[str, dict[str, int]]:
    """Write ``<out_dir>/<kaldi_set_name(subset)>`` for each subset; return per-set counts."""
    libri_dir = find_librispeech_dir(root)
    speakers = load_speakers(libri_dir)
    return {kaldi_set_name(s): write_subset(libri_dir, s, speakers, Path(out_dir) / kaldi_set_name(s)) for s in subsets}


def download_librispeech(dest: str | Path, subsets=MINI_LIBRISPEECH_SUBSETS, base_url: str = OPENSLR_URL,
                         md5: dict[str, str] | None = None) -> Path:
    """Download and extract LibriSpeech subsets into ``dest/LibriSpeech``; return that directory.

    The default subsets are Mini LibriSpeech.  Archives are fetched from
    ``<base_url>/<resource>/<subset>.tar.gz`` and kept in ``dest`` (resumed if
    partial, verified by md5); a subset already extracted (``.complete``
    marker) is skipped.  ``md5`` overrides the published checksums.
    """
    dest = Path(dest)
    for subset in subsets:
        if subset not in LIBRISPEECH_ARCHIVES:
            raise SpeechSSLError(f"unknown LibriSpeech subset {subset!r}; known: {', '.join(LIBRISPEECH_ARCHIVES)}")
        marker = dest / "LibriSpeech" / subset / ".complete"
        if marker.is_file():
            log.info("%s already extracted", subset)
            continue
        resource, checksum = LIBRISPEECH_ARCHIVES[subset]
        if md5 is not None:
            checksum = md5.get(subset)
        archive = download(f"{base_url}/{resource}/{subset}.tar.gz", dest / f"{subset}.tar.gz", md5=checksum)
        extract_tar(archive, dest)
        if not (dest / "LibriSpeech" / subset).is_dir():
            raise SpeechSSLError(f"{archive}: did not contain LibriSpeech/{subset}/")
        marker.touch()
    return dest / "LibriSpeech"
