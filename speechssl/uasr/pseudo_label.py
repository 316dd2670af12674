"""Self-training helpers: load a trained GAN or CTC model, export its logits, turn them into phone labels.

- :func:`load_uasr_model`: a ``checkpoint_*.pt`` of :mod:`speechssl.trainers.uasr_gan`
  (the generator is kept; no blank) or of :mod:`speechssl.trainers.ctc`
  (blank = last column, :data:`~speechssl.models.ctc.CTC_BLANK`).
- :func:`compute_logprobs` / :func:`write_logits`: per-utterance ``T' x V``
  log-probabilities of a feature directory, written in the decoding contract
  (kaldiio ``logits.ark``/``logits.scp`` plus ``tokens.txt`` naming the columns).
  GAN outputs are the generator's frame logits before segment pooling.
- :func:`decode_labels`: greedy or phone-LM beam decoding into phone sequences,
  ``<SIL>`` kept (the CTC trainer decides whether to train on it).
- :func:`write_label_table` / :func:`read_phone_table` / :func:`read_label_table`: ``utt2pseudo``
  (``utt p1 p2 ...``, same format as ``utt2phones``).
- :func:`score_labels`: oracle PER against ``utt2phones`` with ``<SIL>``
  removed, sclite-style files in a scoring directory.
- :func:`update_rounds_table`: one row per self-training round in
  ``rounds.json`` and ``rounds.md``.
"""
from __future__ import annotations

import dataclasses
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import kaldiio
import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from speechssl.data.scp import kaldi_sort_key, read_dict, write_table
from speechssl.decoding import BeamConfig, OutputTokens, beam_search, greedy_decode, normalize_logprobs
from speechssl.models.ctc import CTC_BLANK, CTCModel, CTCModelConfig
from speechssl.models.uasr.gan import GANConfig, UASRGAN
from speechssl.scoring.sclite import score_corpus, write_score_dir
from speechssl.text.silence import SIL
from speechssl.trainers.checkpoint import load_checkpoint
from speechssl.uasr.selection import WORD_SEPARATOR
from speechssl.uasr.data import FeatureSet, PhoneVocab
from speechssl.utils.atomic import atomic_dir, atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

LABEL_TABLE = "utt2pseudo"
TOKENS_FILE = "tokens.txt"
LOGITS_SCP = "logits.scp"
ROUNDS_JSON = "rounds.json"
ROUNDS_MD = "rounds.md"
#: ``extra["model_kind"]`` of checkpoints written by the CTC trainer.
CTC_KIND = "ctc"
GAN_KIND = "gan"


@dataclass
class LoadedModel:
    """A trained acoustic model ready for inference: ``network(feats, mask) -> {logits, padding_mask}``."""

    kind: str                 # "gan" or "ctc"
    network: nn.Module        # in eval mode
    tokens: list[str]         # symbol of every output column
    blank: str                # symbol of the blank column, "" for GAN outputs
    input_dim: int
    checkpoint: Path
    config: dict = field(default_factory=dict)   # the training configuration recorded in the checkpoint
    update: int | None = None                    # the update the checkpoint was saved at

    def output_tokens(self, drop: Sequence[str] = ()) -> OutputTokens:
        return OutputTokens.build(self.tokens, self.blank, drop, where=f"{self.checkpoint} token list")


