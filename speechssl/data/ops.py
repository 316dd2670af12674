"""Transforming Kaldi data directories: fix, split, subset, combine, copy, and utt2dur.

Every output table is written sorted in C order with ``spk2utt`` derived from
``utt2spk``; new directories appear atomically (built aside, then renamed).
"""
from __future__ import annotations

import bisect
import random as random_module
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from tqdm import tqdm

from speechssl.audio.io import MAX_OVERSHOOT, audio_info
from speechssl.data.datadir import DataDir, parse_segment
from speechssl.data.scp import kaldi_sort_key, read_lines, read_table, write_table
from speechssl.data.validate import spk_sort_violation
from speechssl.utils.atomic import atomic_dir
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)

_UTT_ATTRS = ("text", "utt2dur", "utt2num_frames", "feats_scp")
_SHOWN_IDS = 5


def format_seconds(seconds: float) -> str:
    """Seconds with at most 6 decimals and no trailing zeros (``1.5``, ``12``)."""
    return f"{seconds:.6f}".rstrip("0").rstrip(".")


def _filter(table: dict[str, str] | None, keep: Callable[[str], bool]) -> dict[str, str] | None:
    return None if table is None else {k: v for k, v in table.items() if keep(k)}


def _rekey(table: dict[str, str] | None, rename: Callable[[str], str]) -> dict[str, str] | None:
    return None if table is None else {rename(k): v for k, v in table.items()}


def _recording_of(segment_value: str) -> str:
    return segment_value.split(maxsplit=1)[0]


def subset_by_utts(d: DataDir, utts: Iterable[str]) -> DataDir:
    """The part of ``d`` holding ``utts``, with only the recordings and speakers they use."""
    keep = set(utts) & set(d.utt2spk)
    out = DataDir(utt2spk={u: s for u, s in d.utt2spk.items() if u in keep})
    for attr in _UTT_ATTRS:
        setattr(out, attr, _filter(getattr(d, attr), keep.__contains__))
    out.extra = {name: _filter(t, keep.__contains__) for name, t in d.extra.items()}
    if d.segments is not None:
        out.segments = _filter(d.segments, keep.__contains__)
        recordings = {_recording_of(v) for v in out.segments.values()}
    else:
        recordings = keep
    out.wav_scp = _filter(d.wav_scp, recordings.__contains__)
    out.reco2dur = _filter(d.reco2dur, recordings.__contains__)
    out.reco_extra = {name: _filter(t, recordings.__contains__) for name, t in d.reco_extra.items()}
    speakers = set(out.utt2spk.values())
    out.spk2gender = _filter(d.spk2gender, speakers.__contains__)
    out.spk_extra = {name: _filter(t, speakers.__contains__) for name, t in d.spk_extra.items()}
    return out


def _write_new_dir(d: DataDir, dest: Path, sources: Sequence[Path]) -> None:
    """Write ``d`` as the directory ``dest``, replacing an older data directory there."""
    for src in sources:
        if dest.resolve() == src.resolve():
            raise SpeechSSLError(f"{dest}: the output directory must differ from the input {src}")
    if dest.exists() and (not dest.is_dir() or (any(dest.iterdir()) and not (dest / "utt2spk").is_file())):
        raise SpeechSSLError(f"{dest} exists and is not a data directory; refusing to replace it. "
                             "Choose another output directory or remove it")
    with atomic_dir(dest) as tmp:
        d.save(tmp)


def segment_durations(segments: dict[str, str]) -> dict[str, float]:
    """``end - start`` of every segment."""
    out = {}
    for utt, value in segments.items():
        _, start, end = parse_segment(value, utt)
        out[utt] = end - start
    return out


def utt_durations(d: DataDir, where: str | Path = "") -> dict[str, float]:
    """Utterance durations in seconds, from utt2dur or else from segments."""
    if d.utt2dur is not None:
        try:
            return {u: float(v) for u, v in d.utt2dur.items()}
        except ValueError:
            raise SpeechSSLError(f"{where}/utt2dur: a value is not a number; recompute it with compute_utt2dur") from None
    if d.segments is not None:
        return segment_durations(d.segments)
    raise SpeechSSLError(f"{where}: utterance durations are needed but there is no utt2dur or segments; "
                         f"run `python -m speechssl.bin.compute_utt2dur {where}` first")


