"""Prepare Kaldi data directories and the text side from a UA-Speech corpus (real or stand-in).

Example::

    python -m speechssl.bin.prepare_uaspeech --dev-fraction 0.1 downloads/ data/

writes

  data/train, data/dev     blocks B1 and B3 (dev: a seeded fraction of their recordings, all microphones)
  data/test                block B2 of the same speakers
  data/local/uaspeech/word_list.txt       'KEY WORD' as read from the corpus's word list
  data/local/uaspeech/lexicon_words.lst   the isolated-word lexicon 'word p1 p2 ...' (espeak-ng, --lang)
                                          for the word decoder: the task's closed vocabulary
  data/local/uaspeech/lm_isolated_words.arpa  its LM: one word per utterance, every word alike
  data/local/uaspeech/unpaired_text.txt   the UASR text side: isolated English words, one per line, drawn
                                          from the Debian WordNet examples (count**--unpaired-exponent)

Each data directory has wav.scp, text, utt2spk, spk2utt, spk2gender and the
tables utt2group (very_low, low, mid, high, control), utt2block, utt2mic,
utt2wordtype and utt2wordkey (utt2phones too for the stand-in).  The layout,
word codes and splits are described in speechssl/corpora/uaspeech.py.  A
done-marker records the options and a listing of the corpus; a rerun with the
same ones is skipped, a changed one is refused unless --redo true.
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from speechssl.corpora.uaspeech import (
    SET_NAMES, PrepareOptions, audio_root, collect_sets, english_word_counts, find_uaspeech_dir, find_word_list,
    isolated_word_arpa, isolated_word_text, read_word_list, set_summary, vocabulary, word_lexicon)
from speechssl.data.scp import write_table
from speechssl.utils.atomic import atomic_dir, atomic_write
from speechssl.utils.cli import add_config_option, parse_args, str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker, fingerprint

log = get_logger(__name__)


def listing_digest(root: Path) -> str:
    """Cheap fingerprint of the audio: names and sizes of its files (no content read)."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.wav")):
        h.update(f"{p.relative_to(root)}\0{p.stat().st_size}\n".encode())
    return h.hexdigest()


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", help="directory holding UASpeech/ (or the UASpeech directory itself)")
    p.add_argument("out_dir", help="where the data directories are written (e.g. data/)")
    p.add_argument("--word-list", default="", help="word list: 'KEY WORD' text, CSV export of the Word_filename "
                   "sheet, or speaker_wordlist.xls (default: found in UASpeech/doc)")
    p.add_argument("--audio-variant", default="", help="subdirectory of audio/ in releases that have several "
                   "(original, noisereduce, normalized); empty: speakers directly under audio/ (default: '')")
    p.add_argument("--mics", default="", help="comma-separated microphones to keep, e.g. M5 (default: all)")
    p.add_argument("--dev-fraction", type=float, default=0.1,
                   help="fraction of the B1/B3 recordings held out as data/dev (default: %(default)s)")
    p.add_argument("--include-control", type=str2bool, default=True,
                   help="keep the control speakers in every set (default: true)")
    p.add_argument("--lang", default="en-us", help="espeak-ng language of the isolated-word lexicon")
    p.add_argument("--unpaired-lines", type=int, default=20000,
                   help="lines (one word each) of the unpaired text (default: %(default)s)")
    p.add_argument("--unpaired-exponent", type=float, default=0.5,
                   help="words are drawn in proportion to count**EXPONENT in the Debian text (1: as in running "
                   "text, 0: all alike; default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the dev choice and of the unpaired text")
    p.add_argument("--redo", type=str2bool, default=False, help="discard and redo finished outputs")
    p.add_argument("--log-level", default="INFO")
    return add_config_option(p)


def prepare(args: argparse.Namespace) -> dict:
    """Write the sets and data/local/uaspeech; return the summary recorded in the done-marker."""
    ua_dir = find_uaspeech_dir(args.corpus)
    word_list = Path(args.word_list) if args.word_list else find_word_list(ua_dir)
    options = PrepareOptions(audio_variant=args.audio_variant, mics=tuple(m for m in args.mics.split(",") if m),
                             dev_fraction=args.dev_fraction, seed=args.seed, include_control=args.include_control)
    out_dir, local = Path(args.out_dir), Path(args.out_dir) / "local" / "uaspeech"
    config = {**vars(options), "corpus": str(ua_dir.resolve()), "word_list": fingerprint(word_list),
              "listing": listing_digest(audio_root(ua_dir, options.audio_variant)), "lang": args.lang,
              "unpaired_lines": args.unpaired_lines, "unpaired_exponent": args.unpaired_exponent,
              "standin_phones": (ua_dir / "standin" / "phones.txt").is_file(), "format": 2}
    outputs = [out_dir / name for name in SET_NAMES] + [local]
    marker = StageMarker(local / ".done.json", "prepare_uaspeech", config)
    if not marker.needs_run(outputs, redo=args.redo):
        return marker.read()["summary"]

    words = read_word_list(word_list)
    log.info("%s: %d word keys, %d distinct words", word_list, len(words), len(set(words.values())))
    sets, dropped = collect_sets(ua_dir, words, options)
    if not sets["train"].utt2spk or not sets["test"].utt2spk:
        raise SpeechSSLError(f"{ua_dir}: no utterances for train (B1, B3) or test (B2) after filtering "
                             f"(dropped: {dict(dropped)}); check --mics and --audio-variant")
    vocab = vocabulary(words)
    lexicon, failed = word_lexicon(vocab, args.lang)
    if failed:
        log.warning("espeak-ng (%s) gave no phones for %d vocabulary words, left out of the lexicon: %s",
                    args.lang, len(failed), " ".join(failed))
    unpaired = isolated_word_text(english_word_counts(), args.unpaired_lines, args.seed, args.unpaired_exponent)

    summary = {"sets": {}, "dropped": dict(dropped), "vocabulary": len(vocab), "lexicon": len(lexicon),
               "unpaired_lines": len(unpaired), "unpaired_types": len(set(unpaired))}
    for name, d in sets.items():
        with atomic_dir(out_dir / name) as tmp:
            d.save(tmp)
        summary["sets"][name] = set_summary(d)
        log.info("%s: %s", name, summary["sets"][name])
    with atomic_dir(local) as tmp:
        write_table(tmp / "word_list.txt", words)
        with atomic_write(tmp / "lexicon_words.lst") as f:
            f.writelines(f"{w} {' '.join(lexicon[w])}\n" for w in sorted(lexicon))
        with atomic_write(tmp / "lm_isolated_words.arpa") as f:
            f.write(isolated_word_arpa(sorted(lexicon)))
        with atomic_write(tmp / "unpaired_text.txt") as f:
            f.writelines(w + "\n" for w in unpaired)
        StageMarker(tmp / ".done.json", marker.stage, config).write([], summary)
    log.info("dropped: %s; vocabulary %d words (lexicon %d); unpaired text %d lines of %d distinct words",
             dict(dropped) or "nothing", len(vocab), len(lexicon), len(unpaired), len(set(unpaired)))
    return summary


@cli_main
def main(argv=None) -> int:
    args = parse_args(get_parser(), argv)
    setup_logging(args.log_level)
    prepare(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
