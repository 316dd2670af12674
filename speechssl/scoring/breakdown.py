"""Error rates broken down by a per-utterance category or by a per-token tag.

Two kinds of breakdown are computed from the alignments of a
:class:`~speechssl.scoring.sclite.CorpusScore`:

* **by utterance group** (:func:`counts_by_group`): a table ``utt value``
  (``utt2lang``, ``utt2group`` with UASpeech's intelligibility groups,
  ``utt2block`` ...) sums each utterance's counts into its value;
* **by token tag** (:func:`counts_by_tag`): a table ``utt tag1 tag2 ...`` with
  one tag per reference token (e.g. the language of each phone of a
  code-switched utterance).  Correct, substituted and deleted tokens are
  charged to their reference token's tag; an insertion is charged to the tag
  of the reference token before it (the one after it at the start of an
  utterance).  A tag's sentences are the utterances that contain it.

Both return ``{value: ErrorCounts}``; :func:`format_breakdown` renders one as
a plain-text table, :func:`breakdown_to_json` as a dict for ``scores.json``.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from speechssl.data.scp import kaldi_sort_key
from speechssl.scoring.align import CORRECT, DELETION, INSERTION, ErrorCounts
from speechssl.scoring.sclite import CorpusScore
from speechssl.utils.errors import SpeechSSLError


def _missing(score: CorpusScore, table: Mapping[str, object], name: str) -> None:
    lacking = sorted(set(score.alignments) - set(table), key=kaldi_sort_key)
    if lacking:
        raise SpeechSSLError(f"{name}: no entry for {len(lacking)} scored utterance(s): "
                             f"{' '.join(lacking[:10])}{' ...' if len(lacking) > 10 else ''}; "
                             "it must cover every utterance of the data directory")


def counts_by_group(score: CorpusScore, utt2group: Mapping[str, str], name: str = "utt2group"
                    ) -> dict[str, ErrorCounts]:
    """Sum the counts of each utterance into its group (``utt2group[utt]``)."""
    _missing(score, utt2group, name)
    out: dict[str, ErrorCounts] = {}
    for utt, a in score.alignments.items():
        group = utt2group[utt]
        out[group] = out.get(group, ErrorCounts()) + a.counts
    return dict(sorted(out.items()))


def _tag_counts(pairs, tags: Sequence[str], utt: str, name: str) -> dict[str, list[int]]:
    """Per tag: [corr, sub, del, ins] of one utterance's alignment."""
    n_ref = sum(op != INSERTION for op, _, _ in pairs)
    if n_ref != len(tags):
        raise SpeechSSLError(f"{name}: utterance {utt} has {len(tags)} tag(s) but its reference has {n_ref} "
                             "token(s) after removing separators; write one tag per reference token")
    counts: dict[str, list[int]] = {}
    k = 0            # index of the next reference token
    for op, _, _ in pairs:
        if op == INSERTION:
            tag = tags[k - 1] if k > 0 else tags[0]
            counts.setdefault(tag, [0, 0, 0, 0])[3] += 1
            continue
        slot = 0 if op == CORRECT else 2 if op == DELETION else 1
        counts.setdefault(tags[k], [0, 0, 0, 0])[slot] += 1
        k += 1
    return counts


def counts_by_tag(score: CorpusScore, utt2tags: Mapping[str, Sequence[str]], name: str = "utt2tags"
                  ) -> dict[str, ErrorCounts]:
    """Charge every aligned token to the tag of its reference token (see the module docstring)."""
    _missing(score, utt2tags, name)
    out: dict[str, ErrorCounts] = {}
    for utt, a in score.alignments.items():
        for tag, (c, s, d, i) in _tag_counts(a.pairs, list(utt2tags[utt]), utt, name).items():
            out[tag] = out.get(tag, ErrorCounts()) + ErrorCounts(c, s, d, i, 1, int(s + d + i > 0))
    return dict(sorted(out.items()))


def format_breakdown(counts: Mapping[str, ErrorCounts], metric: str, title: str) -> str:
    """A table: value, sentences, reference tokens, Corr/Sub/Del/Ins/Err in percent."""
    header = f"{title:<16} {'#Snt':>6} {'#Tok':>7} {'Corr':>6} {'Sub':>6} {'Del':>6} {'Ins':>6} {metric:>6}"
    lines = [header, "-" * len(header)]
    for value, c in counts.items():
        lines.append(f"{value:<16} {c.sentences:>6} {c.ref_len:>7} {c.rate(c.corr):>6.1f} {c.rate(c.sub):>6.1f} "
                     f"{c.rate(c.dele):>6.1f} {c.rate(c.ins):>6.1f} {c.error_rate:>6.2f}")
    return "\n".join(lines) + "\n"


def breakdown_to_json(counts: Mapping[str, ErrorCounts]) -> dict[str, dict]:
    """``{value: {ref_tokens, sub, del, ins, errors, error_rate, sentences}}``."""
    return {v: {"ref_tokens": c.ref_len, "corr": c.corr, "sub": c.sub, "del": c.dele, "ins": c.ins,
                "errors": c.errors, "error_rate": round(c.error_rate, 4), "sentences": c.sentences}
            for v, c in counts.items()}
