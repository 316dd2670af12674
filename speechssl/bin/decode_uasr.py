"""Decode per-utterance token log-probabilities (a logits.scp written by a UASR GAN or CTC model) into text.

Example::

    # phones, greedy (argmax, merge repeats, drop <SIL>)
    python -m speechssl.bin.decode_uasr exp/gan/logits_test.scp exp/gan/tokens.txt exp/gan/decode_test_greedy \\
        --ref data/test/text.phn --metric PER
    # phones with the phone 6-gram
    python -m speechssl.bin.decode_uasr --decoder beam --lm data/text/lm.phones.6.bin --lm-weight 1.0 \\
        exp/gan/logits_test.scp exp/gan/tokens.txt exp/gan/decode_test_phn6
    # words with the lexicon and the word 4-gram
    python -m speechssl.bin.decode_uasr --decoder lexicon --lexicon data/text/lexicon_filtered.lst \\
        --lm data/text/lm.words.4.bin --ref data/test/text --metric WER \\
        exp/gan/logits_test.scp exp/gan/tokens.txt exp/gan/decode_test_word4

Inputs: ``logits.scp`` points (kaldiio ark/scp) at one float matrix per
utterance, frames x V, log-probabilities or raw logits (log-softmax is applied);
the token list names the V columns in order (first field of each line, so
``dict.phn.txt``-style ``token count`` lines work).  Special symbols
(<s> </s> <unk> <pad> <eps> <blank>) are never emitted; --blank names the CTC
blank column, if any.

Decoders: ``greedy``; ``beam``, a prefix beam search with a KenLM token LM
(phone n-gram), ``lm_weight * ln P`` per token plus --insertion-bonus;
``lexicon``, a beam search over a prefix tree of the lexicon with a KenLM word LM
(<SIL> optional between words), see speechssl/decoding/lexicon_beam.py.

Writes OUT_DIR/text (``utt tok tok ...``, words for the lexicon decoder) and,
with --ref, OUT_DIR/scoring/ (see speechssl.bin.score: ref.trn, hyp.trn,
result.txt, result.pra, scores.json; with --group/--ref-tags also
breakdown_<name>.txt tables, whose numbers scores.json repeats under
"breakdowns").  A done-marker records the options and
inputs; a rerun with other ones is refused unless --redo true.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from speechssl.data.scp import kaldi_sort_key, read_dict, write_table
from speechssl.decoding import (BeamConfig, LexiconConfig, OutputTokens, beam_search, build_trie, greedy_decode,
                                LexiconDecoder, normalize_logprobs)
from speechssl.decoding.beam import MERGES
from speechssl.scoring.align import COSTS
from speechssl.scoring.breakdown import breakdown_to_json, counts_by_group, counts_by_tag, format_breakdown
from speechssl.scoring.sclite import read_text_tokens, score_corpus, write_score_dir
from speechssl.text.lexicon import read_lexicon
from speechssl.text.lm import load_lm
from speechssl.utils.atomic import atomic_write
from speechssl.utils.cli import add_config_option, parse_args
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)

DECODERS = ("greedy", "beam", "lexicon")


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the docstring layout and shows every option's default."""


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    p.add_argument("logits_scp", help="kaldiio scp of per-utterance (frames x V) log-probability matrices")
    p.add_argument("tokens", help="token list: the first field of line v is the symbol of column v")
    p.add_argument("out_dir", help="output directory (text, scoring/)")
    p.add_argument("--decoder", choices=DECODERS, default="greedy", help="decoding method")
    p.add_argument("--blank", default="", help="symbol of the CTC blank column; empty for no-blank (GAN) outputs, "
                   "where every frame/segment emits a token and repeats are merged")
    p.add_argument("--drop-tokens", default="<SIL>", help="tokens removed from the output text after decoding, "
                   "space-separated (greedy and beam decoders)")
    g = p.add_argument_group("beam search (beam and lexicon decoders)")
    g.add_argument("--lm", default="", help="KenLM model (ARPA or binary): a token n-gram over the token list for "
                   "--decoder beam, a word n-gram for --decoder lexicon; empty: no LM")
    g.add_argument("--lexicon", default="", help="lexicon 'word p1 p2 ...' in the token list's phones "
                   "(required for --decoder lexicon)")
    g.add_argument("--beam", type=int, default=10, help="hypotheses kept per frame")
    g.add_argument("--beam-threshold", type=float, default=50.0, help="drop hypotheses scoring more than this "
                   "below the best one (natural-log units)")
    g.add_argument("--lm-weight", type=float, default=1.0, help="weight of the LM's natural-log probability")
    g.add_argument("--insertion-bonus", type=float, default=0.0, help="score added per emitted token "
                   "(--decoder beam); positive values counter the LM's preference for short outputs")
    g.add_argument("--word-bonus", type=float, default=0.0, help="score added per word (--decoder lexicon)")
    g.add_argument("--sil-bonus", type=float, default=0.0, help="score added per <SIL> between words "
                   "(--decoder lexicon)")
    g.add_argument("--merge", choices=MERGES, default="max", help="combine paths reaching the same hypothesis by "
                   "max (Viterbi; beam 1 without LM equals greedy) or by sum (CTC prefix search)")
    g.add_argument("--batch-size", type=int, default=16, help="utterances searched together (the acoustic "
                   "scores of a batch are computed in one numpy operation per frame)")
    s = p.add_argument_group("scoring (optional)")
    s.add_argument("--ref", default="", help="reference Kaldi text (phones for PER, words for WER); "
                   "scores into OUT_DIR/scoring")
    s.add_argument("--utt2spk", default="", help="utt2spk for the per-speaker table")
    s.add_argument("--group", action="append", default=[], metavar="NAME=TABLE",
                   help="also report the rate per value of a per-utterance table 'utt value' (e.g. "
                   "lang=data/test/utt2lang); repeatable; writes scoring/breakdown_NAME.txt")
    s.add_argument("--ref-tags", default="", help="table 'utt tag1 tag2 ...' with one tag per reference token "
                   "(after --remove-tokens), e.g. the language of each phone: also report the rate per tag "
                   "(scoring/breakdown_tags.txt)")
    s.add_argument("--metric", default="PER", help="name of the rate in the reports")
    s.add_argument("--remove-tokens", default="<SIL>", help="tokens removed from both sides before scoring")
    s.add_argument("--costs", choices=sorted(COSTS), default="sclite", help="alignment costs (see speechssl.bin.score)")
    p.add_argument("--redo", choices=("false", "true"), default="false", help="discard outputs made with other "
                   "options or inputs")
    p.add_argument("--log-level", default="INFO", help="logging level")
    return p


