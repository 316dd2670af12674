"""Stage 0 of the Soapies recipes: check the corpus, or synthesize the stand-in.

--source corpus checks that the hand-fetched corpus is laid out as
speechssl.corpora.soapies describes (it cannot be downloaded: SADiLaR needs
an account); --source standin synthesizes the stand-in (same layout, plus
reference phones and synthetic unpaired text) from --standin-config; --source
auto uses the corpus when its XML files are there and synthesizes otherwise.
With --unlabelled true it also checks (corpus) or synthesizes (stand-in) the
pooled unlabelled audio, <root>/unlabelled/<episode>/<segment>.wav (an
assumed layout: see speechssl.corpora.soapies).
Example::

    python -m speechssl.bin.get_soapies --source auto --standin-config conf/standin.yaml --nj 2 downloads/soapies
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from speechssl.corpora.soapies import audio_dir, split_list_path, unlabelled_wavs, xml_path
from speechssl.corpora.standin.soapies import load_soapies_config, synthesize_soapies, synthesize_unlabelled
from speechssl.text.codeswitch import PAIRS
from speechssl.utils.cli import str2bool
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging

log = get_logger(__name__)


def check_corpus(root: Path, pairs: list[str]) -> None:
    """Raise a clear error naming the first missing piece of the corpus layout."""
    for pair in pairs:
        for path in (xml_path(root, pair), audio_dir(root, pair), split_list_path(root, pair, "dev"),
                     split_list_path(root, pair, "test")):
            if not path.exists():
                raise SpeechSSLError(f"{path} missing: the Soapies corpus is fetched by hand (SADiLaR handle "
                                     "20.500.12185/545); see egs/soapies/uasr1/README.md for the layout")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("root", help="corpus root (holds balanced_<pair>.xml, balanced_<pair>/audio, splits/)")
    p.add_argument("--source", choices=["auto", "corpus", "standin"], default="auto")
    p.add_argument("--pairs", default=",".join(PAIRS), help="comma-separated pairs to check or synthesize")
    p.add_argument("--unlabelled", type=str2bool, default=False,
                   help="also check or synthesize the unlabelled audio (<root>/unlabelled/<episode>/*.wav)")
    p.add_argument("--standin-config", default="conf/standin.yaml", help="YAML of the stand-in")
    p.add_argument("--l10n-dir", default=None,
                   help="LibreOffice translations (<dir>/<zu|xh|st|tn>/LC_MESSAGES/*.mo); overrides the config's l10n_dir")
    p.add_argument("--nj", type=int, default=2, help="parallel synthesis processes")
    p.add_argument("--redo", type=str2bool, default=False, help="redo a finished stand-in with a changed config")
    p.add_argument("--log-level", default="INFO")
    return p


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level)
    root = Path(args.root)
    source = args.source
    if source == "auto":
        real = any(root.glob("balanced_*.xml")) and not any(root.glob("standin_manifest.*.json"))
        source = "corpus" if real else "standin"
        log.info("--source auto: %s", "corpus found" if real else f"no corpus in {root}, synthesizing the stand-in")
    if source == "corpus":
        check_corpus(root, [p for p in args.pairs.split(",") if p])
        if args.unlabelled:
            log.info("%s: %d unlabelled segment files", root / "unlabelled", len(unlabelled_wavs(root)))
        return 0
    config = load_soapies_config(args.standin_config)
    if args.l10n_dir:
        config = dataclasses.replace(config, l10n_dir=args.l10n_dir)
    pairs = [p for p in args.pairs.split(",") if p]
    summary = synthesize_soapies(root, config, pairs, nj=args.nj, redo=args.redo)
    for pair, s in summary.items():
        log.info("stand-in %s: %s", pair, {k: v["utterances"] for k, v in s["splits"].items()})
    if args.unlabelled:
        s = synthesize_unlabelled(root, config, nj=args.nj, redo=args.redo)
        log.info("stand-in unlabelled: %d segments, %s h", s["segments"], s["hours"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
