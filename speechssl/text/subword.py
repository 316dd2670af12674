"""Subword units (SentencePiece) as the text side's tokens, in place of phones.

wav2vec-U's text side is a phone sequence; it can instead be a sequence of
subword pieces learnt from the unpaired text alone ("replace phonemization
with tokenization").  To keep every later stage unchanged, the pieces play
the part of phones: the lexicon maps each word to its pieces, and the
sentence, ``<SIL>`` and n-gram steps run on them as they do on phones.

Each word is encoded on its own, so word -> pieces is a function (the same
word always gets the same pieces, as a pronunciation lexicon requires).
SentencePiece splits at whitespace anyway, so a sentence encoded whole gives
the same pieces.  The model is trained with the identity normalisation (the
text is already normalised by :mod:`speechssl.text.normalize`), full
character coverage, one thread and a fixed seed, so the same text and
options give the same model, byte for byte.  Word-initial pieces carry
SentencePiece's ``▁`` mark.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

TOKEN_TYPES = ("phones", "spm")
SPM_MODEL_TYPES = ("unigram", "bpe", "char")
SPM_MODEL = "spm.model"


@dataclass(frozen=True)
class SpmConfig:
    """Options of :func:`train_spm`."""

    vocab_size: int = 500
    model_type: str = "unigram"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.model_type not in SPM_MODEL_TYPES:
            raise SpeechSSLError(f"spm model type {self.model_type!r} is not one of {', '.join(SPM_MODEL_TYPES)}")
        if self.vocab_size < 2:
            raise SpeechSSLError(f"spm vocabulary size {self.vocab_size} must be at least 2")


def _spm():
    try:
        import sentencepiece
    except ImportError:
        raise SpeechSSLError("sentencepiece is not installed; run: pip install sentencepiece==0.2.0 "
                             "(or bash tools/install.sh)") from None
    return sentencepiece


def train_spm(sentences: Iterable[str], model_path: str | Path, cfg: SpmConfig) -> Path:
    """Train a SentencePiece model on ``sentences`` and write it atomically to ``model_path``.

    Only ``<unk>`` is reserved (no ``<s>``/``</s>``/padding pieces); words
    of the training text never encode to it.
    """
    spm = _spm()
    spm.set_random_generator_seed(cfg.seed)
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=model, vocab_size=cfg.vocab_size,
            model_type=cfg.model_type, character_coverage=1.0, normalization_rule_name="identity",
            num_threads=1, input_sentence_size=0, shuffle_input_sentence=False, unk_id=0, bos_id=-1, eos_id=-1,
            pad_id=-1, minloglevel=2)
    except RuntimeError as e:
        raise SpeechSSLError(f"sentencepiece training failed: {e}; for a small text choose a smaller "
                             "--spm-vocab-size") from None
    with atomic_write(model_path, "wb") as f:
        f.write(model.getvalue())
    return Path(model_path)


def load_spm(model_path: str | Path):
    """A SentencePieceProcessor of ``model_path``."""
    if not Path(model_path).is_file():
        raise SpeechSSLError(f"{model_path}: no such SentencePiece model; prepare the text side with "
                             "--token-type spm first")
    return _spm().SentencePieceProcessor(model_file=str(model_path))


def encode_words(model_path: str | Path, words: Iterable[str]) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """Pieces of each word encoded alone; returns the lexicon and the words that hit ``<unk>``."""
    sp = load_spm(model_path)
    unk = sp.id_to_piece(sp.unk_id())
    lexicon: dict[str, tuple[str, ...]] = {}
    failed: list[str] = []
    for word in words:
        pieces = tuple(sp.encode(word, out_type=str))
        if not pieces or unk in pieces:
            failed.append(word)
        else:
            lexicon[word] = pieces
    return lexicon, failed

