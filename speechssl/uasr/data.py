"""Data for GAN training: audio features, unpaired phone text, and resumable samplers.

- :class:`PhoneVocab`: the generator's output tokens, read from ``dict.phn.txt``
  in file order (``<SIL>`` included).  Ids ``0..V-1`` are the phones; the pad
  id is ``V``: outside the output range, so it is never generated, and its
  one-hot vector is all zeros (see :meth:`PhoneVocab.one_hot`).
- :class:`FeatureSet`: features of a Kaldi feature directory (``feats.scp`` +
  ``utt2num_frames``, kaldiio ark), optionally with per-frame auxiliary
  targets (``utt2aux``, wav2vec-U 2.0) and durations (``utt2dur``).
- :class:`PhoneText`: the unpaired phone sentences (``phones_sil.txt``).
- :class:`EpochSampler` / :class:`TextSampler`: batch index generators whose
  whole state is a few integers (epoch and position, or the update number),
  because every draw comes from a numpy generator seeded by
  ``(seed, epoch)`` or ``(seed, update)``.  Resuming needs no RNG state.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import kaldiio
import numpy as np
import torch
from tqdm import tqdm

from speechssl.data.scp import read_dict, read_lines
from speechssl.text.silence import SIL
from speechssl.text.tokens import read_token_dict
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

FEATS_SCP = "feats.scp"
UTT2NUM_FRAMES = "utt2num_frames"
UTT2AUX = "utt2aux"
UTT2DUR = "utt2dur"
FEAT_INFO = "feat_info.json"
#: Label of a frame without an auxiliary target (ignored by the loss).
AUX_IGNORE = -1


class PhoneVocab:
    """Phone tokens of ``dict.phn.txt``: ids ``0..V-1`` in file order, pad id ``V``."""

    def __init__(self, tokens: list[str], where: str = "token list"):
        if len(set(tokens)) != len(tokens):
            raise SpeechSSLError(f"{where}: duplicate tokens")
        if not tokens:
            raise SpeechSSLError(f"{where}: no tokens")
        self.tokens = list(tokens)
        self.index = {t: i for i, t in enumerate(self.tokens)}
        self.pad_id = len(self.tokens)
        self.sil_id = self.index.get(SIL)

    @classmethod
    def from_dict_file(cls, path: str | Path) -> "PhoneVocab":
        return cls(list(read_token_dict(path)), str(path))

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, phones: list[str], where: str) -> np.ndarray:
        """Token ids of a phone sentence; an unknown phone is an error naming ``where``."""
        try:
            return np.array([self.index[p] for p in phones], dtype=np.int64)
        except KeyError as e:
            raise SpeechSSLError(f"{where}: phone {e.args[0]!r} is not in the token dictionary; the text and "
                                 "dict.phn.txt come from different prepare_text runs") from None

    def decode(self, ids) -> list[str]:
        return [self.tokens[i] for i in ids]

    def one_hot(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, T, V) one-hot; pad positions become all-zero rows."""
        return torch.nn.functional.one_hot(ids, len(self.tokens) + 1)[..., : len(self.tokens)].float()


@dataclass
class FeatureBatch:
    feats: torch.Tensor          # (B, T, D) float32, zero at padding
    padding_mask: torch.Tensor   # (B, T) bool, True at padding
    utts: list[str]
    aux: torch.Tensor | None     # (B, T) int64 auxiliary targets, AUX_IGNORE at padding


