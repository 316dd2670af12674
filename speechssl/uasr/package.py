"""A packed UASR model: one directory that goes from raw audio files to phones and words.

:func:`pack_model` copies everything recognition needs out of a finished
``uasr1`` recipe run into one self-contained directory (copies, never links;
written atomically):

==========================  =====================================================================
``vad.yaml``                ``compute_vad`` options (stage 2); absent when the model was trained
                            without VAD
``features.yaml``           ``dump_features`` options (stage 4), resolved; ``upstream/`` holds the
                            SSL checkpoint and ``cmvn_stats.npz`` the training set's global CMVN
                            statistics, when these apply
``transform/``              the fitted wav2vec-U feature transform (stage 5; auxiliary targets,
                            which only training uses, are left out); absent for a CTC model
``generator.pt``            the selected GAN generator's weights (stage 6), a plain state dict;
                            ``ctc.pt`` instead for a CTC model of self-training (stage 8)
``model.json``              its kind (``gan`` or ``ctc``), configuration and input dimension
``tokens.txt``              the model's output tokens, one per line (a CTC model's blank last)
``lm.phones.bin``           the phone n-gram of stage 7 (KenLM binary)
``lm.words.bin``,           the word n-gram and the lexicon of stage 7's word decoding
``lexicon.lst``
``decode.yaml``             ``decode_uasr`` options of the LM decoders (stage 7; for a CTC model
                            with the insertion bonus its self-training round matched)
``token_bias.txt``          for a CTC model of a round labelled with ``--match-unigram``: the
                            output biases it was decoded with (:mod:`speechssl.uasr.token_bias`)
``manifest.json``           format, versions, SHA-256 of every file, sources and the command
==========================  =====================================================================

:class:`PackedModel` loads it and :meth:`PackedModel.recognize` runs the
recipe's stages 2-7 on waveforms: audio files (any format libsndfile reads,
any sample rate, resampled to the features' rate) or arrays.  Every stage
option is read by the stage program's own parser from the packed YAML, so a
packed model decodes exactly as the recipe did: on the same audio it gives
the phones and words that stage 7 wrote, and a packed CTC model the labels
its self-training round wrote (MFCC/fbank features; SSL features can differ
in the last digits when batched differently).

Multi-channel audio is refused unless a ``channel`` is chosen (an index, or
``"mean"`` to downmix).  Utterances where the VAD finds no speech, or too
short for one feature frame, get empty outputs with a ``note``; they are
counted in the log.
"""
from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch
import yaml

from speechssl.audio.io import audio_info, read_audio
from speechssl.audio.vad import make_detector, vad_cut
from speechssl.audio.features import CMVNStats
from speechssl.decoding import OutputTokens, normalize_logprobs
from speechssl.features.dump import SSL, DumpOptions
from speechssl.features.extract import WaveformFeaturizer
from speechssl.models.ctc import CTC_BLANK, CTCModel, CTCModelConfig
from speechssl.models.uasr.gan import GANConfig, UASRGAN
from speechssl.text.tokens import read_token_dict
from speechssl.trainers.base import pick_device
from speechssl.uasr.preprocess import FeatureTransform
from speechssl.uasr.pseudo_label import load_uasr_model
from speechssl.uasr.token_bias import TOKEN_BIAS, read_token_bias
from speechssl.utils.atomic import atomic_dir, atomic_write
from speechssl.utils.cli import add_config_option, parse_args
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

FORMAT = "speechssl.PackedUASRModel"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VAD_YAML = "vad.yaml"
FEATURES_YAML = "features.yaml"
UPSTREAM_DIR = "upstream"
CMVN_STATS = "cmvn_stats.npz"
TRANSFORM_DIR = "transform"
GENERATOR = "generator.pt"
CTC_WEIGHTS = "ctc.pt"
MODEL_JSON = "model.json"
TOKENS = "tokens.txt"
PHONE_LM = "lm.phones.bin"
WORD_LM = "lm.words.bin"
LEXICON = "lexicon.lst"
DECODE_YAML = "decode.yaml"
#: The recipe's files in the text directory (stage 3), copied under the names above.
TEXT_FILES = {"phone_lm": "lm.phones.6.bin", "word_lm": "lm.words.4.bin", "lexicon": "lexicon_filtered.lst"}
#: The outputs of :meth:`PackedModel.recognize`, in the order of :class:`Recognition`'s fields.
OUTPUTS = ("phones_greedy", "phones_lm", "words")
#: ``dump_features`` options a packed model keeps (the others are about jobs and devices).
_FEATURE_KEYS = ("feat_type", "layers", "cmvn", "norm_vars", "dtype", "batch_seconds", "sample_rate", "num_ceps",
                 "num_mel_bins", "deltas")


