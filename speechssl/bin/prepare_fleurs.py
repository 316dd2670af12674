"""Prepare Kaldi data directories from a FLEURS-layout corpus, for any list of languages.

Example::

    python -m speechssl.bin.prepare_fleurs --langs sw_ke,es_419 downloads/fleurs data/

writes data/<lang>_<split> (sw_ke_train, sw_ke_dev, ...) for each language and
split (layout and tables: speechssl/corpora/fleurs.py), and the voice report
data/fleurs_voices.tsv: for each requested language its espeak-ng voice, its
epitran code, whether the voice is installed here, and whether the corpus has
the language.  Languages with no espeak-ng voice are prepared for their audio
like the others, and named in the log: their text side (prepare_text) and UASR
need a lexicon (prepare_text --lexicon), since espeak-ng cannot phonemize them.

--langs all prepares every FLEURS language found in the corpus and lists the
others as absent; a language named explicitly must be there.  Each output
directory gets a done-marker: a rerun with the same corpus and options is
skipped, a changed one is refused unless --redo true.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechssl.corpora.fleurs import SPLITS, data_dir_name, find_fleurs_dir, listing_digest, prepare_split
from speechssl.corpora.fleurs_langs import LANGUAGES, installed_voices, parse_langs, voice_status
from speechssl.utils.atomic import atomic_dir, atomic_write
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)
VOICES_REPORT = "fleurs_voices.tsv"


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", help="directory holding data/<lang>/ (or that data directory itself)")
    p.add_argument("out_dir", help="where the data directories are written (e.g. data/)")
    p.add_argument("--langs", default="all", help="all, or comma-separated FLEURS codes, e.g. sw_ke,es_419 "
                                                  "(default: %(default)s)")
    p.add_argument("--splits", default=",".join(SPLITS), help="comma-separated splits (default: %(default)s)")
    p.add_argument("--extract-dir", default="",
                   help="extract audio/<split>.tar.gz under <dir>/<lang>/audio instead of beside the archive")
    p.add_argument("--redo", type=str2bool, default=False, help="discard and redo finished outputs")
    p.add_argument("--log-level", default="INFO")
    return p


def write_voice_report(path: Path, codes: list[str], present: set[str]) -> list[str]:
    """Write the voice report; return the codes without an (installed) espeak-ng voice."""
    voices = installed_voices()
    no_voice = []
    with atomic_write(path) as f:
        f.write("lang\tname\tespeak\tepitran\tvoice\tin_corpus\tnote\n")
        for code in codes:
            lang = LANGUAGES[code]
            status = voice_status(lang, voices)
            if status != "ok":
                no_voice.append(code)
            f.write(f"{code}\t{lang.name}\t{lang.espeak}\t{lang.epitran}\t{status}\t"
                    f"{'yes' if code in present else 'no'}\t{lang.note}\n")
    return no_voice


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    fleurs = find_fleurs_dir(args.corpus)
    codes = parse_langs(args.langs)
    splits = [s for s in args.splits.split(",") if s]
    bad = [s for s in splits if s not in SPLITS]
    if bad or not splits:
        raise SpeechSSLError(f"--splits: {bad or splits} not FLEURS splits; choose from {', '.join(SPLITS)}")
    present = {c for c in codes if (fleurs / c).is_dir()}
    absent = [c for c in codes if c not in present]
    if absent and args.langs.strip() != "all":
        raise SpeechSSLError(f"{fleurs}: no directory for {', '.join(absent)}; get data/<lang>/ of these languages "
                             "from google/fleurs, or leave them out of --langs")
    if absent:
        log.info("--langs all: %d of %d FLEURS languages are not in %s: %s", len(absent), len(codes), fleurs,
                 " ".join(absent))
    out_dir = Path(args.out_dir)
    no_voice = write_voice_report(out_dir / VOICES_REPORT, codes, present)
    if no_voice:
        log.warning("%d of %d languages have no espeak-ng voice: %s (in the corpus: %s). Their audio is prepared; "
                    "the text side and UASR skip them unless you give a lexicon (prepare_text --lexicon). See %s",
                    len(no_voice), len(codes), " ".join(no_voice),
                    " ".join(c for c in no_voice if c in present) or "none", out_dir / VOICES_REPORT)
    extract_dir = Path(args.extract_dir) if args.extract_dir else None
    for code in [c for c in codes if c in present]:
        for split in splits:
            target = out_dir / data_dir_name(code, split)
            lang_dir = fleurs / code
            config = {"corpus": str(lang_dir.resolve()), "lang": code, "split": split,
                      "listing": listing_digest(lang_dir, split)}
            marker = StageMarker(target / ".done.json", f"prepare_fleurs {code} {split}", config)
            if not marker.needs_run([target], redo=args.redo):
                continue
            d, counts = prepare_split(lang_dir, code, split, extract_dir)
            with atomic_dir(target) as tmp:
                d.save(tmp)
                StageMarker(tmp / ".done.json", marker.stage, config).write([target], counts)
            log.info("%s: %s", target.name, counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
