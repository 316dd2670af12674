"""N-gram language models: estimated by KenLM ``lmplz``, stored as ARPA and KenLM binary.

The programs are looked up in the repository's ``tools/kenlm/bin`` first
(built by ``bash tools/install_kenlm.sh``), then on ``PATH``.  Models are
loaded with the ``kenlm`` Python module, optionally checking their vocabulary
against a token list, so a phone LM built from another token set is caught
before it silently scores everything as ``<unk>``.
"""
from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

from speechssl.utils.atomic import atomic_write
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

#: KenLM scores are log10 probabilities; decoders work in natural logs.
LN10 = math.log(10.0)

log = get_logger(__name__)

REPO_KENLM_BIN = Path(__file__).resolve().parents[2] / "tools" / "kenlm" / "bin"
LM_SPECIAL_TOKENS = ("<s>", "</s>", "<unk>")


def find_kenlm_program(name: str) -> Path:
    """Path of a KenLM program (``lmplz``, ``build_binary``)."""
    local = REPO_KENLM_BIN / name
    if local.is_file() and os.access(local, os.X_OK):
        return local
    found = shutil.which(name)
    if found:
        return Path(found)
    raise SpeechSSLError(f"KenLM program {name!r} not found in {REPO_KENLM_BIN} or on PATH; build it with "
                         "`bash tools/install_kenlm.sh` (from the repository root)")