class FeatureSet:
    """Utterance features of a feature directory, held in memory (in their stored dtype)."""

    def __init__(self, feats_dir: str | Path, min_frames: int = 1, max_frames: int | None = None,
                 aux: bool = False, max_utts: int | None = None):
        self.dir = Path(feats_dir)
        scp = self.dir / FEATS_SCP
        if not scp.is_file():
            raise SpeechSSLError(f"{self.dir}: no {FEATS_SCP}; dump features first (speechssl.bin.dump_features)")
        num_frames_path = self.dir / UTT2NUM_FRAMES
        if not num_frames_path.is_file():
            raise SpeechSSLError(f"{self.dir}: no {UTT2NUM_FRAMES} next to {FEATS_SCP}")
        num_frames = {u: _parse_int(v, num_frames_path, u) for u, v in read_dict(num_frames_path).items()}
        aux_table = self._read_aux() if aux else None
        entries = read_dict(scp)
        if max_utts is not None:
            entries = dict(list(entries.items())[:max_utts])
        self.utts: list[str] = []
        self.feats: list[np.ndarray] = []
        self.aux: list[np.ndarray] | None = [] if aux_table is not None else None
        dropped = {"too_short": 0, "no_aux_targets": 0, "truncated": 0}
        self.dim: int | None = None
        for utt, rxspec in tqdm(entries.items(), desc=f"load {self.dir.name}", unit="utt", leave=False):
            if utt not in num_frames:
                raise SpeechSSLError(f"{num_frames_path}: utterance {utt!r} of {scp} is missing")
            if num_frames[utt] < min_frames:
                dropped["too_short"] += 1
                continue
            if aux_table is not None and utt not in aux_table:
                dropped["no_aux_targets"] += 1
                continue
            try:
                mat = np.asarray(kaldiio.load_mat(rxspec))
            except Exception as e:  # kaldiio raises several types for broken arks
                raise SpeechSSLError(f"{scp}: cannot read utterance {utt!r} ({rxspec}): {e}") from None
            if mat.ndim != 2 or len(mat) != num_frames[utt]:
                raise SpeechSSLError(f"{scp}: utterance {utt!r} has shape {mat.shape} but {UTT2NUM_FRAMES} "
                                     f"says {num_frames[utt]} frames; re-run the feature dump")
            if self.dim is None:
                self.dim = mat.shape[1]
            elif mat.shape[1] != self.dim:
                raise SpeechSSLError(f"{scp}: utterance {utt!r} has dimension {mat.shape[1]}, others {self.dim}")
            if not np.isfinite(mat).all():
                raise SpeechSSLError(f"{scp}: utterance {utt!r} contains NaN or inf values")
            if self.aux is not None:
                labels = aux_table[utt]
                if len(labels) != len(mat):
                    raise SpeechSSLError(f"{self.dir / UTT2AUX}: utterance {utt!r} has {len(labels)} targets for "
                                         f"{len(mat)} frames; recompute the auxiliary targets for these features")
            if max_frames is not None and len(mat) > max_frames:
                dropped["truncated"] += 1
                mat = mat[:max_frames]
                if self.aux is not None:
                    labels = labels[:max_frames]
            self.utts.append(utt)
            self.feats.append(mat)
            if self.aux is not None:
                self.aux.append(labels)
        if not self.utts:
            raise SpeechSSLError(f"{self.dir}: no usable utterance (dropped: {dropped})")
        if any(dropped.values()):
            log.warning("%s: %d utterances kept; dropped %d shorter than %d frames, %d without auxiliary targets; "
                        "truncated %d to %s frames", self.dir, len(self.utts), dropped["too_short"], min_frames,
                        dropped["no_aux_targets"], dropped["truncated"], max_frames)
        self.lengths = np.array([len(m) for m in self.feats], dtype=np.int64)
        log.info("%s: %d utterances, %d frames, dimension %d", self.dir, len(self.utts), self.lengths.sum(), self.dim)

    def _read_aux(self) -> dict[str, np.ndarray]:
        path = self.dir / UTT2AUX
        if not path.is_file():
            raise SpeechSSLError(f"{self.dir}: auxiliary loss is on but there is no {UTT2AUX}; compute the MFCC "
                                 "cluster targets (speechssl.uasr.aux_targets) or set loss.aux_weight=0")
        out = {}
        for utt, value in read_dict(path).items():
            try:
                out[utt] = np.array(value.split(), dtype=np.int64)
            except ValueError:
                raise SpeechSSLError(f"{path}: utterance {utt!r} has non-integer targets") from None
        return out

    def __len__(self) -> int:
        return len(self.utts)

    def durations(self) -> np.ndarray | None:
        """Seconds per utterance: ``utt2dur`` of the directory, else frames / ``frame_rate`` of feat_info.json."""
        dur_path = self.dir / UTT2DUR
        if dur_path.is_file():
            table = read_dict(dur_path)
            if all(u in table for u in self.utts):
                return np.array([float(table[u]) for u in self.utts])
        info_path = self.dir / FEAT_INFO
        if info_path.is_file():
            rate = json.loads(info_path.read_text(encoding="utf-8")).get("frame_rate")
            if rate:
                return self.lengths / float(rate)
        return None

    def collate(self, indices, device: torch.device | str = "cpu") -> FeatureBatch:
        """Pad the utterances ``indices`` into a batch."""
        lengths = self.lengths[indices]
        t_max = int(lengths.max())
        feats = np.zeros((len(indices), t_max, self.dim), dtype=np.float32)
        for row, i in enumerate(indices):
            feats[row, : lengths[row]] = self.feats[i]
        mask = torch.from_numpy(np.arange(t_max)[None, :] >= lengths[:, None])
        aux = None
        if self.aux is not None:
            aux_np = np.full((len(indices), t_max), AUX_IGNORE, dtype=np.int64)
            for row, i in enumerate(indices):
                aux_np[row, : lengths[row]] = self.aux[i]
            aux = torch.from_numpy(aux_np).to(device)
        return FeatureBatch(torch.from_numpy(feats).to(device), mask.to(device), [self.utts[i] for i in indices], aux)