@dataclass
class Recognition:
    """What a packed model recognised in one utterance (``<SIL>`` removed from the phones)."""

    utt: str
    phones_greedy: list[str] = field(default_factory=list)  #: argmax per frame, repeats merged
    phones_lm: list[str] = field(default_factory=list)      #: beam search with the phone n-gram
    words: list[str] = field(default_factory=list)          #: lexicon beam search with the word n-gram
    note: str = ""                                          #: why the outputs are empty, if they are


# ----------------------------------------------------------------------------- stage options

def _stage_args(module, config: Path | None, options: Sequence[str], positionals: int):
    """The options of a stage program as its parser resolves them from ``config`` and ``options``."""
    argv = (["--config", str(config)] if config else []) + list(options) + ["-"] * positionals
    return parse_args(add_config_option(module.get_parser()), argv)


def _vad_settings(config: Path | None) -> dict[str, Any] | None:
    """Detector name, detector options, mode and padding of a ``compute_vad`` config (None: no VAD)."""
    if config is None:
        return None
    from speechssl.bin import compute_vad

    args = _stage_args(compute_vad, config, [], 2)
    return {"detector": args.detector, "options": compute_vad.detector_options(args), "mode": args.mode,
            "pad_s": args.pad}


def _feature_args(config: Path | None, options: Sequence[str]):
    from speechssl.bin import dump_features

    return _stage_args(dump_features, config, options, 2)


def _dump_options(args, upstream: str | None, device: str = "auto") -> DumpOptions:
    return DumpOptions(feat_type=args.feat_type, upstream=upstream, layers=args.layers, cmvn=args.cmvn,
                       norm_vars=args.norm_vars, dtype=args.dtype, batch_seconds=args.batch_seconds,
                       sample_rate=args.sample_rate, num_ceps=args.num_ceps, num_mel_bins=args.num_mel_bins,
                       deltas=args.deltas, device=device)


def _decode_args(config: Path | None, decoder: str, lm: Path | None = None, lexicon: Path | None = None):
    """``decode_uasr``'s options for one decoder, as stage 7 passes them."""
    from speechssl.bin import decode_uasr

    opts = ["--decoder", decoder] + (["--lm", str(lm)] if lm else []) + (["--lexicon", str(lexicon)] if lexicon else [])
    return _stage_args(decode_uasr, config, opts, 3)


# ----------------------------------------------------------------------------- packing