# --------------------------------------------------------------------------- fix
@dataclass
class FixReport:
    """What :func:`fix_data_dir` removed, and why."""

    kept: list[str] = field(default_factory=list)
    #: reason -> utterance ids dropped for it
    dropped: dict[str, list[str]] = field(default_factory=dict)
    #: table -> number of lines removed because their key was unknown or unused
    stray_lines: dict[str, int] = field(default_factory=dict)
    #: table -> number of repeated identical lines merged
    repeated_lines: dict[str, int] = field(default_factory=dict)

    @property
    def num_dropped(self) -> int:
        return sum(len(v) for v in self.dropped.values())

    def describe(self) -> str:
        """A few lines for the log."""
        total = len(self.kept) + self.num_dropped
        lines = [f"kept {len(self.kept)} of {total} utterances, dropped {self.num_dropped}"]
        for reason, utts in sorted(self.dropped.items()):
            shown = ", ".join(utts[:_SHOWN_IDS]) + (", ..." if len(utts) > _SHOWN_IDS else "")
            lines.append(f"  {len(utts)} utterance(s) {reason}: {shown}")
        for name, n in sorted(self.stray_lines.items()):
            lines.append(f"  {n} line(s) of {name} removed: key not among the kept utterances/recordings/speakers")
        for name, n in sorted(self.repeated_lines.items()):
            lines.append(f"  {n} repeated identical line(s) of {name} merged")
        return "\n".join(lines)


class _TolerantReader:
    """Table reader for fix_data_dir: merges identical repeated lines, sets aside conflicting keys."""

    def __init__(self) -> None:
        self.conflicts: dict[str, set[str]] = defaultdict(set)
        self.repeated: dict[str, int] = defaultdict(int)

    def __call__(self, path: Path, allow_empty_value: bool) -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value, _ in read_table(path, allow_empty_value=allow_empty_value):
            if key not in out:
                out[key] = value
            elif out[key] == value:
                self.repeated[path.name] += 1
            else:
                self.conflicts[path.name].add(key)
        for key in self.conflicts[path.name]:
            out.pop(key, None)
        return out


def _segment_problem(value: str, utt: str, wav_scp: dict[str, str], reco2dur: dict[str, str] | None) -> str | None:
    try:
        reco, start, end = parse_segment(value, utt)
    except SpeechSSLError:
        return "with a malformed segments line"
    if start < 0:
        return "with a negative segment start"
    if end <= start:
        return "whose segment end is not after its start"
    if reco not in wav_scp:
        return "whose segment's recording is missing from wav.scp"
    if reco2dur is not None and reco in reco2dur:
        try:
            if end > float(reco2dur[reco]) + MAX_OVERSHOOT:
                return "whose segment ends past the end of its recording (reco2dur)"
        except ValueError:
            pass
    return None


