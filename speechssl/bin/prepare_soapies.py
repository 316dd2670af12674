"""Prepare Kaldi data directories (and the text side) from a Soapies-layout corpus.

Example::

    python -m speechssl.bin.prepare_soapies --sets engzul_train,engzul_dev,engzul_test \\
        --text-dir data/local downloads/soapies data/

writes data/<pair>_<split> (wav.scp, text, utt2spk, spk2utt, utt2lang,
utt2word_langs, utt2phones, utt2phone_langs, cs_stats.json; see
speechssl.corpora.soapies) for each set, pooled_<split> joining the four
pairs, data/unlabelled (the name given by --unlabelled-set, when --sets
lists it: the pooled untranscribed audio of <corpus>/unlabelled/<episode>/,
wav.scp, utt2spk, spk2utt and utt2dur, no text), and with --text-dir the
unpaired text of the sets' pair(s):
unpaired_text.txt, unpaired_text.langs (one tag per word) and lexicon.lst
(each word phonemized in its own language) for prepare_text.  The unpaired
text is the stand-in's unpaired/<pair>.txt, or, for the real corpus (which
has none), the transcripts of the train set: then it is NOT unpaired, and the
log says so.  Each output gets a done-marker; a rerun with the same inputs is
skipped, a changed one refused unless --redo true.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from speechssl.corpora.soapies import (SPLITS, parse_set_name, pool, prepare_pair, prepare_unlabelled, set_stats,
                                       side_table_path, split_list_path, unlabelled_dir, unlabelled_wavs, xml_path)
from speechssl.data.scp import read_lines
from speechssl.text.codeswitch import PAIRS, POOLED, TaggedPhonemizer, build_lexicon, check_language, parse_tags
from speechssl.text.lexicon import write_lexicon
from speechssl.utils.atomic import atomic_dir, atomic_write
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)


def corpus_inputs(root: Path, pair: str) -> list[Path]:
    """The annotation files of a pair that the outputs depend on (audio is listed by name, not hashed)."""
    paths = [xml_path(root, pair), split_list_path(root, pair, "dev"), split_list_path(root, pair, "test")]
    paths += [p for p in (side_table_path(root, pair, n) for n in ("phones", "phone_langs")) if p.is_file()]
    paths += [p for p in (root / "unpaired" / f"{pair}.txt", root / "unpaired" / f"{pair}.langs") if p.is_file()]
    return paths


def write_set(d, target: Path, marker: StageMarker, inputs: list[Path], counts: dict) -> None:
    with atomic_dir(target) as tmp:
        d.save(tmp)
        stats = set_stats(d)
        with atomic_write(tmp / "cs_stats.json") as f:
            json.dump(stats, f, indent=2, sort_keys=True)
            f.write("\n")
        StageMarker(tmp / ".done.json", marker.stage, marker.config, inputs).write([target], {**counts, **stats})


def write_unlabelled(root: Path, target: Path, redo: bool) -> None:
    """data/<unlabelled set>, redone when the list of segment files (names and sizes) changes."""
    listing = hashlib.sha256("".join(f"{w.relative_to(unlabelled_dir(root))}\t{w.stat().st_size}\n"
                                     for w in unlabelled_wavs(root)).encode()).hexdigest()
    marker = StageMarker(target / ".done.json", f"prepare_soapies {target.name}",
                         {"corpus": str(root.resolve()), "segment_files": listing})
    if not marker.needs_run([target], redo=redo):
        return
    d, counts = prepare_unlabelled(root)
    with atomic_dir(target) as tmp:
        d.save(tmp)
        StageMarker(tmp / ".done.json", marker.stage, marker.config).write([target], counts)


def read_unpaired(root: Path, pair: str, train_dir) -> list[tuple[list[str], list[str]]]:
    """Tagged unpaired sentences of a pair (the stand-in's), or the train transcripts."""
    txt, langs = root / "unpaired" / f"{pair}.txt", root / "unpaired" / f"{pair}.langs"
    if not txt.is_file():
        log.warning("%s: no unpaired text; using the %s train transcripts, which are PAIRED with the train audio",
                    txt, pair)
        return [(train_dir.text[u].split(), train_dir.extra["utt2word_langs"][u].split()) for u in train_dir.utts]
    words, tags = read_lines(txt), read_lines(langs)
    if len(words) != len(tags):
        raise SpeechSSLError(f"{langs}: {len(tags)} lines for the {len(words)} lines of {txt}")
    return [(w.split(), parse_tags(t, len(w.split()), f"{langs}:{n}"))
            for n, (w, t) in enumerate(zip(words, tags), start=1)]


def write_text_side(sentences, text_dir: Path, english_voice: str) -> dict:
    lexicon, stats = build_lexicon(sentences, TaggedPhonemizer(english_voice))
    with atomic_write(text_dir / "unpaired_text.txt") as ft, atomic_write(text_dir / "unpaired_text.langs") as fl:
        for words, tags in sentences:
            ft.write(" ".join(words) + "\n")
            fl.write(" ".join(tags) + "\n")
    write_lexicon(text_dir / "lexicon.lst", lexicon)
    with atomic_write(text_dir / "lexicon_stats.json") as f:
        json.dump(stats, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return stats


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", help="corpus root (balanced_<pair>.xml, balanced_<pair>/audio, splits/)")
    p.add_argument("out_dir", help="where the data directories are written (e.g. data/)")
    p.add_argument("--sets", required=True,
                   help="comma-separated <pair>_<split> or pooled_<split> sets, and the unlabelled set")
    p.add_argument("--unlabelled-set", default="unlabelled",
                   help="name in --sets of the untranscribed audio of <corpus>/unlabelled/<episode>/*.wav")
    p.add_argument("--ref-phones", choices=["auto", "corpus", "g2p", "none"], default="auto",
                   help="reference phones: the corpus's side files, word-by-word G2P, auto (side files if present)")
    p.add_argument("--default-lang", default=None, help="tag of words the XML leaves untagged (default: error)")
    p.add_argument("--text-dir", default=None, help="also write the unpaired text and its lexicon here")
    p.add_argument("--english-voice", default="en-gb", help="espeak-ng voice of English words")
    p.add_argument("--redo", type=str2bool, default=False, help="discard and redo finished outputs")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    if args.default_lang:
        check_language(args.default_lang, "--default-lang")
    root, out_dir = Path(args.corpus), Path(args.out_dir)
    names = [s for s in args.sets.replace(" ", ",").split(",") if s]
    if args.unlabelled_set in names:
        write_unlabelled(root, out_dir / args.unlabelled_set, args.redo)
    sets = [parse_set_name(s) for s in names if s != args.unlabelled_set]
    pairs = sorted({p for p, _ in sets} - {POOLED}) + (list(PAIRS) if any(p == POOLED for p, _ in sets) else [])
    pairs = list(dict.fromkeys(pairs))
    options = {"ref_phones": args.ref_phones, "default_lang": args.default_lang, "english_voice": args.english_voice}
    phonemizer = TaggedPhonemizer(args.english_voice)
    prepared = {}
    for pair in pairs:
        prepared[pair] = prepare_pair(root, pair, SPLITS, args.default_lang, args.ref_phones, phonemizer)
    for pair, split in sets:
        target = out_dir / f"{pair}_{split}"
        members = pairs if pair == POOLED else [pair]
        inputs = [p for m in members for p in corpus_inputs(root, m)]
        marker = StageMarker(target / ".done.json", f"prepare_soapies {pair}_{split}",
                             {**options, "corpus": str(root.resolve()), "pairs": members}, inputs)
        if not marker.needs_run([target], redo=args.redo):
            continue
        d = pool([prepared[m][split][0] for m in members]) if pair == POOLED else prepared[pair][split][0]
        counts = {"utterances": len(d.utt2spk), "speakers": len(set(d.utt2spk.values()))}
        write_set(d, target, marker, inputs, counts)
    if args.text_dir and sets:
        text_pairs = list(dict.fromkeys(p for p, _ in sets))
        members = pairs if POOLED in text_pairs else text_pairs
        text_dir = Path(args.text_dir)
        inputs = [p for m in members for p in corpus_inputs(root, m)]
        marker = StageMarker(text_dir / ".done.text.json", "prepare_soapies text",
                             {**options, "corpus": str(root.resolve()), "pairs": members}, inputs)
        if marker.needs_run([text_dir / "lexicon.lst", text_dir / "unpaired_text.txt"], redo=args.redo):
            sentences = [s for m in members for s in read_unpaired(root, m, prepared[m]["train"][0])]
            stats = write_text_side(sentences, text_dir, args.english_voice)
            marker.write([text_dir / "lexicon.lst", text_dir / "unpaired_text.txt"],
                         {"sentences": len(sentences), **stats})
    return 0


if __name__ == "__main__":
    sys.exit(main())