def load_logits(scp: str):
    """The kaldiio lazy table of an scp, utterance ids in C order."""
    import kaldiio

    if not Path(scp).is_file():
        raise SpeechSSLError(f"{scp}: no such file; write the model's log-probabilities first")
    try:
        table = kaldiio.load_scp(scp)
        keys = sorted(table.keys(), key=kaldi_sort_key)
    except (OSError, ValueError) as e:
        raise SpeechSSLError(f"{scp}: cannot read this scp ({e}); lines must be 'utt ark_path:offset'") from None
    if not keys:
        raise SpeechSSLError(f"{scp}: no utterances")
    return table, keys


def read_matrix(table, utt: str, scp: str):
    try:
        return table[utt]
    except (OSError, ValueError, KeyError) as e:
        raise SpeechSSLError(f"{scp}: cannot load the matrix of utterance {utt} ({e})") from None


def make_decoder(args, tokens: OutputTokens):
    """A function from a batch of normalised matrices to lists of output symbols."""
    if args.batch_size < 1:
        raise SpeechSSLError(f"--batch-size {args.batch_size} must be at least 1")
    if args.decoder == "greedy":
        return lambda batch: [tokens.to_symbols(ids) for ids in greedy_decode(batch, tokens)]
    if args.decoder == "beam":
        lm = load_lm(args.lm, [tokens.symbols[v] for v in range(tokens.size) if tokens.emittable[v]]) \
            if args.lm else None
        config = BeamConfig(args.beam, args.beam_threshold, args.lm_weight, args.insertion_bonus, args.merge)
        return lambda batch: [tokens.to_symbols(h.ids) for h in beam_search(batch, tokens, lm, config)]
    if not args.lexicon:
        raise SpeechSSLError("--decoder lexicon needs --lexicon (e.g. data/text/lexicon_filtered.lst)")
    trie = build_trie(read_lexicon(args.lexicon), tokens)
    lm = load_lm(args.lm) if args.lm else None
    config = LexiconConfig(args.beam, args.beam_threshold, args.lm_weight, 0.0, args.merge, args.word_bonus,
                           args.sil_bonus)
    decoder = LexiconDecoder(tokens, trie, lm, config)
    return lambda batch: [list(h.ids) for h in decoder(batch)]


