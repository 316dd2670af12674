"""Corpus scoring with sclite-style outputs, and a cross-check against the real NIST ``sclite``.

:func:`score_corpus` aligns every utterance (:func:`speechssl.scoring.align.align`)
and sums the counts per speaker and over the corpus.  :func:`write_score_dir`
writes what a sclite user expects to read:

* ``ref.trn`` / ``hyp.trn``: ``tok tok ... (spk-utt)`` lines (sclite ``trn``
  format; sclite takes the speaker as the id's text before the first ``-``);
* ``result.txt``: the per-speaker Corr/Sub/Del/Ins/Err/S.Err table of
  ``sclite -o sum``, with Sum/Avg, Mean, S.D. and Median rows;
* ``result.pra``: per utterance, the counts and REF:/HYP:/Eval: lines, ``*``
  filling the missing side and S/D/I under each error (``sclite -o pra``);
* ``scores.json``: the same numbers, machine-readable.

:func:`run_sclite` runs ``sclite -i rm -o sum`` on two trn files and parses
its Sum/Avg row, so our numbers can be checked against the reference tool.
"""
from __future__ import annotations

import json
import re
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from tqdm import tqdm

from speechssl.data.scp import kaldi_sort_key, read_dict
from speechssl.scoring.align import Alignment, ErrorCounts, align
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

SCLITE_DIRS = ("/usr/lib/sctk/bin",)   # Debian's sctk package keeps sclite off PATH


@dataclass
class CorpusScore:
    """Alignments per utterance, counts per utterance, per speaker and in total."""

    metric: str
    utt2spk: dict[str, str]
    alignments: dict[str, Alignment]
    per_speaker: dict[str, ErrorCounts] = field(default_factory=dict)
    total: ErrorCounts = field(default_factory=ErrorCounts)

    def summary_line(self) -> str:
        """Kaldi ``compute-wer`` style: ``%WER 12.34 [ 123 / 1000, 10 ins, 20 del, 93 sub ]``."""
        t = self.total
        return (f"%{self.metric} {t.error_rate:.2f} [ {t.errors} / {t.ref_len}, {t.ins} ins, {t.dele} del, "
                f"{t.sub} sub ] ({t.sentences} utterances, {t.sentence_errors} with errors)")


def read_text_tokens(path: str | Path, remove: Sequence[str] = ()) -> dict[str, list[str]]:
    """Read a Kaldi ``text`` file (``utt tok tok ...``; empty values allowed) as token lists.

    Tokens in ``remove`` (e.g. ``<SIL>``) are dropped.
    """
    drop = set(remove)
    return {u: [t for t in v.split() if t not in drop] for u, v in read_dict(path, allow_empty_value=True).items()}


def default_speaker(utt: str) -> str:
    """The speaker sclite infers from a trn id: the text before the first ``-``."""
    return utt.split("-", 1)[0]


def check_keys(refs: Mapping[str, Sequence[str]], hyps: Mapping[str, Sequence[str]], ref_name: str = "reference",
               hyp_name: str = "hypothesis", missing_hyp: str = "error") -> dict[str, list[str]]:
    """Match hypotheses to references; return the hypotheses keyed like ``refs``.

    Hypotheses for unknown utterances are always an error.  A reference without
    a hypothesis is an error, or an empty hypothesis with ``missing_hyp="empty"``.
    References with no tokens are an error (their error rate is undefined).
    """
    if missing_hyp not in ("error", "empty"):
        raise SpeechSSLError(f"missing_hyp={missing_hyp!r}: choose 'error' or 'empty'")
    if not refs:
        raise SpeechSSLError(f"{ref_name}: no utterances to score")
    extra = sorted(set(hyps) - set(refs), key=kaldi_sort_key)
    if extra:
        raise SpeechSSLError(f"{hyp_name}: {len(extra)} utterance(s) have no reference in {ref_name}: "
                             f"{' '.join(extra[:10])}{' ...' if len(extra) > 10 else ''}; score against the "
                             "matching data directory")
    missing = sorted(set(refs) - set(hyps), key=kaldi_sort_key)
    if missing and missing_hyp == "error":
        raise SpeechSSLError(f"{hyp_name}: no hypothesis for {len(missing)} of {len(refs)} utterance(s) of "
                             f"{ref_name}: {' '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}; "
                             "decode them, or count them as empty hypotheses (--missing-hyp empty)")
    if missing:
        log.warning("%d utterance(s) have no hypothesis; scored as empty (all deletions)", len(missing))
    empty = sorted((u for u, r in refs.items() if not r), key=kaldi_sort_key)
    if empty:
        raise SpeechSSLError(f"{ref_name}: {len(empty)} utterance(s) have an empty reference: "
                             f"{' '.join(empty[:10])}{' ...' if len(empty) > 10 else ''}; their error rate is "
                             "undefined, remove them from the data directory (subset_data_dir / fix_data_dir)")
    return {u: list(hyps.get(u, ())) for u in refs}