def fix_data_dir(path: str | Path, *, backup: bool = True) -> FixReport:
    """Make a data directory consistent in place, Kaldi's fix_data_dir.sh style.

    Keeps the utterances present in every utterance table (utt2spk, text,
    feats.scp, utt2dur, utt2num_frames, utt2* of our own, segments, or wav.scp
    when there are no segments) with a usable transcript and segment; drops
    recordings and speaker entries nothing uses; sorts every file and rebuilds
    spk2utt.  The old files are copied to ``<path>/.backup/`` first.
    """
    path = Path(path)
    reader = _TolerantReader()
    d = DataDir.load(path, reader=reader)
    if not d.utt2spk:
        raise SpeechSSLError(f"{path}: no utt2spk (or it is empty); nothing to fix")
    report = FixReport(repeated_lines={k: v for k, v in reader.repeated.items() if v})
    utt_tables: dict[str, dict[str, str]] = {
        name: t for name, t in (("text", d.text), ("feats.scp", d.feats_scp), ("utt2dur", d.utt2dur),
                                ("utt2num_frames", d.utt2num_frames)) if t is not None}
    utt_tables.update(d.extra)
    if d.segments is not None:
        utt_tables["segments"] = d.segments
    elif (path / "wav.scp").is_file():
        utt_tables["wav.scp"] = d.wav_scp
    dropped: dict[str, list[str]] = defaultdict(list)
    for name, keys in reader.conflicts.items():
        if keys:
            log.warning("%s/%s: %d key(s) have conflicting duplicate lines and were removed (e.g. %r)", path, name,
                        len(keys), sorted(keys)[0])
    dropped["with conflicting duplicate lines in utt2spk"] = sorted(reader.conflicts.get("utt2spk", ()))
    for utt in d.utts:
        reason = next((f"with conflicting duplicate lines in {name}" for name, keys in reader.conflicts.items()
                       if utt in keys and name in utt_tables), None)
        reason = reason or next((f"missing from {name}" for name, t in utt_tables.items() if utt not in t), None)
        if reason is None and d.text is not None and not d.text[utt].strip():
            reason = "with an empty transcript"
        if reason is None and d.segments is not None:
            reason = _segment_problem(d.segments[utt], utt, d.wav_scp, d.reco2dur)
        if reason is None:
            report.kept.append(utt)
        else:
            dropped[reason].append(utt)
    report.dropped = {reason: utts for reason, utts in dropped.items() if utts}
    if not report.kept:
        raise SpeechSSLError(f"{path}: no utterance would be left:\n{report.describe()}")
    fixed = subset_by_utts(d, report.kept)
    dropped_utts = {u for utts in report.dropped.values() for u in utts}
    new_tables = fixed.tables()
    for name, old in d.tables().items():
        gone = [k for k in old if k not in new_tables.get(name, {})]
        if name in utt_tables or name == "utt2spk":
            gone = [k for k in gone if k not in dropped_utts]
        if gone:
            report.stray_lines[name] = len(gone)
    missing_gender = set(fixed.utt2spk.values()) - set(fixed.spk2gender or {})
    if fixed.spk2gender is not None and missing_gender:
        log.warning("%s/spk2gender: %d speaker(s) have no gender (e.g. %s); add them", path, len(missing_gender),
                    sorted(missing_gender)[0])
    emptied = [name for name in d.tables() if name not in new_tables]
    if backup:
        _backup(path, list(d.tables()) + ["spk2utt"])
    fixed.save(path)
    for name in emptied:  # nothing of it is left; an old copy would contradict the rest
        (path / name).unlink(missing_ok=True)
        log.warning("%s/%s: no line is left; removed the file", path, name)
    log.info("fix_data_dir %s: %s", path, report.describe())
    return report


def _backup(path: Path, names: Iterable[str]) -> None:
    backup = path / ".backup"
    backup.mkdir(exist_ok=True)
    for name in names:
        if (path / name).is_file():
            shutil.copy2(path / name, backup / name)
    log.info("fix_data_dir: the previous files are in %s", backup)


# --------------------------------------------------------------------------- split
def _balanced_bounds(sizes: Sequence[int], num_parts: int) -> list[int]:
    """Indices cutting ``sizes`` into ``num_parts`` contiguous non-empty runs of near-equal total."""
    cum = [0]
    for s in sizes:
        cum.append(cum[-1] + s)
    bounds = [0]
    for k in range(1, num_parts):
        target = cum[-1] * k / num_parts
        lo, hi = bounds[-1] + 1, len(sizes) - (num_parts - k)
        b = bisect.bisect_left(cum, target)
        candidates = [min(max(c, lo), hi) for c in (b - 1, b)]
        bounds.append(min(candidates, key=lambda c: (abs(cum[c] - target), c)))
    bounds.append(len(sizes))
    return bounds


