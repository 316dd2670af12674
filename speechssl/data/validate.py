"""Checking a Kaldi data directory: every rule of Kaldi's utils/validate_data_dir.sh, and more.

Kaldi's rules: keys of every table sorted (``LC_ALL=C``) and unique, each file
ending in a newline; ``utt2spk`` with two fields per line and, unless
``no_spk_sort``, sorted by speaker as well as by utterance; ``spk2utt`` the exact
inverse of ``utt2spk``; ``text`` with no CR, no Unicode whitespace other than
space and tab, no non-printable characters (unless ``non_print``) and none of the
words ``<s> </s> #0``; no ``~`` in ``wav.scp``; ``segments`` lines
``utt reco start end`` with ``end > start``; utterance, recording and speaker ids
identical across the tables that share them; positive ``utt2dur``,
``utt2num_frames`` and ``reco2dur``; ``spk2gender`` values ``m``/``f``; a warning
if there is only one speaker.

Added here: non-UTF-8 lines, byte-order marks, empty transcripts, negative
segment starts, segments past the end of their recording, missing feature
archives, and the audio itself (missing, corrupt, empty, wrong sample rate,
several channels).  Audio headers are read with soundfile and only the first
and last samples decoded, unless ``full_audio_check``; ``cmd |`` entries are run
only with ``check_pipes``.

Every problem is collected (capped per kind) with the file, line and key.
"""
from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from tqdm import tqdm

from speechssl.audio.io import MAX_OVERSHOOT, is_pipe, probe_audio
from speechssl.data.datadir import RECO_EXTRA_FILES, SPK_EXTRA_FILES, UTT_EXTRA_FILES
from speechssl.data.scp import kaldi_sort_key
from speechssl.utils.errors import SpeechSSLError

#: Words reserved by Kaldi's language-model and lexicon FSTs.
ILLEGAL_WORDS = ("<s>", "</s>", "#0")
# Matched as ``grep -w`` does in the C locale: not inside a longer [A-Za-z0-9_] word.
_ILLEGAL_RE = re.compile(r"(?<![A-Za-z0-9_])(<s>|</s>|#0)(?![A-Za-z0-9_])")
_FIELD_SEP = re.compile(r"[ \t]+")
#: Problems of one kind in one file listed before the rest are only counted.
MAX_PER_KIND = 10