def score_corpus(refs: Mapping[str, Sequence[str]], hyps: Mapping[str, Sequence[str]],
                 utt2spk: Mapping[str, str] | None = None, metric: str = "WER", costs: str = "sclite",
                 missing_hyp: str = "error") -> CorpusScore:
    """Align each utterance and count errors per utterance, per speaker and in total.

    ``refs``/``hyps`` map utterance ids to token lists.  Without ``utt2spk`` the
    speaker is the id's text before the first ``-`` (as sclite reads trn ids).
    """
    hyps = check_keys(refs, hyps, missing_hyp=missing_hyp)
    if utt2spk is None:
        spk_of = {u: default_speaker(u) for u in refs}
    else:
        lacking = sorted(set(refs) - set(utt2spk), key=kaldi_sort_key)
        if lacking:
            raise SpeechSSLError(f"utt2spk has no speaker for {len(lacking)} utterance(s): {' '.join(lacking[:10])}")
        spk_of = {u: utt2spk[u] for u in refs}
    result = CorpusScore(metric, spk_of, {})
    for utt in tqdm(sorted(refs, key=kaldi_sort_key), desc="align", unit="utt", disable=None, leave=False):
        a = align(list(refs[utt]), hyps[utt], costs)
        result.alignments[utt] = a
        spk = spk_of[utt]
        result.per_speaker[spk] = result.per_speaker.get(spk, ErrorCounts()) + a.counts
        result.total = result.total + a.counts
    return result


def trn_id(utt: str, spk: str) -> str:
    """The sclite trn id of an utterance: ``spk-utt``, or ``utt`` when it already starts with ``spk-``."""
    return utt if utt.startswith(spk + "-") else f"{spk}-{utt}"


def write_trn(path: str | Path, texts: Mapping[str, Sequence[str]], utt2spk: Mapping[str, str]) -> None:
    """Write ``tok tok ... (spk-utt)`` lines in utterance order."""
    with atomic_write(path) as f:
        for utt in sorted(texts, key=kaldi_sort_key):
            words = " ".join(texts[utt])
            f.write(f"{words} ({trn_id(utt, utt2spk[utt])})\n" if words else f"({trn_id(utt, utt2spk[utt])})\n")


def _percent_row(label: str, sentences: float, words: float, values: Sequence[float], num_fmt: str) -> str:
    nums = "".join(f"{v:7.1f}" for v in values)
    return f"| {label:<7}| {sentences:{num_fmt}} {words:{num_fmt}} |{nums} |"


def _row_values(c: ErrorCounts) -> list[float]:
    return [c.rate(c.corr), c.rate(c.sub), c.rate(c.dele), c.rate(c.ins), c.error_rate,
            100.0 * c.sentence_errors / c.sentences if c.sentences else 0.0]


def format_summary_table(score: CorpusScore, title: str = "hyp.trn") -> str:
    """The per-speaker table of ``sclite -o sum`` (percentages of the reference length)."""
    header = "| SPKR   | # Snt # Wrd |   Corr    Sub    Del    Ins    Err  S.Err |"
    rule = "|" + "-" * (len(header) - 2) + "|"
    double = "|" + "=" * (len(header) - 2) + "|"
    lines = [f"SYSTEM SUMMARY PERCENTAGES by SPEAKER ({score.metric})", "",
             "," + "-" * (len(header) - 2) + ".", f"|{title:^{len(header) - 2}}|", rule, header, rule]
    speakers = sorted(score.per_speaker, key=kaldi_sort_key)
    for k, spk in enumerate(speakers):
        c = score.per_speaker[spk]
        lines.append(_percent_row(spk, c.sentences, c.ref_len, _row_values(c), "5d"))
        lines.append(rule if k + 1 < len(speakers) else double)
    t = score.total
    lines += [_percent_row("Sum/Avg", t.sentences, t.ref_len, _row_values(t), "5d"), double]
    rows = [[c.sentences, c.ref_len, *_row_values(c)] for c in (score.per_speaker[s] for s in speakers)]
    columns = list(zip(*rows))
    sd = [statistics.stdev(col) if len(col) > 1 else 0.0 for col in columns]
    for label, vals in (("Mean", [statistics.fmean(col) for col in columns]), ("S.D.", sd),
                        ("Median", [statistics.median(col) for col in columns])):
        lines.append(_percent_row(label, vals[0], vals[1], vals[2:], "5.1f"))
    lines.append("`" + "-" * (len(header) - 2) + "'")
    return "\n".join(lines) + "\n"


def format_pra(score: CorpusScore) -> str:
    """Per-utterance alignments: id, counts, then REF:/HYP:/Eval: lines in aligned columns."""
    out = []
    for utt, a in score.alignments.items():
        c = a.counts
        refs, hyps, evals = [], [], []
        for op, r, h in a.pairs:
            r, h = r if r is not None else "*" * len(h), h if h is not None else "*" * len(r)
            width = max(len(r), len(h))
            refs.append(r.ljust(width))
            hyps.append(h.ljust(width))
            evals.append(("" if op == "C" else op).ljust(width))
        out += [f"id: ({trn_id(utt, score.utt2spk[utt])})",
                f"Scores: (#C #S #D #I) {c.corr} {c.sub} {c.dele} {c.ins}",
                "REF:  " + " ".join(refs), "HYP:  " + " ".join(hyps), "Eval: " + " ".join(evals).rstrip(), ""]
    return "\n".join(out)