def split_data_dir(path: str | Path, num_parts: int, *, per_spk: bool = False) -> list[Path]:
    """Split into ``<path>/split<N>/<1..N>/`` of contiguous utterances (whole speakers with ``per_spk``).

    A split made from the same files with the same options is reused.
    """
    path = Path(path)
    if num_parts < 1:
        raise SpeechSSLError(f"number of parts must be at least 1, got {num_parts}")
    split_dir = path / f"split{num_parts}"
    parts = [split_dir / str(k) for k in range(1, num_parts + 1)]
    if not path.is_dir():
        raise SpeechSSLError(f"{path}: no such data directory")
    inputs = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".")]
    marker = StageMarker(split_dir / ".split.json", f"split_data_dir {path}",
                         {"num_parts": num_parts, "per_spk": per_spk}, inputs)
    old = marker.read()
    if old is not None and old.get("hash") == marker.digest and all((p / "utt2spk").is_file() for p in parts):
        log.info("%s is up to date; reusing it", split_dir)
        return parts
    d = DataDir.load(path)
    utts = d.utts
    if per_spk:
        groups: dict[str, list[str]] = {}
        for u in utts:
            groups.setdefault(d.utt2spk[u], []).append(u)
        units = list(groups.values())
    else:
        units = [[u] for u in utts]
    if len(units) < num_parts:
        what = "speakers" if per_spk else "utterances"
        raise SpeechSSLError(f"cannot split {path} into {num_parts} parts: it has only {len(units)} {what}")
    bounds = _balanced_bounds([len(u) for u in units], num_parts)
    sizes = []
    with atomic_dir(split_dir) as tmp:
        for k in range(num_parts):
            chosen = [u for unit in units[bounds[k]:bounds[k + 1]] for u in unit]
            sizes.append(len(chosen))
            subset_by_utts(d, chosen).save(tmp / str(k + 1))
    marker.write(parts, summary={"utterances_per_part": sizes})
    log.info("split %s into %d parts%s: %d to %d utterances each", path, num_parts,
             " (whole speakers)" if per_spk else "", min(sizes), max(sizes))
    return parts


# --------------------------------------------------------------------------- subset
def _read_id_list(list_file: str | Path) -> list[str]:
    return [line.split()[0] for line in read_lines(list_file) if line.strip()]


def subset_data_dir(
    src: str | Path,
    dest: str | Path,
    *,
    first: int | None = None,
    last: int | None = None,
    utt_list: str | Path | None = None,
    spk_list: str | Path | None = None,
    shortest: int | None = None,
    random: int | None = None,
    seed: int = 0,
) -> DataDir:
    """Write to ``dest`` the utterances of ``src`` chosen by exactly one selector.

    ``first``/``last``: the first/last N in C order; ``shortest``: the N shortest
    (needs utt2dur or segments); ``random``: N drawn with ``seed``; ``utt_list``/
    ``spk_list``: files whose first field is an utterance/speaker id.
    """
    src, dest = Path(src), Path(dest)
    selectors = {"first": first, "last": last, "utt_list": utt_list, "spk_list": spk_list,
                 "shortest": shortest, "random": random}
    given = [k for k, v in selectors.items() if v is not None]
    if len(given) != 1:
        raise SpeechSSLError("give exactly one of --first, --last, --utt-list, --spk-list, --shortest, --random"
                             + (f" (got {', '.join(given)})" if given else ""))
    how = given[0]
    d = DataDir.load(src)
    utts = d.utts
    n = selectors[how]
    if how in ("first", "last", "shortest", "random"):
        if not 0 < n <= len(utts):
            raise SpeechSSLError(f"--{how} {n}: {src} has {len(utts)} utterances; choose a number from 1 to {len(utts)}")
    if how == "first":
        chosen = utts[:n]
    elif how == "last":
        chosen = utts[-n:]
    elif how == "random":
        chosen = random_module.Random(seed).sample(utts, n)
    elif how == "shortest":
        dur = utt_durations(d, src)
        chosen = sorted(utts, key=lambda u: (dur.get(u, float("inf")), kaldi_sort_key(u)))[:n]
    else:
        wanted = _read_id_list(n)
        known = set(utts) if how == "utt_list" else set(d.utt2spk.values())
        unknown = [x for x in wanted if x not in known]
        if unknown:
            log.warning("%s: %d of %d ids are not in %s and were ignored (e.g. %s)", n, len(unknown), len(wanted),
                        src, unknown[0])
        wanted_set = set(wanted)
        chosen = [u for u in utts if (u if how == "utt_list" else d.utt2spk[u]) in wanted_set]
    if not chosen:
        raise SpeechSSLError(f"no utterance of {src} was selected by --{how.replace('_', '-')} {n}")
    out = subset_by_utts(d, chosen)
    _write_new_dir(out, dest, [src])
    log.info("subset_data_dir: wrote %d of %d utterances of %s to %s (--%s)", len(out.utt2spk), len(utts), src, dest,
             how.replace("_", "-"))
    return out


