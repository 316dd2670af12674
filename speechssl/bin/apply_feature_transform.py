"""Apply a fitted feature transform (and auxiliary targets) to one set's SSL features.

Example::

    python -m speechssl.bin.apply_feature_transform exp/feature_transform dump/ssl/test \\
        dump/ssl_pca512_cls128_mean_pooled/test

<out-dir> becomes a data directory: feats.ark/feats.scp and utt2num_frames of
the transformed features, the Kaldi tables of <feats-dir> (wav.scp, segments,
text, utt2spk, spk2utt, utt2*) restricted to the transformed utterances, and,
when the transform has auxiliary targets, utt2aux (one MFCC k-means label per
*input* SSL frame, computed from the audio of <feats-dir> or --aux-data-dir).
Run it with the same transform on train, valid and test.
"""
from __future__ import annotations

import argparse
import sys
from contextlib import nullcontext
from pathlib import Path

import kaldiio

from speechssl.cluster.kmeans import iter_feats
from speechssl.data.datadir import DataDir
from speechssl.data.scp import write_table
from speechssl.uasr.aux_targets import AuxTargets, read_utt2num_frames
from speechssl.uasr.preprocess import FeatureTransform
from speechssl.utils.atomic import atomic_dir
from speechssl.utils.errors import SpeechSSLError, cli_main
from speechssl.utils.log import get_logger, setup_logging
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)

#: Tables this program writes itself (never copied from the input).
_OWN_TABLES = ("utt2aux", "utt2clusters")


def get_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("transform_dir", help="directory written by fit_feature_transform")
    p.add_argument("feats_dir", help="feature directory of the set to transform (feats.scp)")
    p.add_argument("out_dir", help="output data directory (replaced atomically)")
    p.add_argument("--aux-data-dir", default=None,
                   help="data directory with this set's audio for auxiliary targets (default: <feats-dir>)")
    p.add_argument("--write-cluster-ids", default="false", choices=["true", "false"],
                   help="also write utt2clusters, the k-means id of every input frame (default: %(default)s)")
    p.add_argument("--redo", default="false", choices=["true", "false"],
                   help="discard outputs made with another transform or input and run again (default: %(default)s)")
    p.add_argument("--log-level", default="INFO", help="logging level (default: %(default)s)")
    p.add_argument("--log-file", default=None, help="also write the log here")
    return p


def transform_set(transform: FeatureTransform, feats_dir: Path, out_tmp: Path, final_dir: Path,
                  write_ids: bool) -> tuple[dict[str, int], dict[str, str]]:
    """Write the transformed features of ``feats_dir`` into ``out_tmp`` (scp paths name ``final_dir``).

    Returns statistics and the new frame count of every written utterance.
    """
    final_ark = final_dir.resolve() / "feats.ark"
    num_frames: dict[str, str] = {}
    empty = frames_in = frames_out = 0
    with open(out_tmp / "feats.ark", "wb") as ark, open(out_tmp / "feats.scp", "w", encoding="utf-8") as scp, \
            open(out_tmp / "utt2clusters", "w", encoding="utf-8") if write_ids else nullcontext() as ids:
        for utt, feats in iter_feats(feats_dir / "feats.scp"):
            out = transform.apply(feats)
            if len(out) == 0:
                empty += 1
                continue
            offset = ark.tell() + len(utt.encode("utf-8")) + 1  # the matrix starts after "<utt> "
            kaldiio.save_ark(ark, {utt: out})
            scp.write(f"{utt} {final_ark}:{offset}\n")
            num_frames[utt] = str(len(out))
            frames_in += len(feats)
            frames_out += len(out)
            if ids is not None:
                ids.write(utt + " " + " ".join(map(str, transform.cluster_ids(feats).tolist())) + "\n")
    if empty:
        log.warning("%s: %d utterance(s) with no frames were dropped", feats_dir, empty)
    if not num_frames:
        raise SpeechSSLError(f"{feats_dir}/feats.scp: no utterance with frames; re-extract the features")
    log.info("%s: %d utterances, %d -> %d frames (x%.3f)", feats_dir, len(num_frames), frames_in, frames_out,
             frames_out / frames_in)
    stats = {"utterances": len(num_frames), "dropped_empty": empty, "frames_in": frames_in, "frames_out": frames_out}
    return stats, num_frames


def copy_tables(feats_dir: Path, out_tmp: Path, utts: set[str], num_frames: dict[str, str]) -> None:
    """The Kaldi tables of ``feats_dir`` restricted to ``utts``, with the new utt2num_frames."""
    data = DataDir.load(feats_dir)
    if not data.utt2spk:
        log.warning("%s has no utt2spk; only feats.scp and utt2num_frames are written", feats_dir)
        write_table(out_tmp / "utt2num_frames", num_frames)
        return
    keep = {u: s for u, s in data.utt2spk.items() if u in utts}
    data.utt2spk = keep
    for attr in ("text", "utt2dur"):
        table = getattr(data, attr)
        if table is not None:
            setattr(data, attr, {u: v for u, v in table.items() if u in utts})
    if data.segments is not None:
        data.segments = {u: v for u, v in data.segments.items() if u in utts}
        recos = {v.split()[0] for v in data.segments.values()}
        data.wav_scp = {r: v for r, v in data.wav_scp.items() if r in recos}
    elif data.wav_scp:
        data.wav_scp = {u: v for u, v in data.wav_scp.items() if u in utts}
    data.feats_scp = None
    data.utt2num_frames = num_frames
    data.extra = {n: {u: v for u, v in t.items() if u in utts} for n, t in data.extra.items() if n not in _OWN_TABLES}
    data.save(out_tmp)


@cli_main
def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_file)
    transform_dir, feats_dir, out = Path(args.transform_dir), Path(args.feats_dir), Path(args.out_dir)
    if not (feats_dir / "feats.scp").is_file():
        raise SpeechSSLError(f"{feats_dir}/feats.scp: not found; extract this set's SSL features first")
    if out.resolve() == feats_dir.resolve():
        raise SpeechSSLError(f"the output directory must differ from the input {feats_dir}")
    transform = FeatureTransform.load(transform_dir)
    has_aux = AuxTargets.exists(transform_dir / "aux")
    aux_dir = Path(args.aux_data_dir or feats_dir)
    inputs = [transform_dir, feats_dir / "feats.scp"] + ([aux_dir / "wav.scp"] if has_aux else [])
    config = {"write_cluster_ids": args.write_cluster_ids, "aux_data_dir": str(aux_dir) if has_aux else None}
    marker = StageMarker(out / ".done.json", f"apply_feature_transform {feats_dir}", config, inputs=inputs)
    if not marker.needs_run([out], redo=args.redo == "true"):
        return 0
    with atomic_dir(out) as tmp:
        stats, num_frames = transform_set(transform, feats_dir, tmp, out, args.write_cluster_ids == "true")
        copy_tables(feats_dir, tmp, set(num_frames), num_frames)
        if has_aux:
            aux = AuxTargets.load(transform_dir / "aux")
            ssl_frames = {u: n for u, n in read_utt2num_frames(feats_dir).items() if u in num_frames}
            stats["aux"] = aux.write_table(aux_dir, ssl_frames, tmp / "utt2aux")
        StageMarker(tmp / ".done.json", marker.stage, config, inputs=inputs).write([out], stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