def score_to_json(score: CorpusScore) -> dict:
    """Totals and per-speaker counts and rates as a JSON-serialisable dict."""
    def counts(c: ErrorCounts) -> dict:
        return {"ref_tokens": c.ref_len, "corr": c.corr, "sub": c.sub, "del": c.dele, "ins": c.ins,
                "errors": c.errors, "error_rate": round(c.error_rate, 4), "sentences": c.sentences,
                "sentence_errors": c.sentence_errors}
    return {"metric": score.metric, "total": counts(score.total),
            "per_speaker": {s: counts(c) for s, c in sorted(score.per_speaker.items())}}


def write_score_dir(out_dir: str | Path, score: CorpusScore, refs: Mapping[str, Sequence[str]],
                    hyps: Mapping[str, Sequence[str]], extra: Mapping[str, object] | None = None) -> list[Path]:
    """Write ref.trn, hyp.trn, result.txt, result.pra and scores.json; return their paths.

    ``extra`` adds keys to scores.json (e.g. breakdowns by group).
    """
    out_dir = Path(out_dir)
    bad = sorted({s for s in score.utt2spk.values() if "-" in s})
    if bad:
        log.warning("speaker id(s) %s contain '-': sclite will group their utterances by the text before the "
                    "first '-', unlike result.txt", " ".join(bad[:5]))
    paths = [out_dir / n for n in ("ref.trn", "hyp.trn", "result.txt", "result.pra", "scores.json")]
    write_trn(paths[0], refs, score.utt2spk)
    write_trn(paths[1], {u: hyps.get(u, ()) for u in refs}, score.utt2spk)
    with atomic_write(paths[2]) as f:
        f.write(format_summary_table(score) + "\n" + score.summary_line() + "\n")
    with atomic_write(paths[3]) as f:
        f.write(format_pra(score))
    with atomic_write(paths[4]) as f:
        json.dump({**score_to_json(score), **(extra or {})}, f, indent=2)
        f.write("\n")
    return paths


def find_sclite() -> Path:
    """Path of the ``sclite`` program (PATH, then Debian's /usr/lib/sctk/bin)."""
    found = shutil.which("sclite")
    if found:
        return Path(found)
    for d in SCLITE_DIRS:
        if (Path(d) / "sclite").is_file():
            return Path(d) / "sclite"
    raise SpeechSSLError("sclite not found on PATH or in /usr/lib/sctk/bin; install SCTK "
                         "(Debian/Ubuntu: apt-get install sctk)")


_SUM_ROW = re.compile(r"\|\s*Sum/Avg\s*\|\s*(\d+)\s+(\d+)\s*\|\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)"
                      r"\s+([\d.]+)\s+([\d.]+)\s*\|")


def parse_sclite_sum(text: str) -> dict[str, float]:
    """The Sum/Avg row of sclite's ``-o sum`` report: sentences, words and the six percentages."""
    m = _SUM_ROW.search(text)
    if not m:
        raise SpeechSSLError("cannot find the Sum/Avg row in the sclite report")
    keys = ("sentences", "words", "corr", "sub", "del", "ins", "err", "sent_err")
    return {k: (int(v) if k in ("sentences", "words") else float(v)) for k, v in zip(keys, m.groups())}


def run_sclite(ref_trn: str | Path, hyp_trn: str | Path) -> dict[str, float]:
    """Run ``sclite -i rm -o sum`` on two trn files and return :func:`parse_sclite_sum` of its report."""
    with tempfile.TemporaryDirectory(prefix="sclite-") as tmp:
        cmd = [str(find_sclite()), "-r", str(ref_trn), "trn", "-h", str(hyp_trn), "trn", "-i", "rm",
               "-o", "sum", "-O", tmp, "-n", "report"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        report = Path(tmp) / "report.sys"
        if proc.returncode != 0 or not report.is_file():
            raise SpeechSSLError(f"sclite failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stdout[-2000:]}"
                                 f"{proc.stderr[-2000:]}")
        return parse_sclite_sum(report.read_text(encoding="utf-8", errors="replace"))


def compare_with_sclite(score: CorpusScore, sclite_sum: Mapping[str, float]) -> list[str]:
    """Differences (as messages) between our totals and sclite's Sum/Avg row; empty when they agree."""
    t = score.total
    ours = {"sentences": t.sentences, "words": t.ref_len, "corr": t.rate(t.corr), "sub": t.rate(t.sub),
            "del": t.rate(t.dele), "ins": t.rate(t.ins), "err": t.error_rate,
            "sent_err": 100.0 * t.sentence_errors / t.sentences}
    return [f"{k}: ours {ours[k]:.1f}, sclite {sclite_sum[k]:.1f}" for k in ours
            if abs(round(ours[k], 1) - sclite_sum[k]) > 0.051]