def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint path, or the checkpoint a ``selected.json`` of ``select_uasr_run`` names."""
    path = Path(path)
    if path.suffix != ".json":
        return path
    try:
        ckpt = Path(json.loads(path.read_text(encoding="utf-8"))["selected"]["checkpoint"])
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise SpeechSSLError(f"{path}: not a selected.json of select_uasr_run ({e}); give the checkpoint instead") \
            from None
    if not ckpt.is_absolute() and not ckpt.is_file():  # relative to the recipe directory, an ancestor of the file
        for base in path.resolve().parents:
            if (base / ckpt).is_file():
                return base / ckpt
    return ckpt


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _copy(src: Path, dst: Path, what: str) -> None:
    if not src.exists():
        raise SpeechSSLError(f"{src}: {what} not found; run the recipe stage that makes it first")
    if src.is_dir():
        shutil.copytree(src, dst, symlinks=False)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)


def _write_yaml(path: Path, values: dict[str, Any], header: str) -> None:
    with atomic_write(path) as f:
        f.write(f"# {header}\n")
        yaml.safe_dump({k: v for k, v in values.items() if v is not None}, f, sort_keys=False)


def _versions() -> dict[str, str]:
    import speechssl

    out = {"speechssl": speechssl.__version__, "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__}
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode == 0:
            out["speechssl_commit"] = commit.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def pack_model(out_dir: str | Path, checkpoint: str | Path, transform_dir: str | Path | None, text_dir: str | Path,
               *, feats_config: str | Path | None = None, feat_options: Sequence[str] = (),
               vad_config: str | Path | None = None, decode_config: str | Path | None = None,
               insertion_bonus: float | None = None, token_bias: str | Path | None = None,
               cmvn_stats: str | Path | None = None, word_lexicon: str | Path | None = None,
               word_lm: str | Path | None = None, command: str = "") -> Path:
    """Write the packed model of a recipe run into ``out_dir`` (replaced atomically); return its path.

    ``checkpoint`` is a GAN checkpoint of ``train_uasr`` or the sweep's
    ``selected.json`` (with the feature transform of stage 5 in
    ``transform_dir``), or a CTC checkpoint of ``train_ctc`` from
    self-training (on frame features: ``transform_dir`` None);
    ``insertion_bonus`` replaces the decode config's (e.g. the bonus a
    self-training round matched) and ``token_bias`` is the ``token_bias.txt``
    its labels were decoded with, if any; ``feats_config`` and ``feat_options`` (e.g.
    ``["--feat-type", "ssl", "--upstream", "up.pt", "--layers", "15"]``) are
    what stage 4 passed to ``dump_features``; ``cmvn_stats`` is the training
    set's ``cmvn_stats.npz`` (only for ``cmvn: global``).  The pieces are
    checked against each other (feature dimensions, token lists, the phone
    LM's vocabulary) before anything is written.  ``word_lexicon`` and
    ``word_lm`` replace the text directory's lexicon and word n-gram (as stage
    7's options do); ``word_lm=""`` packs no word LM.
    """
    out_dir, text_dir = Path(out_dir), Path(text_dir)
    ckpt = resolve_checkpoint(checkpoint)
    loaded = load_uasr_model(ckpt)
    kind, tokens, input_dim, config = loaded.kind, loaded.tokens, loaded.input_dim, loaded.config
    if (transform_dir is None) != (kind == "ctc"):
        raise SpeechSSLError(f"{ckpt}: a {kind.upper()} model " + ("reads frame features: give no feature transform"
                             if kind == "ctc" else "needs the feature transform of stage 5 (transform_dir)"))
    transform_dir = Path(transform_dir) if transform_dir is not None else None
    if token_bias:
        read_token_bias(token_bias, tokens)   # belongs to this model
    text_tokens = list(read_token_dict(text_dir / "dict.phn.txt"))
    phones = tokens[:-1] if kind == "ctc" else tokens   # without the blank
    if text_tokens != phones:
        raise SpeechSSLError(f"{text_dir}/dict.phn.txt does not list the tokens {ckpt} was trained on "
                             f"({len(text_tokens)} vs {len(phones)} tokens); pack with the text directory of this run")
    feat_args = _feature_args(Path(feats_config) if feats_config else None, feat_options)
    if feat_args.cmvn_from:
        raise SpeechSSLError("--cmvn-from is not a packing option; give the statistics file as cmvn_stats")
    _dump_options(feat_args, feat_args.upstream)  # checks the combination (e.g. ssl needs upstream and layers)
    if feat_args.cmvn == "global" and not cmvn_stats:
        raise SpeechSSLError("the features use global CMVN: give the training set's cmvn_stats.npz "
                             "(dump/<feat>/<train_set>/cmvn_stats.npz)")
    vad = _vad_settings(Path(vad_config) if vad_config else None)
    if vad is not None:
        make_detector(vad["detector"], **vad["options"])  # catches a missing detector package now

    with atomic_dir(out_dir) as tmp:
        upstream = None
        if feat_args.feat_type == SSL:
            src = Path(feat_args.upstream)
            upstream = f"{UPSTREAM_DIR}/{src.name}"
            _copy(src, tmp / upstream, "SSL upstream checkpoint")
        if feat_args.cmvn == "global":
            _copy(Path(cmvn_stats), tmp / CMVN_STATS, "global CMVN statistics")
        values = {k: getattr(feat_args, k) for k in _FEATURE_KEYS}
        values["upstream"] = upstream
        _write_yaml(tmp / FEATURES_YAML, values, "dump_features options (stage 4); paths relative to this directory")
        if vad_config:
            _copy(Path(vad_config), tmp / VAD_YAML, "VAD config")
        if decode_config:
            _copy(Path(decode_config), tmp / DECODE_YAML, "decode config")
        if insertion_bonus is not None:
            decode = yaml.safe_load((tmp / DECODE_YAML).read_text(encoding="utf-8")) if decode_config else {}
            _write_yaml(tmp / DECODE_YAML, {**(decode or {}), "insertion_bonus": float(insertion_bonus)},
                        f"decode_uasr options ({decode_config or 'defaults'}, insertion bonus {insertion_bonus:g})")
        if token_bias:
            _copy(Path(token_bias), tmp / TOKEN_BIAS, "output biases of self-training")
        if transform_dir is not None:
            (tmp / TRANSFORM_DIR).mkdir()
            for name in ("transform.json", "transform.npz"):
                _copy(transform_dir / name, tmp / TRANSFORM_DIR / name, "fitted feature transform")
        sources = {"phone_lm": text_dir / TEXT_FILES["phone_lm"],
                   "word_lm": text_dir / TEXT_FILES["word_lm"] if word_lm is None else word_lm,
                   "lexicon": text_dir / TEXT_FILES["lexicon"] if word_lexicon is None else word_lexicon}
        for key, name in (("phone_lm", PHONE_LM), ("word_lm", WORD_LM), ("lexicon", LEXICON)):
            if sources[key]:
                _copy(Path(sources[key]), tmp / name, "text-side file (prepare_text or the recipe's word decoder)")
        with atomic_write(tmp / (GENERATOR if kind == "gan" else CTC_WEIGHTS), "wb") as f:
            torch.save(loaded.network.state_dict(), f)
        with atomic_write(tmp / TOKENS) as f:
            f.write("".join(f"{t}\n" for t in tokens))
        model = {"kind": kind, "input_dim": input_dim, "model": config["model"]}
        if kind == "gan":
            model["loss"] = config["loss"]
        with atomic_write(tmp / MODEL_JSON) as f:
            json.dump(model, f, indent=2)
            f.write("\n")
        try:  # the same checks as at every load, with messages that name the final directory
            packed = PackedModel.load(tmp, device="cpu", verify=False)
        except SpeechSSLError as e:
            raise SpeechSSLError(str(e).replace(str(tmp), str(out_dir))) from None
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "format": FORMAT, "version": FORMAT_VERSION, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": command, "versions": _versions(),
            "sources": {"checkpoint": str(ckpt.resolve()), "update": loaded.update, "kind": kind,
                        "transform_dir": str(transform_dir.resolve()) if transform_dir else None,
                        "text_dir": str(text_dir.resolve()), "insertion_bonus": insertion_bonus,
                        "token_bias": str(Path(token_bias).resolve()) if token_bias else None,
                        "feats_config": str(Path(feats_config).resolve()) if feats_config else None,
                        "feat_options": list(feat_options),
                        "vad_config": str(Path(vad_config).resolve()) if vad_config else None,
                        "decode_config": str(Path(decode_config).resolve()) if decode_config else None},
            "summary": packed.summary(),
            "files": {str(p.relative_to(tmp)): {"bytes": p.stat().st_size, "sha256": _sha256(p)} for p in files},
        }
        with atomic_write(tmp / MANIFEST) as f:
            json.dump(manifest, f, indent=2)
            f.write("\n")
    log.info("packed %s (%d files, %.1f MB) from %s", out_dir, len(files),
             sum(p["bytes"] for p in manifest["files"].values()) / 1e6, ckpt)
    return out_dir


# ----------------------------------------------------------------------------- loading and recognition

class PackedModel:
    """A model written by :func:`pack_model`; :meth:`recognize` turns audio into phones and words."""

    def __init__(self, directory: Path, device: torch.device):
        self.dir, self.device = directory, device
        #: Counts and timing of the last :meth:`recognize` call (inputs, audio_seconds, speech_seconds, seconds, rtf).
        self.last_stats: dict[str, float] = {}
        feat_args = _feature_args(self._file(FEATURES_YAML), [])
        upstream = str(self._file(feat_args.upstream)) if feat_args.upstream else None
        stats = CMVNStats.load(self._file(CMVN_STATS)) if feat_args.cmvn == "global" else None
        self.featurizer = WaveformFeaturizer(_dump_options(feat_args, upstream, str(device)), stats)
        self.vad = _vad_settings(self._file(VAD_YAML) if (directory / VAD_YAML).exists() else None)
        self.detector = make_detector(self.vad["detector"], **self.vad["options"]) if self.vad else None
        meta = self._model_json()
        self.kind = meta["kind"]
        #: the feature transform of a GAN (stage 5); None for a CTC model, which reads frame features
        self.transform = FeatureTransform.load(self._file(TRANSFORM_DIR)) if self.kind == "gan" else None
        if self.transform is not None and self.featurizer.dim != self.transform.input_dim:
            raise SpeechSSLError(
                f"{directory}: the feature recipe ({FEATURES_YAML}) gives {self.featurizer.dim}-dim features but the "
                f"transform was fitted on {self.transform.input_dim}-dim ones; pack with the feature options of the "
                "run (--feats-config and the feat options of stage 4)")
        self.tokens = [line.split()[0] for line in self._file(TOKENS).read_text(encoding="utf-8").splitlines()
                       if line.strip()]
        self.blank = CTC_BLANK if self.kind == "ctc" else ""
        self.network, self.input_dim = self._load_network(meta)
        #: biases added to the network's log-probabilities (token_bias.txt), or None
        self.token_bias = read_token_bias(self.dir / TOKEN_BIAS, self.tokens) \
            if (directory / TOKEN_BIAS).exists() else None
        got, what = ((self.transform.output_dim, "the transform gives") if self.transform is not None
                     else (self.featurizer.dim, f"the feature recipe ({FEATURES_YAML}) gives"))
        if got != self.input_dim:
            raise SpeechSSLError(
                f"{directory}: {what} {got}-dim features but the {'generator' if self.kind == 'gan' else 'CTC model'} "
                f"was trained on {self.input_dim}-dim ones; pack the feature options and transform of the run that "
                "trained it")
        decode_cfg = self._file(DECODE_YAML) if (directory / DECODE_YAML).exists() else None
        self._decoders = {
            "phones_greedy": self._decoder(_decode_args(None, "greedy")),
            "phones_lm": self._decoder(_decode_args(decode_cfg, "beam", self._file(PHONE_LM))),
            "words": self._decoder(_decode_args(decode_cfg, "lexicon",
                                                 self._file(WORD_LM) if (directory / WORD_LM).exists() else None,
                                                 self._file(LEXICON))),
        }

    @classmethod
    def load(cls, directory: str | Path, device: str = "auto", verify: bool = True) -> "PackedModel":
        """Load a packed model; ``verify`` checks every file against the SHA-256 in ``manifest.json``."""
        directory = Path(directory)
        if not directory.is_dir():
            raise SpeechSSLError(f"{directory}: no such directory; pack a model with speechssl.bin.pack_uasr_model")
        if verify:
            cls._verify(directory)
        return cls(directory, pick_device(device))

    @staticmethod
    def _verify(directory: Path) -> None:
        path = directory / MANIFEST
        if not path.is_file():
            raise SpeechSSLError(f"{path}: missing; {directory} is not a packed model (or was not written completely)")
        try:
            manifest = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise SpeechSSLError(f"{path}: invalid JSON ({e}); pack the model again") from None
        if manifest.get("format") != FORMAT or manifest.get("version") != FORMAT_VERSION:
            raise SpeechSSLError(f"{path}: not a {FORMAT} version {FORMAT_VERSION} (format={manifest.get('format')!r}, "
                                 f"version={manifest.get('version')!r}); pack the model again with this speechssl")
        for name, entry in manifest.get("files", {}).items():
            p = directory / name
            if not p.is_file():
                raise SpeechSSLError(f"{directory}: {name} is missing; copy the whole packed directory")
            if p.stat().st_size != entry["bytes"] or _sha256(p) != entry["sha256"]:
                raise SpeechSSLError(f"{directory}: {name} differs from the file that was packed (SHA-256 mismatch); "
                                     "the copy is damaged or was edited: pack the model again")

    def _file(self, name: str) -> Path:
        path = self.dir / name
        if not path.exists():
            raise SpeechSSLError(f"{self.dir}: {name} is missing; this packed model is incomplete, pack it again")
        return path

    def _model_json(self) -> dict[str, Any]:
        path = self._file(MODEL_JSON)
        try:
            meta = json.loads(path.read_text(encoding="utf-8"))
            meta["input_dim"] = int(meta["input_dim"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise SpeechSSLError(f"{path}: not a model description of pack_model ({e})") from None
        if meta.get("kind", "gan") not in ("gan", "ctc"):
            raise SpeechSSLError(f"{path}: unknown model kind {meta.get('kind')!r} (gan or ctc); pack it again")
        return {"kind": "gan", **meta}

    def _load_network(self, meta: dict[str, Any]) -> tuple[torch.nn.Module, int]:
        """The GAN generator or the CTC model described by ``model.json``, with its packed weights."""
        kind, input_dim = meta["kind"], meta["input_dim"]
        weights_file = self._file(GENERATOR if kind == "gan" else CTC_WEIGHTS)
        try:
            if kind == "gan":
                cfg = GANConfig.from_dict(meta["model"], meta["loss"])
            else:
                ctc_cfg = CTCModelConfig.from_dict(meta["model"])
        except (KeyError, TypeError, ValueError) as e:
            raise SpeechSSLError(f"{self.dir / MODEL_JSON}: not a model description of pack_model ({e})") from None
        try:
            weights = torch.load(weights_file, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated or foreign files raise several types
            raise SpeechSSLError(f"{weights_file}: cannot read the model weights ({e}); pack again") from None
        if kind == "gan":
            conv = weights.get("conv.weight")
            if conv is None or conv.shape[0] != len(self.tokens):
                raise SpeechSSLError(
                    f"{self.dir}: {TOKENS} lists {len(self.tokens)} tokens but the generator has "
                    f"{None if conv is None else conv.shape[0]} outputs; the token list belongs to another model")
            network = UASRGAN(input_dim, len(self.tokens), cfg).generator
        else:
            if not self.tokens or self.tokens[-1] != CTC_BLANK:
                raise SpeechSSLError(f"{self.dir / TOKENS}: a CTC model's token list ends with its blank {CTC_BLANK}; "
                                     "the token list belongs to another model")
            network = CTCModel(input_dim, len(self.tokens) - 1, ctc_cfg)
        try:
            network.load_state_dict(weights)
        except RuntimeError as e:
            raise SpeechSSLError(f"{weights_file}: the weights do not fit {MODEL_JSON} and the {len(self.tokens)} "
                                 f"tokens of {TOKENS} ({e})") from None
        return network.to(self.device).eval(), input_dim

    def _decoder(self, args):
        from speechssl.bin.decode_uasr import make_decoder

        args.blank = self.blank
        tokens = OutputTokens.build(self.tokens, args.blank, args.drop_tokens.split(), where=str(self.dir / TOKENS))
        try:
            return tokens, args.batch_size, make_decoder(args, tokens)
        except SpeechSSLError as e:
            raise SpeechSSLError(f"{self.dir}: {e}") from None

    def summary(self) -> dict[str, Any]:
        """What the model expects and produces (recorded in the manifest)."""
        opts = self.featurizer.opts
        return {"kind": self.kind, "sample_rate": self.featurizer.sample_rate, "feat_type": opts.feat_type,
                "layers": opts.layers, "feature_dim": self.featurizer.dim, "frame_rate": self.featurizer.frame_rate,
                "transform_dim": self.transform.output_dim if self.transform is not None else None,
                "tokens": len(self.tokens),
                "vad": None if self.vad is None else {"detector": self.vad["detector"], "mode": self.vad["mode"]}}

    # -- recognition -------------------------------------------------------------

    def recognize(self, audio, sample_rate: int | None = None, channel: int | str | None = None,
                  batch_size: int = 32) -> dict[str, Recognition]:
        """Phones and words of ``audio``: a file path or a waveform array, a list of them, or a mapping id -> one.

        Paths get their file name without extension as id (``wav.scp`` values,
        ``cmd |`` pipes included, work through a mapping); arrays ``utt1``,
        ``utt2``, ... and need ``sample_rate``.  ``channel`` picks a channel of
        multi-channel audio (an index, or ``"mean"`` to downmix).  Results
        come back in input order, keyed by utterance id (VAD ``split`` mode:
        one entry per speech region, ``<id>-<start_cs>-<end_cs>``).
        ``batch_size`` inputs are processed together.
        """
        items = _as_items(audio)
        if batch_size < 1:
            raise SpeechSSLError(f"batch_size {batch_size} must be at least 1")
        began = time.perf_counter()
        self.last_stats = {"inputs": len(items), "audio_seconds": 0.0, "speech_seconds": 0.0}
        results: dict[str, Recognition] = {}
        for start in range(0, len(items), batch_size):
            results.update(self._recognize_batch(items[start:start + batch_size], sample_rate, channel))
        for note in sorted({r.note for r in results.values() if r.note}):
            log.warning("%d utterance(s) with empty outputs: %s", sum(r.note == note for r in results.values()), note)
        stats = self.last_stats
        stats["seconds"] = time.perf_counter() - began
        stats["rtf"] = stats["seconds"] / stats["audio_seconds"] if stats["audio_seconds"] else 0.0
        log.info("recognised %d input(s), %.1f s of audio (%.1f s after VAD) in %.2f s: real-time factor %.4f",
                 len(items), stats["audio_seconds"], stats["speech_seconds"], stats["seconds"], stats["rtf"])
        return results

    def waveform(self, source, sample_rate: int | None = None, channel: int | str | None = None,
                 name: str = "utterance") -> np.ndarray:
        """A mono float32 waveform at the model's sample rate from a path/``wav.scp`` value or an array."""
        if isinstance(source, np.ndarray) or torch.is_tensor(source):
            if sample_rate is None:
                raise SpeechSSLError(f"{name}: an audio array needs its sample_rate")
            wav = np.asarray(source, dtype=np.float32)
            if wav.ndim == 2:
                if channel is None and wav.shape[1] > 1:
                    raise SpeechSSLError(f"{name}: audio has {wav.shape[1]} channels; choose one (channel=0) or "
                                         "downmix them (channel='mean')")
                if channel not in (None, "mean") and not 0 <= channel < wav.shape[1]:
                    raise SpeechSSLError(f"{name}: channel {channel} requested but the audio has {wav.shape[1]}")
                wav = wav.mean(axis=1) if channel == "mean" else wav[:, channel or 0]
            elif wav.ndim != 1:
                raise SpeechSSLError(f"{name}: expected samples or samples x channels, got shape {wav.shape}")
            sr = sample_rate
        elif channel == "mean":
            info = audio_info(str(source), name=name)
            chans = [read_audio(str(source), channel=c, name=name)[0] for c in range(info.channels)]
            wav, sr = np.mean(chans, axis=0, dtype=np.float64).astype(np.float32), info.sample_rate
        else:
            wav, sr = read_audio(str(source), channel=channel, name=name)
        target = self.featurizer.sample_rate
        if sr != target:
            from scipy.signal import resample_poly

            g = int(np.gcd(int(sr), target))
            wav = resample_poly(wav.astype(np.float64), target // g, int(sr) // g).astype(np.float32)
        return np.ascontiguousarray(wav)

    def _recognize_batch(self, items, sample_rate, channel) -> dict[str, Recognition]:
        results: dict[str, Recognition] = {}
        pieces: list[tuple[str, np.ndarray]] = []
        sr = self.featurizer.sample_rate
        for utt, source in items:
            wav = self.waveform(source, sample_rate, channel, name=utt)
            self.last_stats["audio_seconds"] += len(wav) / sr
            cut = vad_cut(wav, sr, self.detector, self.vad["mode"], self.vad["pad_s"], utt) if self.vad \
                else [(utt, wav)]
            if not cut:
                results[utt] = Recognition(utt, note="no speech found by the VAD")
            for piece_id, piece in cut:
                results[piece_id] = Recognition(piece_id)
                pieces.append((piece_id, piece))
                self.last_stats["speech_seconds"] += len(piece) / sr
        short = [u for u, w in pieces if len(w) < self.featurizer.min_samples]
        for utt in short:
            results[utt].note = f"shorter than the {self.featurizer.min_samples} samples of one feature frame"
        feats = self.featurizer([(u, w) for u, w in pieces if u not in short])
        if self.transform is not None:
            feats = {u: self.transform.apply(f) for u, f in feats.items()}
            for utt in [u for u, f in feats.items() if not len(f)]:
                results[utt].note = "no frame left after the feature transform"
        logprobs = self._logprobs({u: f for u, f in feats.items() if len(f)})
        for name, (tokens, decode_batch, decode) in self._decoders.items():
            utts = list(logprobs)
            for start in range(0, len(utts), decode_batch):
                names = utts[start:start + decode_batch]
                batch = [normalize_logprobs(logprobs[u], tokens, f"utterance {u}") for u in names]
                for utt, out in zip(names, decode(batch)):
                    setattr(results[utt], name, list(out))
        return results

    @torch.no_grad()
    def _logprobs(self, feats: Mapping[str, np.ndarray], batch_size: int = 32) -> dict[str, np.ndarray]:
        """Network log-probabilities, in length-sorted batches as ``export_logits`` and ``pseudo_label`` compute
        them."""
        utts = list(feats)
        lengths = np.array([len(feats[u]) for u in utts], dtype=np.int64)
        out: dict[str, np.ndarray] = {}
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            t_max = int(lengths[idx].max())
            x = np.zeros((len(idx), t_max, self.input_dim), dtype=np.float32)
            for row, i in enumerate(idx):
                x[row, : lengths[i]] = feats[utts[i]]
            mask = torch.from_numpy(np.arange(t_max)[None, :] >= lengths[idx][:, None]).to(self.device)
            res = self.network(torch.from_numpy(x).to(self.device), mask)
            logprobs = res["logits"].float().log_softmax(dim=-1).cpu().numpy()
            valid = (~res["padding_mask"]).sum(dim=1).tolist()
            for row, i in enumerate(idx):
                out[utts[i]] = logprobs[row, : valid[row]]
                if self.token_bias is not None:   # as pseudo_label decoded the round's labels
                    out[utts[i]] = out[utts[i]] + self.token_bias
        return {u: out[u] for u in utts}


def _as_items(audio) -> list[tuple[str, Any]]:
    """``(utt_id, source)`` pairs of what :meth:`PackedModel.recognize` accepts."""
    if isinstance(audio, (str, Path, np.ndarray)) or torch.is_tensor(audio):
        audio = [audio]
    items: list[tuple[str, Any]] = []
    if isinstance(audio, Mapping):
        items = [(str(k), v) for k, v in audio.items()]
    else:
        seen: dict[str, Any] = {}
        for i, source in enumerate(audio, start=1):
            utt = Path(source).stem if isinstance(source, (str, Path)) else f"utt{i}"
            if utt in seen:
                raise SpeechSSLError(f"two inputs have the id {utt!r} ({seen[utt]} and {source}); give a mapping "
                                     "id -> audio (or a wav.scp) instead")
            seen[utt] = source
            items.append((utt, source))
    if not items:
        raise SpeechSSLError("no audio to recognise")
    return items


def format_outputs(results: Iterable[Recognition], output: str) -> str:
    """Kaldi text lines ``utt tok tok ...`` of one of :data:`OUTPUTS`."""
    if output not in OUTPUTS:
        raise SpeechSSLError(f"unknown output {output!r}; choose one of {', '.join(OUTPUTS)}")
    return "".join(" ".join([r.utt, *getattr(r, output)]) + "\n" for r in results)
