"""Dump MFCC, fbank or SSL-layer features of a data directory as Kaldi ark/scp.

The work is cut into N jobs of contiguous utterances (C order); job J (1-based)
can run on its own (``--job J``), and a finished job (outputs plus done marker
with the same configuration) is skipped.  A merge step then combines the jobs.

Layout of the output directory ``<out>``:

- MFCC/fbank: one feature directory, ``<out>`` itself;
- SSL: one feature directory per requested layer, ``<out>/layer<L>/`` (also
  for a single layer); all layers come from one pass of the audio through
  the model.

A feature directory holds ``ark/feats.J.ark``, ``ark/feats.J.scp`` and
``ark/utt2num_frames.J`` per job and, after the merge, a copy of the data
directory with ``feats.scp`` and ``utt2num_frames`` plus ``feat_info.json``
(type, layer, dimension, frame rate, ...).  With global CMVN computed here
(training set), it also holds ``cmvn_stats.npz`` and the normalised
``ark/feats_cmvn.J.ark`` that ``feats.scp`` points to.  float16 features are
stored as numpy arrays inside the ark: kaldiio reads them, Kaldi binaries do not.
Done markers live in ``<out>/.done/``.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import kaldiio
import numpy as np
import torch
from tqdm import tqdm

from speechssl.audio.features import FEATURE_TYPES, CMVNStats, FeatureConfig, compute_features, utterance_cmvn
from speechssl.audio.io import iter_utterances
from speechssl.data.datadir import DataDir
from speechssl.data.ops import subset_by_utts
from speechssl.data.scp import kaldi_sort_key, read_dict, write_table
from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger
from speechssl.utils.stage import StageMarker

log = get_logger(__name__)

SSL = "ssl"
CMVN_MODES = ("utt", "global", "none")
DTYPES = {"float32": np.float32, "float16": np.float16}
#: Audio read ahead (in batches) and sorted by length, so batches hold similar lengths.
POOL_BATCHES = 8


@dataclass
class DumpOptions:
    """What to dump; see ``python -m speechssl.bin.dump_features --help``."""

    feat_type: str = "mfcc"
    upstream: str | None = None
    layers: str | None = None
    cmvn: str | None = None  # None: "utt" for mfcc/fbank, "none" for ssl
    norm_vars: bool = False
    cmvn_from: str | None = None
    dtype: str = "float32"
    batch_seconds: float = 200.0
    sample_rate: int = 16000
    num_ceps: int = 13
    num_mel_bins: int | None = None
    deltas: bool = False
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.feat_type not in FEATURE_TYPES + (SSL,):
            raise SpeechSSLError(f"unknown feature type {self.feat_type!r}; choose mfcc, fbank or ssl")
        if self.cmvn is None:
            self.cmvn = "none" if self.feat_type == SSL else "utt"
        if self.cmvn not in CMVN_MODES:
            raise SpeechSSLError(f"unknown CMVN mode {self.cmvn!r}; choose utt, global or none")
        if self.dtype not in DTYPES:
            raise SpeechSSLError(f"unknown dtype {self.dtype!r}; choose float32 or float16")
        if self.feat_type == SSL and (not self.upstream or not self.layers):
            raise SpeechSSLError("--feat-type ssl needs --upstream PATH and --layers (e.g. 14, 6,12 or all)")
        if self.feat_type != SSL and (self.upstream or self.layers):
            raise SpeechSSLError("--upstream and --layers apply only to --feat-type ssl")
        if self.cmvn_from and self.cmvn != "global":
            raise SpeechSSLError("--cmvn-from is only meaningful with --cmvn global")
        if self.batch_seconds <= 0:
            raise SpeechSSLError(f"--batch-seconds must be positive, got {self.batch_seconds}")

    def marker_config(self, nj: int, layers: list) -> dict:
        """The options that change the output (device and batch size do not), with the resolved layers."""
        cfg = {k: v for k, v in asdict(self).items() if k not in ("device", "batch_seconds")}
        cfg.update(nj=nj, layers=layers)
        return cfg


def split_utterances(utts: list[str], nj: int) -> list[list[str]]:
    """Cut ``utts`` into ``nj`` contiguous runs whose sizes differ by at most one."""
    if not 1 <= nj <= len(utts):
        raise SpeechSSLError(f"cannot split {len(utts)} utterances into {nj} jobs; use --nj between 1 and {len(utts)}")
    base, extra = divmod(len(utts), nj)
    out, start = [], 0
    for j in range(nj):
        end = start + base + (1 if j < extra else 0)
        out.append(utts[start:end])
        start = end
    return out


def _pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SpeechSSLError("--device cuda requested but torch sees no CUDA device; use --device cpu")
    return torch.device(name)


class FeatureDumper:
    """Dumps the features of data directory ``data`` into ``out`` (see the module docstring)."""

    def __init__(self, data: str | Path, out: str | Path, opts: DumpOptions):
        self.data, self.out, self.opts = Path(data), Path(out), opts
        self.datadir = DataDir.load(self.data)
        if not self.datadir.wav_scp:
            raise SpeechSSLError(f"{self.data}: no wav.scp; features need audio")
        self.utts = self.datadir.utts or sorted(self.datadir.segments or self.datadir.wav_scp, key=kaldi_sort_key)
        self._upstream = self._model = None
        self.device = torch.device("cpu")
        self.feat_config = None if opts.feat_type == SSL else FeatureConfig(
            opts.feat_type, num_ceps=opts.num_ceps, num_mel_bins=opts.num_mel_bins, deltas=opts.deltas
        )
        self.layers = self._resolve_layers() if opts.feat_type == SSL else [None]
        self.feat_dirs = {layer: self.out if layer is None else self.out / f"layer{layer}" for layer in self.layers}
        self.global_stats = None
        if opts.cmvn == "global" and opts.cmvn_from:
            self.global_stats = {layer: CMVNStats.load(self._stats_file(layer)) for layer in self.layers}

    # ------------------------------------------------------------------ setup
    def _resolve_layers(self) -> list[int]:
        """Layer indices from ``--layers``; the model is loaded only if the option needs its depth."""
        from speechssl.models.upstream import load_upstream, parse_layers

        items = [x.strip() for x in self.opts.layers.split(",") if x.strip()]
        if items and all(x.isdigit() for x in items):
            return parse_layers(self.opts.layers, max(int(x) for x in items))
        self._upstream = load_upstream(self.opts.upstream)
        return parse_layers(self.opts.layers, self._upstream.num_layers)

    @property
    def upstream(self):
        """The SSL model on its device, cut after the highest requested layer (loaded on first use)."""
        if self._model is None:
            from speechssl.models.upstream import load_upstream, parse_layers

            up = self._upstream or load_upstream(self.opts.upstream)
            parse_layers(self.layers, up.num_layers)  # checks the layers exist in this model
            up.truncate(max(self.layers))
            self.device = _pick_device(self.opts.device)
            self._model = up.to(self.device)
        return self._model

    def _stats_file(self, layer: int | None) -> Path:
        base = Path(self.opts.cmvn_from)
        path = base / "cmvn_stats.npz" if layer is None else base / f"layer{layer}" / "cmvn_stats.npz"
        if not path.is_file():
            raise SpeechSSLError(
                f"{path}: no global CMVN statistics; dump the training set with --cmvn global first "
                f"(--cmvn-from must be that dump directory)"
            )
        return path

    def _inputs(self) -> list[Path]:
        files = [self.data / n for n in ("wav.scp", "segments", "utt2spk") if (self.data / n).is_file()]
        if self.opts.upstream:
            files.append(Path(self.opts.upstream))
        if self.global_stats is not None:
            files += [self._stats_file(layer) for layer in self.layers]
        return files

    def _job_marker(self, job: int, nj: int) -> StageMarker:
        return StageMarker(self.out / ".done" / f"dump.{job}.json", f"dump_features job {job}/{nj} of {self.data}",
                           self.opts.marker_config(nj, self.layers), self._inputs())

    def _merge_marker(self, nj: int) -> StageMarker:
        return StageMarker(self.out / ".done" / "merge.json", f"dump_features merge of {self.data}",
                           self.opts.marker_config(nj, self.layers), self._inputs())

    def _job_outputs(self, job: int) -> list[Path]:
        names = [f"feats.{job}.ark", f"feats.{job}.scp", f"utt2num_frames.{job}"]
        if self._computes_global_stats:
            names.append(f"cmvn_stats.{job}.npz")
        return [d / "ark" / n for d in self.feat_dirs.values() for n in names]

    def _merge_outputs(self) -> list[Path]:
        return [d / n for d in self.feat_dirs.values() for n in ("feats.scp", "utt2num_frames", "feat_info.json")]

    @property
    def _computes_global_stats(self) -> bool:
        return self.opts.cmvn == "global" and not self.opts.cmvn_from

    # ------------------------------------------------------------------ jobs
    def run(self, nj: int = 1, job: int | None = None, merge_only: bool = False, redo: bool = False) -> None:
        """Run job ``job`` of ``nj`` (all jobs then the merge when ``job`` is None)."""
        split_utterances(self.utts, nj)  # validates nj
        if job is not None and not 1 <= job <= nj:
            raise SpeechSSLError(f"--job must be between 1 and --nj {nj}, got {job}")
        merge_marker = self._merge_marker(nj)
        if not merge_marker.needs_run(self._merge_outputs(), redo=redo):
            return
        if not merge_only:
            for j in [job] if job is not None else range(1, nj + 1):
                self.run_job(j, nj, redo=redo)
        if job is None or merge_only:
            self.merge(nj)

    def run_job(self, job: int, nj: int, redo: bool = False) -> None:
        """Extract the features of job ``job`` of ``nj`` unless it is already done."""
        marker = self._job_marker(job, nj)
        outputs = self._job_outputs(job)
        if not marker.needs_run(outputs, redo=redo):
            return
        utts = split_utterances(self.utts, nj)[job - 1]
        base = self.datadir
        if not base.utt2spk:  # without utt2spk every utterance is its own speaker
            base = DataDir(wav_scp=base.wav_scp, segments=base.segments, utt2spk={u: u for u in self.utts})
        subset = subset_by_utts(base, utts)
        writers, frames, stats = {}, {}, {}
        for layer, fdir in self.feat_dirs.items():
            (fdir / "ark").mkdir(parents=True, exist_ok=True)
            ark, scp = fdir / "ark" / f"feats.{job}.ark", fdir / "ark" / f"feats.{job}.scp"
            writers[layer] = kaldiio.WriteHelper(
                f"ark,scp:{ark},{scp}", write_function="numpy" if self.opts.dtype == "float16" else None
            )
            frames[layer] = {}
        log.info("dump_features job %d/%d: %d utterances of %s", job, nj, len(utts), self.data)
        try:
            with tqdm(total=len(utts), unit="utt", desc=f"job {job}/{nj}", mininterval=5) as bar:
                if self.opts.feat_type == SSL:
                    self._ssl_job(subset, writers, frames, stats, bar)
                else:
                    for utt, wav, sr in iter_utterances(subset, self.opts.sample_rate):
                        feats = compute_features(wav, sr, self.feat_config, utt=utt)
                        self._emit(None, utt, feats, writers, frames, stats)
                        bar.update(1)
        finally:
            for w in writers.values():
                w.close()
        for layer, fdir in self.feat_dirs.items():
            write_table(fdir / "ark" / f"utt2num_frames.{job}", {u: str(n) for u, n in frames[layer].items()})
            if self._computes_global_stats:
                stats[layer].save(fdir / "ark" / f"cmvn_stats.{job}.npz")
        marker.write(outputs, summary={"utterances": len(utts),
                                       "frames": sum(frames[self.layers[0]].values())})

    def _emit(self, layer, utt: str, feats: np.ndarray, writers, frames, stats) -> None:
        feats = feats.astype(np.float32, copy=False)
        if self.opts.cmvn == "utt":
            feats = utterance_cmvn(feats, self.opts.norm_vars)
        elif self.global_stats is not None:
            feats = self.global_stats[layer].apply(feats, self.opts.norm_vars)
        elif self._computes_global_stats:
            stats.setdefault(layer, CMVNStats(feats.shape[1])).accumulate(feats)
        writers[layer](utt, feats.astype(DTYPES[self.opts.dtype]))
        frames[layer][utt] = feats.shape[0]

    def _ssl_job(self, subset: DataDir, writers, frames, stats, bar) -> None:
        up = self.upstream
        budget = int(self.opts.batch_seconds * up.sample_rate)
        pool: list[tuple[str, np.ndarray]] = []
        pooled = 0
        for utt, wav, _ in iter_utterances(subset, up.sample_rate):
            pool.append((utt, wav))
            pooled += len(wav)
            if pooled >= POOL_BATCHES * budget:
                self._run_pool(pool, budget, writers, frames, stats, bar)
                pool, pooled = [], 0
        self._run_pool(pool, budget, writers, frames, stats, bar)

    def _run_pool(self, pool, budget: int, writers, frames, stats, bar) -> None:
        """Sort by length and cut into batches whose padded size stays within ``budget`` samples."""
        batch: list[tuple[str, np.ndarray]] = []
        for item in sorted(pool, key=lambda x: -len(x[1])):
            if batch and (len(batch) + 1) * len(batch[0][1]) > budget:
                self._run_batch(batch, writers, frames, stats)
                bar.update(len(batch))
                batch = []
            batch.append(item)
        if batch:
            self._run_batch(batch, writers, frames, stats)
            bar.update(len(batch))

    def _run_batch(self, batch, writers, frames, stats) -> None:
        lens = torch.tensor([len(w) for _, w in batch])
        wavs = torch.zeros(len(batch), int(lens.max()))
        for i, (_, w) in enumerate(batch):
            wavs[i, : len(w)] = torch.from_numpy(w)
        on_gpu = self.device.type == "cuda"
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_gpu):
            out = self.upstream(wavs.to(self.device), lens.to(self.device), utt_ids=[u for u, _ in batch])
        lengths = out.lengths.tolist()
        for layer in self.layers:
            states = out.hidden_states[layer].float().cpu().numpy()
            for i, (utt, _) in enumerate(batch):
                self._emit(layer, utt, states[i, : lengths[i]], writers, frames, stats)

    # ------------------------------------------------------------------ merge
    def merge(self, nj: int) -> None:
        """Combine the jobs into feats.scp / utt2num_frames in a copy of the data directory."""
        unfinished = [j for j in range(1, nj + 1) if self._job_marker(j, nj).needs_run(self._job_outputs(j))]
        if unfinished:
            raise SpeechSSLError(
                f"cannot merge {self.out}: job(s) {', '.join(map(str, unfinished))} of {nj} have not finished; "
                "run them with --job J (or without --job to run all) first"
            )
        for layer, fdir in self.feat_dirs.items():
            ark = fdir / "ark"
            prefix = "feats"
            if self._computes_global_stats:
                self._normalise_jobs(layer, fdir, nj)
                prefix = "feats_cmvn"
            scp, num_frames = {}, {}
            for j in range(1, nj + 1):
                scp.update(read_dict(ark / f"{prefix}.{j}.scp"))
                num_frames.update(read_dict(ark / f"utt2num_frames.{j}"))
            missing = [u for u in self.utts if u not in scp]
            if missing:
                raise SpeechSSLError(f"{ark}: {len(missing)} utterances have no features (e.g. {missing[0]}); "
                                     "rerun with --redo true")
            d = DataDir.load(self.data)
            d.feats_scp, d.utt2num_frames = scp, num_frames
            d.save(fdir)
            self._write_info(layer, fdir, next(iter(kaldiio.load_scp(str(fdir / "feats.scp")).values())).shape[1])
            log.info("merged %d jobs into %s/feats.scp (%d utterances, %d frames)",
                     nj, fdir, len(scp), sum(int(n) for n in num_frames.values()))
        self._merge_marker(nj).write(self._merge_outputs(), summary={"utterances": len(self.utts)})

    def _normalise_jobs(self, layer, fdir: Path, nj: int) -> None:
        total = CMVNStats.load(fdir / "ark" / "cmvn_stats.1.npz")
        for j in range(2, nj + 1):
            total.merge(CMVNStats.load(fdir / "ark" / f"cmvn_stats.{j}.npz"))
        total.save(fdir / "cmvn_stats.npz")
        write_function = "numpy" if self.opts.dtype == "float16" else None
        for j in tqdm(range(1, nj + 1), desc="global CMVN", unit="job"):
            ark, scp = fdir / "ark" / f"feats_cmvn.{j}.ark", fdir / "ark" / f"feats_cmvn.{j}.scp"
            with kaldiio.WriteHelper(f"ark,scp:{ark},{scp}", write_function=write_function) as writer:
                for utt, feats in kaldiio.load_scp_sequential(str(fdir / "ark" / f"feats.{j}.scp")):
                    normed = total.apply(feats.astype(np.float32), self.opts.norm_vars)
                    writer(utt, normed.astype(DTYPES[self.opts.dtype]))

    def _write_info(self, layer, fdir: Path, dim: int) -> None:
        info = {
            "feat_type": self.opts.feat_type,
            "layer": layer,
            "dim": dim,
            "frame_rate": self.upstream.frame_rate if layer is not None else self.feat_config.frame_rate,
            "dtype": self.opts.dtype,
            "cmvn": self.opts.cmvn,
            "norm_vars": self.opts.norm_vars,
            "upstream": self.opts.upstream,
            "num_utts": len(self.utts),
        }
        with atomic_write(fdir / "feat_info.json") as f:
            json.dump(info, f, indent=2)
            f.write("\n")