def _run(cmd: list[str], stdin_path: Path | None, stdout_path: Path | None, what: str) -> None:
    log.info("running: %s%s%s", " ".join(cmd), f" < {stdin_path}" if stdin_path else "",
             f" > {stdout_path}" if stdout_path else "")
    with open(stdin_path, "rb") if stdin_path else open(os.devnull, "rb") as fin, \
            atomic_write(stdout_path, "wb") if stdout_path else open(os.devnull, "wb") as fout:
        proc = subprocess.run(cmd, stdin=fin, stdout=fout, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            tail = "\n".join(proc.stderr.decode("utf-8", "replace").strip().splitlines()[-8:])
            raise SpeechSSLError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")


def build_arpa(text_path: str | Path, arpa_path: str | Path, order: int, discount_fallback: bool = True,
               prune: Sequence[int] = (), memory: str = "10%") -> Path:
    """Estimate an ``order``-gram modified Kneser-Ney LM on ``text_path`` with ``lmplz``.

    ``prune`` gives the minimum count per order (KenLM ``--prune``, e.g.
    ``(0, 0, 0, 3)``; unigrams cannot be pruned).  ``discount_fallback`` lets
    lmplz estimate on small data where the count-of-counts are degenerate.
    """
    text_path, arpa_path = Path(text_path), Path(arpa_path)
    if order < 1:
        raise SpeechSSLError(f"n-gram order {order} must be at least 1")
    if prune and (len(prune) > order or prune[0] != 0 or any(b < a for a, b in zip(prune, prune[1:]))):
        raise SpeechSSLError(f"LM prune thresholds {list(prune)}: at most {order} values, starting with 0 "
                             "(unigrams cannot be pruned), non-decreasing")
    if not text_path.is_file() or text_path.stat().st_size == 0:
        raise SpeechSSLError(f"{text_path}: LM training text is missing or empty")
    cmd = [str(find_kenlm_program("lmplz")), "-o", str(order), "-S", memory]
    if discount_fallback:
        cmd.append("--discount_fallback")
    if prune:
        cmd += ["--prune", *map(str, prune)]
    with tempfile.TemporaryDirectory(prefix=".lmplz-", dir=arpa_path.parent) as tmp:
        _run(cmd + ["-T", tmp], text_path, arpa_path, f"lmplz ({order}-gram on {text_path})")
    return arpa_path


def arpa_to_binary(arpa_path: str | Path, bin_path: str | Path) -> Path:
    """Convert an ARPA file to KenLM's binary format with ``build_binary``."""
    arpa_path, bin_path = Path(arpa_path), Path(bin_path)
    fd, tmp = tempfile.mkstemp(prefix=f".{bin_path.name}.", suffix=".tmp", dir=bin_path.parent)
    os.close(fd)
    try:
        _run([str(find_kenlm_program("build_binary")), str(arpa_path), tmp], None, None,
             f"build_binary ({arpa_path})")
        os.replace(tmp, bin_path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return bin_path


def train_ngram(text_path: str | Path, prefix: str | Path, order: int, **kwargs) -> tuple[Path, Path]:
    """Build ``<prefix>.arpa`` and ``<prefix>.bin``; ``kwargs`` go to :func:`build_arpa`."""
    prefix = Path(prefix)
    arpa = build_arpa(text_path, prefix.with_name(prefix.name + ".arpa"), order, **kwargs)
    return arpa, arpa_to_binary(arpa, prefix.with_name(prefix.name + ".bin"))


def read_arpa_vocabulary(arpa_path: str | Path) -> set[str]:
    """The words of an ARPA file's unigram section (including ``<s> </s> <unk>``)."""
    vocab: set[str] = set()
    in_unigrams = False
    with open(arpa_path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line == "\\1-grams:":
                in_unigrams = True
            elif in_unigrams and (line.startswith("\\") and line.endswith(":") or line == "\\end\\"):
                break
            elif in_unigrams and line:
                fields = line.split("\t")
                if len(fields) < 2:
                    raise SpeechSSLError(f"{arpa_path}: malformed unigram line {line!r}")
                vocab.add(fields[1])
    if not vocab:
        raise SpeechSSLError(f"{arpa_path}: no \\1-grams: section; not an ARPA file")
    return vocab


def check_lm_vocabulary(model, tokens: Iterable[str], where: str, arpa_path: str | Path | None = None,
                        exact: bool = True) -> None:
    """Check an LM against a token list.

    Every token must be known to the LM when ``exact``; with an ARPA file every
    LM word (specials aside) must also be a token.  ``exact=False`` checks only
    the second direction (an LM trained on a subset, e.g. a word LM against the lexicon).
    """
    tokens = set(tokens)
    problems = []
    if exact:
        missing = sorted(t for t in tokens if t not in model)
        if missing:
            problems.append(f"{len(missing)} token(s) unknown to the LM: {' '.join(missing[:20])}")
    if arpa_path is not None:
        extra = sorted(read_arpa_vocabulary(arpa_path) - tokens - set(LM_SPECIAL_TOKENS))
        if extra:
            problems.append(f"{len(extra)} LM word(s) not in the token list: {' '.join(extra[:20])}")
    if problems:
        raise SpeechSSLError(f"{where}: the LM vocabulary does not match the token list ({'; '.join(problems)}); "
                             "rebuild the LM from text written with this token list (prepare_text --redo true)")


def load_lm(path: str | Path, tokens: Iterable[str] | None = None, exact: bool = True):
    """Load a KenLM model (ARPA or binary); check its vocabulary against ``tokens`` if given.

    For a binary ``X.bin`` the sibling ``X.arpa``, when present, is read for the
    reverse check (LM words that are not tokens).
    """
    import kenlm

    path = Path(path)
    if not path.is_file():
        raise SpeechSSLError(f"{path}: language model not found; build it with speechssl.bin.prepare_text")
    try:
        model = kenlm.Model(str(path))
    except (OSError, RuntimeError) as e:
        raise SpeechSSLError(f"{path}: kenlm cannot load this language model ({e})") from None
    if tokens is not None:
        arpa = path if path.suffix == ".arpa" else path.with_suffix(".arpa")
        check_lm_vocabulary(model, tokens, str(path), arpa if arpa.is_file() else None, exact)
    return model


def begin_sentence(model):
    """The KenLM state after ``<s>``, from which a sentence is scored token by token."""
    import kenlm

    state = kenlm.State()
    model.BeginSentenceWrite(state)
    return state


def score_token(model, state, token: str) -> tuple[float, Any]:
    """Natural-log probability of ``token`` after ``state``, and the state that follows it."""
    import kenlm

    out = kenlm.State()
    return LN10 * model.BaseScore(state, token, out), out


def lm_perplexity(model, sentences: Iterable[str]) -> float:
    """Perplexity of ``model`` on ``sentences`` (each scored with ``<s>`` and ``</s>``).

    The exponent is normalised by the number of tokens plus one end-of-sentence
    per sentence, as KenLM's ``query`` does.
    """
    log10_total, n = 0.0, 0
    for sentence in sentences:
        log10_total += model.score(sentence, bos=True, eos=True)
        n += len(sentence.split()) + 1
    if n == 0:
        raise SpeechSSLError("lm_perplexity: no sentences to score")
    return math.pow(10.0, -log10_total / n)