def load_uasr_model(checkpoint: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Rebuild the GAN generator or the CTC model of a training checkpoint (eval mode, on ``device``)."""
    path = Path(checkpoint)
    state = load_checkpoint(path)
    config, extra = state.get("config", {}), state.get("extra", {})
    tokens, input_dim = extra.get("tokens"), extra.get("input_dim")
    if not tokens or not input_dim or "model" not in state.get("modules", {}):
        raise SpeechSSLError(f"{path}: the checkpoint lacks its token list, input dimension or model weights; "
                             "it was not written by train_uasr or train_ctc")
    kind = extra.get("model_kind") or (GAN_KIND if "discriminator" in config.get("model", {}) else None)
    try:
        if kind == CTC_KIND:
            model = CTCModel(input_dim, len(tokens), CTCModelConfig.from_dict(config["model"]))
            model.load_state_dict(state["modules"]["model"])
            network, symbols, blank = model, list(tokens) + [CTC_BLANK], CTC_BLANK
        elif kind == GAN_KIND:
            gan = UASRGAN(input_dim, len(tokens), GANConfig.from_dict(config["model"], config["loss"]))
            gan.load_state_dict(state["modules"]["model"])
            network, symbols, blank = gan.generator, list(tokens), ""
        else:
            raise SpeechSSLError(f"{path}: neither a GAN (train_uasr) nor a CTC (train_ctc) checkpoint")
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise SpeechSSLError(f"{path}: cannot rebuild the model from its configuration and weights ({e})") from None
    network.to(device).eval()
    log.info("%s: %s model, %d input dims, %d output columns (update %s)", path, kind, input_dim, len(symbols),
             state.get("update"))
    return LoadedModel(kind, network, symbols, blank, int(input_dim), path, config, state.get("update"))


@torch.no_grad()
def compute_logprobs(model: LoadedModel, features: FeatureSet, batch_size: int = 32,
                     device: torch.device | str = "cpu") -> Iterator[tuple[str, np.ndarray]]:
    """Yield ``(utt, T' x V float32 log-probabilities)`` for every utterance (batched by length)."""
    if features.dim != model.input_dim:
        raise SpeechSSLError(f"{features.dir}: {features.dim}-dimensional features but {model.checkpoint} was "
                             f"trained on {model.input_dim}; use the features the model was trained on")
    if batch_size < 1:
        raise SpeechSSLError(f"batch size {batch_size} must be at least 1")
    order = np.argsort(features.lengths, kind="stable")
    with tqdm(total=len(order), desc=f"logits {features.dir.name}", unit="utt", disable=None) as bar:
        for start in range(0, len(order), batch_size):
            batch = features.collate(order[start: start + batch_size], device)
            out = model.network(batch.feats, batch.padding_mask)
            logprobs = out["logits"].float().log_softmax(dim=-1).cpu().numpy()
            lengths = (~out["padding_mask"]).sum(dim=1).tolist()
            for row, utt in enumerate(batch.utts):
                yield utt, logprobs[row, : lengths[row]]
            bar.update(len(batch.utts))


def write_logits(out_dir: str | Path, model: LoadedModel, matrices: Mapping[str, np.ndarray]) -> None:
    """Write ``matrices`` (from :func:`compute_logprobs` of ``model``) as ``logits.ark``/``logits.scp`` and
    ``tokens.txt`` into ``out_dir`` (atomically)."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        ark = out_dir / "logits.ark"  # the scp names the final location
        with kaldiio.WriteHelper(f"ark,scp:{tmp / 'logits.ark'},{tmp / LOGITS_SCP}") as writer:
            for utt in sorted(matrices, key=kaldi_sort_key):
                writer(utt, matrices[utt])
        lines = (tmp / LOGITS_SCP).read_text(encoding="utf-8").splitlines()
        with atomic_write(tmp / LOGITS_SCP) as f:
            for line in lines:
                utt, spec = line.split(" ", 1)
                f.write(f"{utt} {ark}:{spec.rsplit(':', 1)[1]}\n")
        with atomic_write(tmp / TOKENS_FILE) as f:
            f.write("".join(f"{s}\n" for s in model.tokens))
    log.info("wrote %d utterances of %d columns to %s (blank: %s)", len(matrices), len(model.tokens),
             out_dir / LOGITS_SCP, model.blank or "none")


def decode_labels(logprobs: Mapping[str, np.ndarray], tokens: OutputTokens, decoder: str = "greedy", lm=None,
                  beam: BeamConfig = BeamConfig(), batch_size: int = 16, nj: int = 1) -> dict[str, list[str]]:
    """Phone sequences of log-probability matrices by ``greedy`` or ``beam`` (phone LM ``lm``) decoding, the
    batches shared among ``nj`` forked processes (an utterance's result does not depend on its batch)."""
    if decoder not in ("greedy", "beam"):
        raise SpeechSSLError(f"decoder {decoder!r}: choose greedy or beam")
    utts = list(logprobs)
    names = [utts[start: start + batch_size] for start in range(0, len(utts), batch_size)]
    batches = ([normalize_logprobs(logprobs[u], tokens, f"utterance {u}") for u in chunk] for chunk in names)
    search = (tokens, decoder, lm, beam)
    progress = dict(total=len(names), desc=f"decode ({decoder})", unit="batch", disable=None)
    if nj > 1 and len(names) > 1:
        batches = list(batches)         # a malformed matrix stops here, before any process is forked
        with ProcessPoolExecutor(min(nj, len(names)), multiprocessing.get_context("fork"), _start_decoder,
                                 search) as pool:      # a process that dies fails the call instead of hanging it
            ids = list(tqdm(pool.map(_decode_in_worker, batches), **progress))
    else:
        ids = [_decode_batch(batch, *search) for batch in tqdm(batches, **progress)]
    out = {utt: tokens.to_symbols(seq) for chunk, batch_ids in zip(names, ids) for utt, seq in zip(chunk, batch_ids)}
    empty = sum(not v for v in out.values())
    if empty:
        log.warning("%d of %d utterances decoded to no phone", empty, len(out))
    return out


def _decode_batch(batch: list[np.ndarray], tokens: OutputTokens, decoder: str, lm, beam: BeamConfig) -> list:
    if decoder == "greedy":
        return greedy_decode(batch, tokens)
    return [h.ids for h in beam_search(batch, tokens, lm, beam)]


_worker_search: tuple = ()     # a forked decoding process's (tokens, decoder, lm, beam)


def _start_decoder(*search) -> None:
    global _worker_search
    _worker_search = search


def _decode_in_worker(batch: list[np.ndarray]) -> list:
    return _decode_batch(batch, *_worker_search)


def match_insertion_bonus(logprobs: Mapping[str, np.ndarray], tokens: OutputTokens, lm, beam: BeamConfig,
                          target: Mapping[str, Sequence[str]], grid: Sequence[float], batch_size: int = 16,
                          nj: int = 1) -> tuple[float, dict[float, int]]:
    """The insertion bonus of ``grid`` whose beam search over ``logprobs`` outputs a total number of phones
    (``<SIL>`` left out) closest to that of ``target`` on the same utterances (e.g. the labels the model was
    trained on): balances the LM's cost per phone against the blank without references.  Returns the bonus
    (the smallest one on a tie) and the phone count of every bonus tried."""
    missing = sorted(set(logprobs) - set(target))
    if missing:
        raise SpeechSSLError(f"length matching: utterance {missing[0]} (and {len(missing) - 1} more) has no "
                             "target labels; give the labels of the same set")
    want = sum(sum(p != SIL for p in target[u]) for u in logprobs)
    counts = {}
    for bonus in sorted(grid):
        labels = decode_labels(logprobs, tokens, "beam", lm, dataclasses.replace(beam, insertion_bonus=bonus),
                               batch_size, nj)
        counts[bonus] = sum(sum(p != SIL for p in v) for v in labels.values())
        log.info("insertion bonus %g: %d phones (target %d)", bonus, counts[bonus], want)
    return min(counts, key=lambda b: (abs(counts[b] - want), b)), counts


def write_label_table(path: str | Path, labels: Mapping[str, Sequence[str]]) -> None:
    """Write ``utt p1 p2 ...`` lines (C-sorted, atomically); an empty sequence gives a bare ``utt`` line."""
    write_table(path, ((u, " ".join(p)) for u, p in labels.items()))


def read_phone_table(path: str | Path) -> dict[str, list[str]]:
    """Read ``utt2phones``/``utt2pseudo`` (``utt p1 p2 ...``; an utterance may have no phone;
    ``|`` word separators are dropped)."""
    path = Path(path)
    if not path.is_file():
        raise SpeechSSLError(f"{path}: label table not found (utt2phones for gold labels, utt2pseudo from "
                             "speechssl.bin.pseudo_label)")
    return {u: [p for p in v.split() if p != WORD_SEPARATOR]
            for u, v in read_dict(path, allow_empty_value=True).items()}


def read_label_table(path: str | Path, vocab: PhoneVocab, keep_sil: bool = True,
                     unknown: str = "error") -> dict[str, np.ndarray]:
    """A label table as token-id arrays (``<SIL>`` removed unless ``keep_sil``).

    A phone missing from ``vocab`` is an error (``unknown="error"``, right for
    pseudo-labels, which come from the same token list), or is dropped and
    counted in the log (``unknown="drop"``, for reference phones whose
    inventory can differ from the text side's lexicon).
    """
    table = read_phone_table(path)
    if unknown == "drop":
        dropped: dict[str, int] = {}
        for utt, phones in table.items():
            for p in phones:
                if p not in vocab.index and p != SIL:
                    dropped[p] = dropped.get(p, 0) + 1
            table[utt] = [p for p in phones if p in vocab.index or p == SIL]
        if dropped:
            log.warning("%s: dropped %d reference phones missing from the token list (%s)", path,
                        sum(dropped.values()), ", ".join(f"{p} x{n}" for p, n in sorted(dropped.items())))
    return {utt: vocab.encode([p for p in phones if keep_sil or p != SIL], f"{path}: utterance {utt}")
            for utt, phones in table.items()}


def score_labels(hyps: Mapping[str, Sequence[str]], refs: Mapping[str, Sequence[str]],
                 out_dir: str | Path | None = None) -> dict[str, float]:
    """Oracle PER (%) of ``hyps`` against ``refs`` with ``<SIL>`` removed; sclite-style files in ``out_dir``.

    Reference utterances without a hypothesis count as empty hypotheses;
    hypotheses without a reference, and references left empty, are skipped (counted in the log).
    """
    clean_refs = {u: [p for p in r if p != SIL] for u, r in refs.items()}
    empty_refs = [u for u, r in clean_refs.items() if not r]
    clean_refs = {u: r for u, r in clean_refs.items() if r}
    unmatched = sum(u not in clean_refs for u in hyps)
    if unmatched or empty_refs:
        log.warning("scoring: skipped %d hypotheses without a reference and %d empty references", unmatched,
                    len(empty_refs))
    clean_hyps = {u: [p for p in h if p != SIL] for u, h in hyps.items() if u in clean_refs}
    score = score_corpus(clean_refs, clean_hyps, metric="PER", missing_hyp="empty")
    if out_dir is not None:
        write_score_dir(out_dir, score, clean_refs, clean_hyps)
    log.info("%s", score.summary_line())
    t = score.total
    return {"per": round(t.error_rate, 2), "errors": t.errors, "ref_phones": t.ref_len, "utterances": t.sentences}


def update_rounds_table(rounds_dir: str | Path, row: dict) -> list[dict]:
    """Insert or replace (by ``row["round"]``) one row of ``rounds.json`` and rewrite ``rounds.md``.

    A row holds ``round``, ``model``, ``checkpoint``, ``decoder`` and ``per``
    (``{set: PER %}``); rows keep their first-insertion order.
    """
    rounds_dir = Path(rounds_dir)
    path = rounds_dir / ROUNDS_JSON
    rows: list[dict] = []
    if path.is_file():
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise SpeechSSLError(f"{path}: not valid JSON ({e}); delete it to start a new table") from None
    names = [r["round"] for r in rows]
    if row["round"] in names:
        rows[names.index(row["round"])] = row
    else:
        rows.append(row)
    rounds_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        json.dump(rows, f, indent=2)
        f.write("\n")
    with atomic_write(rounds_dir / ROUNDS_MD) as f:
        f.write(format_rounds_markdown(rows))
    return rows


def format_rounds_markdown(rows: Sequence[dict]) -> str:
    """A markdown table: one line per round, one oracle-PER column per scored set."""
    sets = list(dict.fromkeys(s for r in rows for s in r.get("per", {})))
    head = ["round", "model", "decoder"] + [f"{s} PER %" for s in sets] + ["checkpoint"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        pers = [f"{r['per'][s]:.2f}" if s in r.get("per", {}) else "-" for s in sets]
        lines.append("| " + " | ".join([str(r["round"]), r["model"], r["decoder"]] + pers + [r["checkpoint"]]) + " |")
    refs = ", ".join(dict.fromkeys(n for r in rows for n in r.get("references", ()))) or "utt2phones"
    return (f"Oracle error rates (references: {refs}, <SIL> removed) after each self-training round.\n\n"
            + "\n".join(lines) + "\n")