# --------------------------------------------------------------------------- combine
def _merge(name: str, tables: list[tuple[Path, dict[str, str] | None]], what: str) -> dict[str, str] | None:
    """Union of one table across sources; None (with a warning) unless every source has it."""
    missing = [str(src) for src, t in tables if t is None]
    if missing:
        if len(missing) < len(tables):
            log.warning("combine_data_dirs: %s is missing from %s; leaving it out of the result", name,
                        ", ".join(missing))
        return None
    out: dict[str, str] = {}
    owner: dict[str, Path] = {}
    for src, table in tables:
        for key, value in table.items():
            if key in out and out[key] != value:
                raise SpeechSSLError(f"{what} {key!r} has different {name} entries in {owner[key]} ({out[key]!r}) "
                                     f"and {src} ({value!r}); make the ids unique (utils/copy_data_dir.sh "
                                     "--utt-prefix/--spk-prefix) before combining")
            out.setdefault(key, value)
            owner.setdefault(key, src)
    return out


def _whole_recording_segments(d: DataDir, src: Path) -> dict[str, str]:
    """``utt -> "utt 0 duration"`` for a directory without segments."""
    if d.utt2dur is not None:
        durations = utt_durations(d, src)
    elif d.reco2dur is not None:
        durations = {u: float(v) for u, v in d.reco2dur.items()}
    else:
        durations = {u: audio_info(d.wav_scp[u], name=u).duration for u in d.utts if u in d.wav_scp}
    return {u: f"{u} 0 {format_seconds(durations[u])}" for u in d.utts if u in durations}


def combine_data_dirs(dest: str | Path, srcs: Sequence[str | Path]) -> DataDir:
    """Write to ``dest`` the union of the data directories ``srcs``.

    Utterance ids must be unique across sources; a recording or speaker may be
    shared only with identical entries.  A table missing from some source is
    left out (with a warning).  When only some sources have segments, the
    others get whole-recording segments.
    """
    dest = Path(dest)
    paths = [Path(s) for s in srcs]
    if not paths:
        raise SpeechSSLError("combine_data_dirs: give at least one source directory")
    dirs = [DataDir.load(p) for p in paths]
    owner: dict[str, Path] = {}
    for p, d in zip(paths, dirs):
        for u in d.utt2spk:
            if u in owner:
                raise SpeechSSLError(f"utterance {u!r} is in both {owner[u]} and {p}; utterance ids must be unique "
                                     "across the combined directories: give each source its own prefix with "
                                     "utils/copy_data_dir.sh --utt-prefix X- --spk-prefix X-")
            owner[u] = p
    if any(d.segments is not None for d in dirs):
        for p, d in zip(paths, dirs):
            if d.segments is None:
                log.info("combine_data_dirs: %s has no segments; using whole recordings as segments", p)
                d.segments = _whole_recording_segments(d, p)
    out = DataDir(utt2spk=_merge("utt2spk", [(p, d.utt2spk) for p, d in zip(paths, dirs)], "utterance"))
    for attr, name, what in [("text", "text", "utterance"), ("utt2dur", "utt2dur", "utterance"),
                             ("utt2num_frames", "utt2num_frames", "utterance"), ("feats_scp", "feats.scp", "utterance"),
                             ("segments", "segments", "utterance"), ("reco2dur", "reco2dur", "recording"),
                             ("spk2gender", "spk2gender", "speaker")]:
        setattr(out, attr, _merge(name, [(p, getattr(d, attr)) for p, d in zip(paths, dirs)], what))
    out.wav_scp = _merge("wav.scp", [(p, d.wav_scp or None) for p, d in zip(paths, dirs)], "recording") or {}
    for field_name, what in (("extra", "utterance"), ("reco_extra", "recording"), ("spk_extra", "speaker")):
        names = sorted({n for d in dirs for n in getattr(d, field_name)})
        merged = {n: _merge(n, [(p, getattr(d, field_name).get(n)) for p, d in zip(paths, dirs)], what) for n in names}
        setattr(out, field_name, {n: t for n, t in merged.items() if t is not None})
    _write_new_dir(out, dest, paths)
    log.info("combine_data_dirs: wrote %d utterances from %d directories to %s", len(out.utt2spk), len(paths), dest)
    return out