def score_breakdowns(score, groups: list[str], ref_tags: str, out_dir: Path) -> dict[str, dict]:
    """Rates per utterance group (``--group``) and per reference-token tag (``--ref-tags``), as tables and JSON."""
    tables = []
    for spec in groups:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise SpeechSSLError(f"--group {spec!r}: expected NAME=TABLE, e.g. lang=data/test/utt2lang")
        tables.append((name, counts_by_group(score, read_dict(path), path)))
    if ref_tags:
        tags = {u: v.split() for u, v in read_dict(ref_tags).items()}
        tables.append(("tags", counts_by_tag(score, tags, ref_tags)))
    out = {}
    for name, counts in tables:
        with atomic_write(out_dir / f"breakdown_{name}.txt") as f:
            f.write(format_breakdown(counts, score.metric, name))
        log.info("%s by %s: %s", score.metric, name,
                 ", ".join(f"{v} {c.error_rate:.2f}" for v, c in counts.items()))
        out[name] = breakdown_to_json(counts)
    return out


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = parse_args(add_config_option(get_parser()), argv)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    setup_logging(args.log_level, out_dir / "log" / "decode.log")
    inputs = [args.logits_scp, args.tokens] + [x for x in (args.lm, args.lexicon) if x]
    config = {k: v for k, v in vars(args).items() if k not in ("out_dir", "log_level", "redo", "ref", "utt2spk",
                                                                 "metric", "remove_tokens", "costs")}
    marker = StageMarker(out_dir / ".done.decode.json", "decode_uasr", config, inputs)
    text_path = out_dir / "text"
    if marker.needs_run([text_path], redo=args.redo == "true"):
        tokens = OutputTokens.read(args.tokens, args.blank, args.drop_tokens.split())
        decode = make_decoder(args, tokens)
        table, keys = load_logits(args.logits_scp)
        hyps: dict[str, list[str]] = {}
        empty = 0
        with tqdm(total=len(keys), desc=f"decode ({args.decoder})", unit="utt", disable=None) as bar:
            for start in range(0, len(keys), args.batch_size):
                names = keys[start:start + args.batch_size]
                batch = [normalize_logprobs(read_matrix(table, u, args.logits_scp), tokens,
                                            f"{args.logits_scp}: utterance {u}") for u in names]
                for utt, out in zip(names, decode(batch)):
                    hyps[utt] = out
                    empty += not out
                bar.update(len(names))
        write_table(text_path, ((u, " ".join(w)) for u, w in hyps.items()))
        if empty:
            log.warning("%d of %d utterances decoded to an empty output", empty, len(hyps))
        log.info("decoded %d utterances into %s", len(hyps), text_path)
        marker.write([text_path], {"utterances": len(hyps), "empty_outputs": empty})
    if args.ref:
        remove = args.remove_tokens.split()
        refs, hyps_scored = read_text_tokens(args.ref, remove), read_text_tokens(text_path, remove)
        utt2spk = read_dict(args.utt2spk) if args.utt2spk else None
        score = score_corpus(refs, hyps_scored, utt2spk, metric=args.metric, costs=args.costs)
        breakdowns = score_breakdowns(score, args.group, args.ref_tags, out_dir / "scoring")
        write_score_dir(out_dir / "scoring", score, refs, hyps_scored,
                        {"breakdowns": breakdowns} if breakdowns else None)
        log.info("%s (details in %s)", score.summary_line(), out_dir / "scoring" / "result.txt")
        print(score.summary_line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