@dataclass
class ValidationReport:
    """Errors, warnings and notes found in one data directory."""

    path: Path
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict, repr=False)
    _kind_is_error: dict[str, bool] = field(default_factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings are allowed)."""
        return not self.errors

    def error(self, message: str, kind: str | None = None) -> None:
        """Record an error; beyond ``MAX_PER_KIND`` of one ``kind`` they are only counted."""
        self._add(self.errors, message, kind, True)

    def warn(self, message: str, kind: str | None = None) -> None:
        """Record a warning (does not make the directory invalid)."""
        self._add(self.warnings, message, kind, False)

    def _add(self, target: list[str], message: str, kind: str | None, is_error: bool) -> None:
        if kind is not None:
            self._counts[kind] = self._counts.get(kind, 0) + 1
            self._kind_is_error[kind] = is_error
            if self._counts[kind] > MAX_PER_KIND:
                return
        target.append(message)

    def finish(self) -> "ValidationReport":
        """Append a count of the problems left out of each capped kind."""
        for kind, n in self._counts.items():
            if n > MAX_PER_KIND:
                target = self.errors if self._kind_is_error[kind] else self.warnings
                target.append(f"{kind}: {n - MAX_PER_KIND} more like the above ({n} in all)")
        self._counts.clear()
        return self

    def summary(self) -> str:
        """Every problem, one per line, then a one-line verdict."""
        lines = [f"ERROR: {m}" for m in self.errors] + [f"WARNING: {m}" for m in self.warnings]
        if self.ok:
            lines.append(f"Successfully validated data directory {self.path}"
                         + (f" ({len(self.warnings)} warning(s))" if self.warnings else ""))
        else:
            lines.append(f"{self.path}: {len(self.errors)} error(s), {len(self.warnings)} warning(s); "
                         "the data directory is not valid")
        return "\n".join(lines)


@dataclass
class _Row:
    key: str
    value: str
    fields: list[str]
    line: int


def spk_sort_violation(utt2spk: Mapping[str, str]) -> tuple[str, str] | None:
    """First ``(previous_utt, utt)`` where utt2spk in utterance order is not also in speaker order."""
    prev: str | None = None
    for utt in sorted(utt2spk, key=kaldi_sort_key):
        if prev is not None and kaldi_sort_key(utt2spk[utt]) < kaldi_sort_key(utt2spk[prev]):
            return prev, utt
        prev = utt
    return None


class _Validator:
    def __init__(self, path: Path, report: ValidationReport, opts: dict):
        self.dir = path
        self.report = report
        self.opts = opts
        self.error = report.error
        self.segments: dict[str, _Row] = {}

    # ----------------------------------------------------------------- reading
    def read(self, name: str) -> list[_Row] | None:
        """Rows of ``name`` (None if absent), reporting line-level problems."""
        path = self.dir / name
        if not path.is_file():
            return None
        data = path.read_bytes()
        if not data:
            self.error(f"{path}: file is empty; delete it or fill it")
            return []
        if data.startswith(codecs.BOM_UTF8):
            self.error(f"{path}:1: file starts with a UTF-8 byte-order mark; remove it "
                       f"(e.g. sed -i '1s/^\\xEF\\xBB\\xBF//' {path})")
            data = data[len(codecs.BOM_UTF8):]
        if not data.endswith(b"\n"):
            self.error(f"{path}: the last line does not end with a newline; Kaldi tools need one (echo >> {path})")
        raw_lines = data.split(b"\n")
        if raw_lines[-1] == b"":
            raw_lines.pop()
        rows = []
        for n, raw in enumerate(raw_lines, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                self.error(f"{path}:{n}: line is not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}); "
                           "convert the file to UTF-8, e.g. with iconv -f latin1 -t utf-8",
                           kind=f"{path}: non-UTF-8 lines")
                line = raw.decode("utf-8", "replace")
            if "\r" in line:
                self.error(f"{path}:{n}: line contains a carriage return (Windows line ending); run dos2unix {path}",
                           kind=f"{path}: carriage returns")
                line = line.replace("\r", "")
            if not line.strip(" \t"):
                self.error(f"{path}:{n}: empty line; delete it", kind=f"{path}: empty lines")
                continue
            if line[0] in " \t":
                self.error(f"{path}:{n}: line starts with whitespace; the key must come first",
                           kind=f"{path}: leading whitespace")
            fields = [f for f in _FIELD_SEP.split(line) if f]
            value = line.strip(" \t")[len(fields[0]):].strip(" \t")
            if not value and name != "text":
                self.error(f"{path}:{n}: key {fields[0]!r} has no value", kind=f"{path}: missing values")
            rows.append(_Row(fields[0], value, fields, n))
        return rows

    def index(self, name: str, rows: list[_Row]) -> dict[str, _Row]:
        """Map key -> first row, reporting keys out of C order and duplicate keys."""
        path = self.dir / name
        out: dict[str, _Row] = {}
        prev: _Row | None = None
        for row in rows:
            if row.key in out:
                self.error(f"{path}:{row.line}: duplicate key {row.key!r} (also on line {out[row.key].line}); "
                           "keep one line per key", kind=f"{path}: duplicate keys")
                continue
            if prev is not None and kaldi_sort_key(row.key) < kaldi_sort_key(prev.key):
                self.error(f"{path}:{row.line}: key {row.key!r} is out of order: in C order it comes before "
                           f"{prev.key!r} (line {prev.line}); sort the file with `LC_ALL=C sort {path}` "
                           "(utils/fix_data_dir.sh does this)", kind=f"{path}: unsorted keys")
            out[row.key] = row
            prev = row
        return out

    def compare(self, name: str, table: Mapping[str, _Row], ref: Mapping[str, _Row], ref_name: str,
                what: str = "utterance") -> None:
        """Report keys of ``name`` missing from ``ref_name`` and the reverse."""
        path = self.dir / name
        for key, row in table.items():
            if key not in ref:
                self.error(f"{path}:{row.line}: {what} {key!r} is not in {ref_name}; remove it or add it there "
                           f"(utils/fix_data_dir.sh keeps only {what}s found in every file)",
                           kind=f"{path}: {what}s not in {ref_name}")
        for key, row in ref.items():
            if key not in table:
                self.error(f"{path}: {what} {key!r} ({ref_name} line {row.line}) is missing from {name}",
                           kind=f"{path}: {what}s missing")

    def load(self, name: str) -> dict[str, _Row] | None:
        rows = self.read(name)
        return None if rows is None else self.index(name, rows)

    # ----------------------------------------------------------------- checks
    def run(self) -> None:
        utt2spk = self.check_utt2spk()
        if utt2spk is None:
            return
        self.check_spk2utt(utt2spk)
        speakers = {row.fields[1] for row in utt2spk.values() if len(row.fields) > 1}
        if len(speakers) == 1:
            self.report.warn(f"{self.dir}: only one speaker ({next(iter(speakers))!r}); speaker-adaptive steps "
                             "(CMVN per speaker, i-vectors) will treat all the data as one person. If speakers are "
                             "unknown, use one speaker id per utterance (speaker id = utterance id)")
        self.check_text(utt2spk)
        durations = self.check_recordings(utt2spk)
        self.check_feats(utt2spk)
        self.check_utt_tables(utt2spk)
        self.check_spk_tables(speakers)
        if durations:
            self.check_segment_ends(durations)

    def check_utt2spk(self) -> dict[str, _Row] | None:
        path = self.dir / "utt2spk"
        rows = self.read("utt2spk")
        if rows is None:
            self.error(f"{path}: no such file; every data directory needs utt2spk (`<utterance-id> <speaker-id>`)")
            return None
        for row in rows:
            if len(row.fields) != 2:
                self.error(f"{path}:{row.line}: expected 2 fields `<utterance-id> <speaker-id>`, found "
                           f"{len(row.fields)}", kind=f"{path}: bad lines")
        utt2spk = self.index("utt2spk", rows)
        if not self.opts["no_spk_sort"]:
            self.check_spk_sort(utt2spk)
        return utt2spk

    def check_spk_sort(self, utt2spk: dict[str, _Row]) -> None:
        spk_of = {k: r.fields[1] for k, r in utt2spk.items() if len(r.fields) == 2}
        violation = spk_sort_violation(spk_of)
        if violation is None:
            return
        prev, utt = violation
        self.error(
            f"{self.dir / 'utt2spk'}:{utt2spk[utt].line}: utt2spk is not sorted by speaker as well as by "
            f"utterance: utterance {utt!r} (speaker {spk_of[utt]!r}) comes after utterance {prev!r} "
            f"(speaker {spk_of[prev]!r}), but its speaker sorts first. Kaldi requires that sorting utt2spk by "
            "utterance id also sorts it by speaker id; fix this by making each speaker id a prefix of its "
            f"utterance ids (e.g. utterance {spk_of[utt] + '-' + utt!r}), or pass --no-spk-sort if no Kaldi "
            "speaker-level tool will read this directory"
        )

    def check_spk2utt(self, utt2spk: dict[str, _Row]) -> None:
        path = self.dir / "spk2utt"
        spk2utt = self.load("spk2utt")
        if spk2utt is None:
            self.error(f"{path}: no such file; create it from utt2spk with "
                       f"`utils/utt2spk_to_spk2utt.pl {self.dir / 'utt2spk'} > {path}` or run utils/fix_data_dir.sh")
            return
        listed: dict[str, tuple[str, int]] = {}
        pairs = []
        for spk, row in spk2utt.items():
            if len(row.fields) < 2:
                continue
            for utt in row.fields[1:]:
                if utt in listed:
                    self.error(f"{path}:{row.line}: utterance {utt!r} is listed twice (also under speaker "
                               f"{listed[utt][0]!r} on line {listed[utt][1]})", kind=f"{path}: mismatches")
                    continue
                listed[utt] = (spk, row.line)
                pairs.append((utt, spk))
        fix = "; regenerate spk2utt from utt2spk (utils/fix_data_dir.sh does this)"
        for utt, (spk, line) in listed.items():
            if utt not in utt2spk:
                self.error(f"{path}:{line}: utterance {utt!r} (speaker {spk!r}) is not in utt2spk{fix}",
                           kind=f"{path}: mismatches")
            elif len(utt2spk[utt].fields) == 2 and utt2spk[utt].fields[1] != spk:
                self.error(f"{path}:{line}: utterance {utt!r} is listed under speaker {spk!r}, but utt2spk line "
                           f"{utt2spk[utt].line} gives speaker {utt2spk[utt].fields[1]!r}{fix}",
                           kind=f"{path}: mismatches")
        for utt, row in utt2spk.items():
            if utt not in listed:
                self.error(f"{path}: utterance {utt!r} (utt2spk line {row.line}) is not listed in spk2utt{fix}",
                           kind=f"{path}: mismatches")
        expected = [(u, r.fields[1]) for u, r in utt2spk.items() if len(r.fields) == 2]
        # When utt2spk is not in speaker order no spk2utt can follow its order; that is reported (or
        # accepted, with no_spk_sort) by the speaker-order check.
        if sorted(pairs) == sorted(expected) and pairs != expected and spk_sort_violation(dict(expected)) is None:
            self.error(f"{path}: lists the right utterances but not in the order of utt2spk (speakers and their "
                       f"utterances must both be in C order){fix}")

    def check_text(self, utt2spk: dict[str, _Row]) -> None:
        path = self.dir / "text"
        rows = self.read("text")
        if rows is None:
            if not self.opts["no_text"]:
                self.error(f"{path}: no such file (pass --no-text if this directory has no transcripts)")
            return
        for row in rows:
            self.check_transcript(path, row)
        self.compare("text", self.index("text", rows), utt2spk, "utt2spk")

    def check_transcript(self, path: Path, row: _Row) -> None:
        where = f"{path}:{row.line}: utterance {row.key!r}"
        if len(row.fields) == 1:
            self.error(f"{where} has an empty transcript; remove the utterance (utils/fix_data_dir.sh does) or "
                       "transcribe it", kind=f"{path}: empty transcripts")
            return
        bad_space = bad_print = None
        for col, c in enumerate(row.value, start=1):
            if c == "\t" or c == " ":
                continue
            if c.isspace() and bad_space is None:
                bad_space = (col, c)
            elif unicodedata.category(c) in ("Cc", "Cn") and bad_print is None:
                bad_print = (col, c)
        if bad_space is not None:
            col, c = bad_space
            self.error(f"{where}: transcript contains the Unicode whitespace U+{ord(c):04X} "
                       f"({unicodedata.name(c, 'control')}) at column {col}, which Kaldi does not accept as a "
                       "word separator; replace it with an ordinary space", kind=f"{path}: unusual whitespace")
        if bad_print is not None and not self.opts["non_print"]:
            col, c = bad_print
            self.error(f"{where}: transcript contains the non-printable character U+{ord(c):04X} at column {col}; "
                       "remove it (or pass --non-print to accept it)", kind=f"{path}: non-printable characters")
        for m in _ILLEGAL_RE.finditer(row.value):
            self.error(f"{where}: transcript contains the illegal word {m.group(1)!r}; '<s>', '</s>' and '#0' are "
                       "reserved by the language model and lexicon FSTs: remove or rename it",
                       kind=f"{path}: illegal words")

    def check_recordings(self, utt2spk: dict[str, _Row]) -> dict[str, float]:
        """Check wav.scp, segments and recording tables; return recording durations when known."""
        wav_path, seg_path = self.dir / "wav.scp", self.dir / "segments"
        wav = self.load("wav.scp")
        segments = self.load("segments")
        if wav is None:
            if segments is not None:
                self.error(f"{seg_path}: segments exists but wav.scp does not")
            elif not self.opts["no_wav"]:
                self.error(f"{wav_path}: no such file (pass --no-wav if this directory has no audio)")
            return {}
        for row in wav.values():
            if "~" in row.value:
                self.error(f"{wav_path}:{row.line}: recording {row.key!r}: '~' in wav.scp; it is not expanded in "
                           "file names and breaks for other users: write the full path", kind=f"{wav_path}: '~'")
        if segments is None:
            self.compare("wav.scp", wav, utt2spk, "utt2spk")
        else:
            self.check_segments(segments, wav, utt2spk)
        reco2dur = self.check_reco_tables(wav)
        durations = self.check_audio(wav) if self.opts["check_audio"] else {}
        if not durations and reco2dur:
            durations = {k: float(r.value) for k, r in reco2dur.items() if _positive_float(r.value)}
        return durations

    def check_segments(self, segments: dict[str, _Row], wav: dict[str, _Row], utt2spk: dict[str, _Row]) -> None:
        path = self.dir / "segments"
        self.segments = segments
        used: set[str] = set()
        for row in segments.values():
            where = f"{path}:{row.line}: utterance {row.key!r}"
            if len(row.fields) != 4:
                self.error(f"{where}: expected 4 fields `<utterance-id> <recording-id> <start> <end>`, found "
                           f"{len(row.fields)}", kind=f"{path}: bad lines")
                continue
            reco = row.fields[1]
            used.add(reco)
            if reco not in wav:
                self.error(f"{where} refers to recording {reco!r}, which is not in wav.scp",
                           kind=f"{path}: unknown recordings")
            try:
                start, end = float(row.fields[2]), float(row.fields[3])
            except ValueError:
                self.error(f"{where}: start and end must be numbers (seconds), got {row.fields[2]!r} "
                           f"{row.fields[3]!r}", kind=f"{path}: bad times")
                continue
            if start < 0:
                self.error(f"{where}: negative start time {row.fields[2]}", kind=f"{path}: bad times")
            if end <= start:
                self.error(f"{where}: end time {row.fields[3]} is not after start time {row.fields[2]}",
                           kind=f"{path}: bad times")
        self.compare("segments", segments, utt2spk, "utt2spk")
        for reco, row in wav.items():
            if reco not in used:
                self.error(f"{self.dir / 'wav.scp'}:{row.line}: recording {reco!r} is not used by any segment; "
                           "remove it (utils/fix_data_dir.sh does)", kind=f"{self.dir / 'wav.scp'}: unused recordings")

    def check_reco_tables(self, wav: dict[str, _Row]) -> dict[str, _Row] | None:
        """Check reco2dur and reco2file_and_channel; return reco2dur."""
        reco2dur = self.load("reco2dur")
        if reco2dur is not None:
            self.compare("reco2dur", reco2dur, wav, "wav.scp", what="recording")
            self.check_numbers("reco2dur", reco2dur, integer=False)
        for name in RECO_EXTRA_FILES:
            table = self.load(name)
            if table is None:
                continue
            self.compare(name, table, wav, "wav.scp", what="recording")
            for row in table.values():
                if len(row.fields) != 3 or row.fields[2] not in ("A", "B", "1"):
                    self.error(f"{self.dir / name}:{row.line}: expected `<recording-id> <file> <channel A or B>`",
                               kind=f"{self.dir / name}: bad lines")
                elif row.fields[2] == "1":
                    self.report.warn(f"{self.dir / name}:{row.line}: channel should be A or B, not 1",
                                     kind=f"{self.dir / name}: channel 1")
        return reco2dur

    def check_audio(self, wav: dict[str, _Row]) -> dict[str, float]:
        """Probe every recording; return the durations of those that could be read."""
        path = self.dir / "wav.scp"
        expected_sr, channel = self.opts["expected_sample_rate"], self.opts["channel"]
        durations: dict[str, float] = {}
        skipped = 0
        for reco, row in tqdm(wav.items(), desc=f"checking audio of {self.dir}", unit="rec", disable=None,
                              leave=False):
            if not row.value:
                continue
            if is_pipe(row.value) and not self.opts["check_pipes"]:
                skipped += 1
                continue
            where = f"{path}:{row.line}"
            try:
                info = probe_audio(row.value, name=reco, full=self.opts["full_audio_check"])
            except SpeechSSLError as e:
                self.error(f"{where}: {e}", kind=f"{path}: unreadable audio")
                continue
            if info.num_frames == 0:
                self.error(f"{where}: recording {reco!r}: the audio is empty (0 samples); remove the recording",
                           kind=f"{path}: empty audio")
                continue
            if expected_sr is not None and info.sample_rate != expected_sr:
                self.error(f"{where}: recording {reco!r} has sample rate {info.sample_rate} Hz, but the recipe "
                           f"expects {expected_sr} Hz; resample it (e.g. wav.scp value "
                           f"`sox FILE -r {expected_sr} -t wav - |`)", kind=f"{path}: wrong sample rate")
            if info.channels > 1 and (channel is None or channel >= info.channels):
                self.error(f"{where}: recording {reco!r} has {info.channels} channels; select one in wav.scp, e.g. "
                           "`sox FILE -t wav - remix 1 |`", kind=f"{path}: multi-channel audio")
            durations[reco] = info.duration
        if skipped:
            self.report.notes.append(f"{path}: {skipped} recording(s) given as `cmd |` were not run; pass "
                                     "--check-pipes to check them")
        return durations

    def check_segment_ends(self, durations: dict[str, float]) -> None:
        path = self.dir / "segments"
        tolerance = self.opts["max_overshoot"]
        for row in self.segments.values():
            if len(row.fields) != 4 or row.fields[1] not in durations:
                continue
            try:
                end = float(row.fields[3])
            except ValueError:
                continue
            dur = durations[row.fields[1]]
            if end > dur + tolerance:
                self.error(f"{path}:{row.line}: utterance {row.key!r} ends at {end} s, past the end of recording "
                           f"{row.fields[1]!r} ({dur:.3f} s) by more than {tolerance} s",
                           kind=f"{path}: segments past the end")

    def check_feats(self, utt2spk: dict[str, _Row]) -> None:
        path = self.dir / "feats.scp"
        feats = self.load("feats.scp")
        if feats is None:
            if not self.opts["no_feats"]:
                self.error(f"{path}: no such file (features are required here; compute them first)")
            return
        self.compare("feats.scp", feats, utt2spk, "utt2spk")
        seen: dict[str, bool] = {}
        for row in feats.values():
            m = re.fullmatch(r"(.+):\d+(\[.*\])?", row.value)
            if m is None or is_pipe(row.value):
                continue
            ark = m.group(1)
            if ark not in seen:
                seen[ark] = Path(ark).is_file()
                if not seen[ark]:
                    self.error(f"{path}:{row.line}: utterance {row.key!r}: feature archive {ark} does not exist",
                               kind=f"{path}: missing archives")

    def check_utt_tables(self, utt2spk: dict[str, _Row]) -> None:
        names = sorted(p.name for p in self.dir.iterdir()
                       if p.is_file() and p.name.startswith("utt2") and p.name != "utt2spk")
        for name in names + [n for n in UTT_EXTRA_FILES if (self.dir / n).is_file()]:
            table = self.load(name)
            if table is None:
                continue
            self.compare(name, table, utt2spk, "utt2spk")
            if name == "utt2dur":
                self.check_numbers(name, table, integer=False)
            elif name == "utt2num_frames":
                self.check_numbers(name, table, integer=True)

    def check_numbers(self, name: str, table: dict[str, _Row], integer: bool) -> None:
        path = self.dir / name
        for row in table.values():
            ok = len(row.fields) == 2 and (_positive_int(row.value) if integer else _positive_float(row.value))
            if not ok:
                what = "a positive integer" if integer else "a positive number"
                self.error(f"{path}:{row.line}: key {row.key!r}: value {row.value!r} is not {what}",
                           kind=f"{path}: bad values")

    def check_spk_tables(self, speakers: set[str]) -> None:
        ref = {s: _Row(s, "", [s], 0) for s in sorted(speakers, key=kaldi_sort_key)}
        for name in ("spk2gender",) + SPK_EXTRA_FILES:
            table = self.load(name)
            if table is None:
                continue
            path = self.dir / name
            for key, row in table.items():
                if key not in ref:
                    self.error(f"{path}:{row.line}: speaker {key!r} is not in utt2spk",
                               kind=f"{path}: speakers not in utt2spk")
            for key in ref:
                if key not in table:
                    self.error(f"{path}: speaker {key!r} of utt2spk is missing", kind=f"{path}: speakers missing")
            if name == "spk2gender":
                for row in table.values():
                    if row.value not in ("m", "f"):
                        self.error(f"{path}:{row.line}: speaker {row.key!r}: gender must be 'm' or 'f', got "
                                   f"{row.value!r}", kind=f"{path}: bad values")


def _positive_float(s: str) -> bool:
    try:
        return float(s) > 0
    except ValueError:
        return False


def _positive_int(s: str) -> bool:
    return s.isdigit() and int(s) > 0


def validate_data_dir(
    path: str | Path,
    *,
    expected_sample_rate: int | None = None,
    check_audio: bool = True,
    full_audio_check: bool = False,
    check_pipes: bool = False,
    no_text: bool = False,
    no_feats: bool = True,
    no_wav: bool = False,
    no_spk_sort: bool = False,
    non_print: bool = False,
    channel: int | None = None,
    max_overshoot: float = MAX_OVERSHOOT,
) -> ValidationReport:
    """Check the data directory ``path``; return every problem found.

    ``no_text``/``no_feats``/``no_wav`` make text, feats.scp and wav.scp optional
    (they are still checked when present); ``no_spk_sort`` drops the
    sorted-by-speaker rule; ``non_print`` accepts non-printable characters in
    text.  ``check_audio`` probes every recording (``full_audio_check``: decode
    all of it; ``check_pipes``: also run ``cmd |`` entries), against
    ``expected_sample_rate`` when given; multi-channel audio is an error unless
    ``channel`` names one that exists.  Segments may end up to
    ``max_overshoot`` seconds past their recording.
    """
    path = Path(path)
    report = ValidationReport(path)
    if not path.is_dir():
        report.error(f"{path}: no such directory")
        return report.finish()
    opts = dict(expected_sample_rate=expected_sample_rate, check_audio=check_audio,
                full_audio_check=full_audio_check, check_pipes=check_pipes, no_text=no_text, no_feats=no_feats,
                no_wav=no_wav, no_spk_sort=no_spk_sort, non_print=non_print, channel=channel,
                max_overshoot=max_overshoot)
    _Validator(path, report, opts).run()
    return report.finish()