class PhoneText:
    """Unpaired phone sentences (one per line, space-separated, ``<SIL>`` included) as id arrays."""

    def __init__(self, path: str | Path, vocab: PhoneVocab, max_len: int | None = None):
        path = Path(path)
        self.path = path
        self.sentences: list[np.ndarray] = []
        empty = long = 0
        for n, line in enumerate(read_lines(path), start=1):
            phones = line.split()
            if not phones:
                empty += 1
                continue
            if max_len is not None and len(phones) > max_len:
                long += 1
                continue
            self.sentences.append(vocab.encode(phones, f"{path}:{n}"))
        if not self.sentences:
            raise SpeechSSLError(f"{path}: the phone text corpus is empty; check speechssl.bin.prepare_text output")
        if empty or long:
            log.warning("%s: skipped %d empty line(s) and %d sentence(s) longer than %s phones", path, empty, long, max_len)
        self.vocab = vocab
        log.info("%s: %d phone sentences", path, len(self.sentences))

    def __len__(self) -> int:
        return len(self.sentences)

    def collate(self, indices, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """Padded ids (B, L) with the pad id, and the padding mask (B, L)."""
        sents = [self.sentences[i] for i in indices]
        lengths = np.array([len(s) for s in sents])
        ids = np.full((len(sents), lengths.max()), self.vocab.pad_id, dtype=np.int64)
        for row, s in enumerate(sents):
            ids[row, : len(s)] = s
        mask = np.arange(lengths.max())[None, :] >= lengths[:, None]
        return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)


class EpochSampler:
    """Shuffled batches over ``n`` items, epoch after epoch; state = (epoch, position).

    With several ranks each global batch of ``batch_size * world_size`` items is
    split between them; a last incomplete global batch is dropped.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        self.n, self.batch_size, self.seed = n, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.global_batch = min(batch_size * world_size, n - n % world_size if n >= world_size else n)
        if self.global_batch < world_size:
            raise SpeechSSLError(f"{n} training utterances cannot be split over {world_size} processes")
        self.epoch, self.position = 0, 0
        self._order = self._permutation()

    def _permutation(self) -> np.ndarray:
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.n)

    def next_indices(self) -> np.ndarray:
        if self.position + self.global_batch > self.n:
            self.epoch += 1
            self.position = 0
            self._order = self._permutation()
        chunk = self._order[self.position: self.position + self.global_batch]
        self.position += self.global_batch
        return chunk[self.rank:: self.world_size]

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "position": self.position, "n": self.n, "global_batch": self.global_batch}

    def load_state_dict(self, state: dict) -> None:
        if state["n"] != self.n or state["global_batch"] != self.global_batch:
            raise SpeechSSLError(f"the checkpoint's data sampler ran over {state['n']} utterances in batches of "
                                 f"{state['global_batch']}, this run has {self.n} in batches of {self.global_batch}; "
                                 "resume with the same training features, batch size and number of processes")
        self.epoch, self.position = state["epoch"], state["position"]
        self._order = self._permutation()


class TextSampler:
    """Random text batches (with replacement); the draw for update ``u`` depends only on ``(seed, u, rank)``."""

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0):
        self.n, self.batch_size, self.seed, self.rank = n, batch_size, seed, rank

    def indices(self, update: int) -> np.ndarray:
        return np.random.default_rng([self.seed, update, self.rank, 1]).integers(0, self.n, self.batch_size)


def _parse_int(value: str, path: Path, utt: str) -> int:
    if not value.isdigit():
        raise SpeechSSLError(f"{path}: utterance {utt!r} has {value!r}; expected a frame count")
    return int(value)
