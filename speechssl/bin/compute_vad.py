"""Voice activity detection on a Kaldi data directory, written as a new data directory.

Example::

    python -m speechssl.bin.compute_vad --detector silero --mode trim data/train data/train_vad
    python -m speechssl.bin.compute_vad --detector silero --mode trim data/test data/test_vad

Modes:
  trim    one segment per utterance, from the first to the last speech (plus --pad);
          transcripts are kept (default)
  split   one utterance <utt>-<start_cs>-<end_cs> per speech region; transcripts are dropped
  concat  internal silences removed too: the padded speech regions are joined and written as
          flac (under --audio-dir, default <dst>/wav) with a new wav.scp; transcripts are kept

Apply the same options to every set (train, valid and test): a model trained on
trimmed audio degrades on untrimmed audio.  Besides the usual tables, <dst> gets
vad_regions (utt start:end ...), vad_pauses (utt count dur1 dur2 ...; the
pauses inside each utterance, for estimating the text side's silence rate),
vad_dropped (utterances with no speech) and vad.json (options and statistics).
A done-marker makes a rerun with the same options a no-op.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from speechssl.audio.vad import DETECTORS, MODES, apply_vad_to_datadir, make_detector
from speechssl.utils.cli import add_config_option, parse_args
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import setup_logging
from speechssl.utils.stage import StageMarker


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", help="input data directory (wav.scp, utt2spk, optional segments and text)")
    p.add_argument("dst", help="output data directory (replaced atomically)")
    p.add_argument("--detector", default="silero", choices=list(DETECTORS),
                   help="silero: neural model shipped with silero-vad; webrtc: WebRTC GMM detector; "
                        "energy: short-time energy with an adaptive threshold (default: %(default)s)")
    p.add_argument("--mode", default="trim", choices=MODES, help="see above (default: %(default)s)")
    p.add_argument("--pad", type=float, default=0.1,
                   help="seconds of audio kept on each side of the speech (default: %(default)s)")
    p.add_argument("--min-speech", type=float, default=0.1,
                   help="speech regions shorter than this (s) are discarded (default: %(default)s)")
    p.add_argument("--min-silence", type=float, default=0.25,
                   help="silences shorter than this (s) are bridged; longer ones are pauses (default: %(default)s)")
    p.add_argument("--refine", type=float, default=0.15,
                   help="move each speech boundary to the energy crossing within this many seconds; "
                        "0 keeps the detector's boundaries (default: %(default)s)")
    p.add_argument("--energy-floor-db", type=float, default=-55.0,
                   help="frames quieter than this (dB full scale) are never speech; used by the energy "
                        "detector and by boundary refinement (default: %(default)s)")
    p.add_argument("--energy-margin-db", type=float, default=12.0,
                   help="speech must be this many dB above the utterance's noise floor (default: %(default)s)")
    p.add_argument("--silero-threshold", type=float, default=0.5,
                   help="speech probability threshold of silero (default: %(default)s)")
    p.add_argument("--webrtc-aggressiveness", type=int, default=2, choices=[0, 1, 2, 3],
                   help="WebRTC aggressiveness, 3 rejects the most non-speech (default: %(default)s)")
    p.add_argument("--audio-dir", default=None,
                   help="concat mode: where the flac files go (default: <dst>/wav)")
    p.add_argument("--nj", type=int, default=1, help="parallel detector processes (default: %(default)s)")
    p.add_argument("--redo", default="false", choices=["true", "false"],
                   help="discard outputs made with other options or inputs and run again (default: %(default)s)")
    p.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    p.add_argument("--log-file", default=None, help="also write the log here")
    return p


def detector_options(args: argparse.Namespace) -> dict:
    """The options of the chosen detector, from the command line."""
    common = {"min_speech_s": args.min_speech, "min_silence_s": args.min_silence, "refine_s": args.refine,
              "floor_db": args.energy_floor_db, "margin_db": args.energy_margin_db}
    if args.detector == "silero":
        return {**common, "threshold": args.silero_threshold}
    if args.detector == "webrtc":
        return {**common, "aggressiveness": args.webrtc_aggressiveness}
    return common


@cli_main
def main(argv=None) -> int:
    args = parse_args(add_config_option(get_parser()), argv)
    setup_logging(args.log_level, args.log_file)
    if args.nj < 1:
        raise SpeechSSLError(f"--nj must be >= 1, got {args.nj}")
    if args.audio_dir and args.mode != "concat":
        raise SpeechSSLError("--audio-dir only applies to --mode concat")
    src, dst = Path(args.src), Path(args.dst)
    if src.resolve() == dst.resolve():
        raise SpeechSSLError(f"the output directory must differ from the input {src}")
    options = detector_options(args)
    config = {"detector": args.detector, **options, "mode": args.mode, "pad_s": args.pad,
              "audio_dir": args.audio_dir}
    # the tables that decide the output; per-utterance tables added to src later (e.g. the references that
    # stage 3 of the uasr1 recipes writes) do not make the detection stale
    inputs = [src / name for name in ("wav.scp", "segments", "utt2spk", "text") if (src / name).is_file()]
    marker = StageMarker(dst / ".done.json", f"compute_vad {src}", config, inputs=inputs)
    if not marker.needs_run([dst], redo=args.redo == "true"):
        return 0
    detector = make_detector(args.detector, **options)
    summary = apply_vad_to_datadir(src, dst, detector, args.mode, args.pad, args.nj, args.audio_dir)
    marker.write([dst], summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
