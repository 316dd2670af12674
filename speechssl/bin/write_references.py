"""Write an utterance -> reference tokens table from a data directory's transcripts (for oracle error rates).

Example (stage 3 of the uasr1 recipes, for sets without one)::

    python -m speechssl.bin.write_references --text-config conf/text.yaml \\
        --lexicon data/text/lexicon.lst data/test/text data/test/utt2phones

Each transcript is normalised with the text side's rules (the normalisation
keys of --text-config: case, unicode_form, keep_marks, word_internal,
extra_chars, punctuation, digits), its words are looked up in the text-side
lexicon and the rest phonemized with espeak-ng in the config's ``lang`` (or,
with ``token_type: spm``, encoded with the text side's ``spm.model``); the
output has one line ``utt t1 t2 | t3 ...`` per utterance (``|`` between
words).  It never trains or selects anything: it is the reference of an
oracle measurement.  An existing output made from the same inputs is kept.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from pathlib import Path

import yaml

from speechssl.data.scp import read_dict, write_table
from speechssl.text.lexicon import read_lexicon
from speechssl.text.normalize import NormalizeConfig
from speechssl.text.references import normalize_transcripts, transcripts_to_tokens
from speechssl.text.subword import SPM_MODEL
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("text", help="Kaldi text file 'utt transcript'")
    p.add_argument("out", help="output table, e.g. data/test/utt2phones")
    p.add_argument("--lexicon", required=True, help="text-side lexicon 'word t1 t2 ...' (data/text/lexicon.lst)")
    p.add_argument("--text-config", default="", help="the text side's YAML (prepare_text options): its "
                   "normalisation keys and 'lang' are used")
    p.add_argument("--lang", default=None, help="espeak-ng language for words missing from the lexicon "
                   "(default: the config's lang; empty: such words are an error)")
    p.add_argument("--redo", choices=("false", "true"), default="false", help="rewrite an existing output")
    p.add_argument("--log-level", default="INFO")
    return p


def load_text_config(path: str) -> tuple[NormalizeConfig, str, str]:
    """The normalisation rules, espeak-ng language and token type of a prepare_text YAML."""
    if not path:
        return NormalizeConfig(), "", "phones"
    if not Path(path).is_file():
        raise SpeechSSLError(f"{path}: no such text config")
    raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise SpeechSSLError(f"{path}: expected a YAML mapping of prepare_text options")
    raw = {k.replace("-", "_"): v for k, v in raw.items()}
    names = {f.name for f in fields(NormalizeConfig)} - {"min_words", "max_words", "alphabet"}
    return (NormalizeConfig(**{k: v for k, v in raw.items() if k in names}), str(raw.get("lang") or ""),
            str(raw.get("token_type") or "phones"))


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = get_parser().parse_args(argv)
    out = Path(args.out)
    setup_logging(args.log_level)
    norm, lang, token_type = load_text_config(args.text_config)
    lang = lang if args.lang is None else args.lang
    config = {"normalize": norm.to_dict(), "lang": lang}
    inputs = [args.text, args.lexicon] + ([args.text_config] if args.text_config else [])
    spm_model = None
    if token_type == "spm":  # subword units: words outside the lexicon get the text side's pieces
        spm_model = Path(args.lexicon).parent / SPM_MODEL
        config["token_type"] = token_type
        inputs.append(spm_model)
    marker = StageMarker(out.parent / f".done.{out.name}.json", "write_references", config, inputs)
    if not marker.needs_run([out], redo=args.redo == "true"):
        log.info("%s: up to date", out)
        return 0
    words = normalize_transcripts(read_dict(args.text, allow_empty_value=True), norm)
    table, counts = transcripts_to_tokens(words, read_lexicon(args.lexicon), lang, spm_model)
    write_table(out, ((u, " ".join(t)) for u, t in table.items()))
    marker.write([out], counts)
    log.info("%s: %d utterances, %d words (%d not in the lexicon: %s)", out, counts["utterances"], counts["words"],
             counts["words_not_in_lexicon"], f"encoded with {spm_model}" if spm_model else
             f"phonemized with espeak-ng {lang or '-'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