# --------------------------------------------------------------------------- copy
def copy_data_dir(
    src: str | Path,
    dest: str | Path,
    *,
    utt_prefix: str = "",
    utt_suffix: str = "",
    spk_prefix: str = "",
    spk_suffix: str = "",
) -> DataDir:
    """Copy a data directory, adding prefixes/suffixes to utterance and speaker ids.

    With segments, recording ids are kept; without, wav.scp is keyed by
    utterance and renamed with it.
    """
    src, dest = Path(src), Path(dest)
    for affix in (utt_prefix, utt_suffix, spk_prefix, spk_suffix):
        if any(c.isspace() for c in affix):
            raise SpeechSSLError(f"prefix/suffix {affix!r} contains whitespace; ids cannot")
    d = DataDir.load(src)

    def utt(u: str) -> str:
        return f"{utt_prefix}{u}{utt_suffix}"

    def spk(s: str) -> str:
        return f"{spk_prefix}{s}{spk_suffix}"

    def reco(r: str) -> str:
        return r if d.segments is not None else utt(r)

    out = DataDir(utt2spk={utt(u): spk(s) for u, s in d.utt2spk.items()})
    for attr in _UTT_ATTRS + ("segments",):
        setattr(out, attr, _rekey(getattr(d, attr), utt))
    out.extra = {n: _rekey(t, utt) for n, t in d.extra.items()}
    out.wav_scp = _rekey(d.wav_scp, reco)
    out.reco2dur = _rekey(d.reco2dur, reco)
    out.reco_extra = {n: _rekey(t, reco) for n, t in d.reco_extra.items()}
    out.spk2gender = _rekey(d.spk2gender, spk)
    out.spk_extra = {n: _rekey(t, spk) for n, t in d.spk_extra.items()}
    _write_new_dir(out, dest, [src])
    violation = spk_sort_violation(out.utt2spk)
    if violation is not None:
        log.warning("copy_data_dir: in %s, utt2spk is no longer sorted by speaker (utterance %r after %r); "
                    "Kaldi's validate_data_dir.sh will reject it. Use the same --utt-prefix as --spk-prefix",
                    dest, violation[1], violation[0])
    log.info("copy_data_dir: copied %d utterances from %s to %s", len(out.utt2spk), src, dest)
    return out


# --------------------------------------------------------------------------- durations
def compute_utt2dur(path: str | Path, *, force: bool = False) -> dict[str, float]:
    """Write ``utt2dur`` and ``reco2dur`` from audio headers (pipes are run) or segments.

    An existing utt2dur covering exactly the utterances of utt2spk is kept
    unless ``force``.
    """
    path = Path(path)
    d = DataDir.load(path)
    if not force and d.utt2dur is not None and set(d.utt2dur) == set(d.utt2spk) and d.reco2dur is not None:
        log.info("%s/utt2dur is already complete; keeping it (use --force to recompute)", path)
        return utt_durations(d, path)
    if not d.wav_scp:
        raise SpeechSSLError(f"{path}: no wav.scp (or it is empty); cannot compute durations")
    reco_dur: dict[str, float] = {}
    failures: list[str] = []
    for reco, value in tqdm(d.wav_scp.items(), desc=f"durations of {path}", unit="rec", disable=None):
        try:
            info = audio_info(value, name=reco)
        except SpeechSSLError as e:
            failures.append(str(e))
            continue
        if info.num_frames == 0:
            failures.append(f"recording {reco!r}: the audio is empty (0 samples)")
        else:
            reco_dur[reco] = info.duration
    if failures:
        shown = "\n  ".join(failures[:10]) + (f"\n  ... and {len(failures) - 10} more" if len(failures) > 10 else "")
        raise SpeechSSLError(f"{path}: cannot read {len(failures)} recording(s) of wav.scp:\n  {shown}")
    if d.segments is not None:
        utt_dur = segment_durations(d.segments)
    else:
        utt_dur = {u: reco_dur[u] for u in d.utt2spk if u in reco_dur}
    write_table(path / "reco2dur", {r: format_seconds(x) for r, x in reco_dur.items()})
    write_table(path / "utt2dur", {u: format_seconds(x) for u, x in utt_dur.items()})
    log.info("compute_utt2dur: %s: %d utterances, %.2f hours", path, len(utt_dur), sum(utt_dur.values()) / 3600)
    return utt_dur

