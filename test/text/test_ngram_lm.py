"""KenLM n-grams: lmplz/build_binary, loading with a vocabulary check, perplexity."""
from __future__ import annotations

import math

import numpy as np
import pytest

from speechssl.text import lm as lm_mod
from speechssl.text.lm import (build_arpa, check_lm_vocabulary, find_kenlm_program, lm_perplexity, load_lm,
                               read_arpa_vocabulary, train_ngram)
from speechssl.utils.errors import SpeechSSLError

ARPA = """\\data\\
ngram 1=5
ngram 2=3

\\1-grams:
-1.0\t<unk>\t0
-99\t<s>\t-0.3
-0.6\t</s>\t0
-0.5\ta\t-0.2
-0.7\tb\t-0.2

\\2-grams:
-0.2\t<s> a
-0.3\ta b
-0.1\tb </s>

\\end\\
"""


def have_lmplz() -> bool:
    try:
        find_kenlm_program("lmplz")
        find_kenlm_program("build_binary")
        return True
    except SpeechSSLError:
        return False


needs_lmplz = pytest.mark.skipif(not have_lmplz(), reason="KenLM lmplz not built: run bash tools/install_kenlm.sh")


def grammar_sentences(n: int, seed: int) -> list[str]:
    """Phone-like sentences from a tiny deterministic grammar of 'words'."""
    words = ["k æ t", "ð ə", "s æ t", "m æ t", "ɔ n", "d ɑː ɡ"]
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        seq = ["<SIL>"]
        for i in rng.integers(0, len(words), size=rng.integers(3, 7)):
            seq.append(words[i])
            if rng.random() < 0.3:
                seq.append("<SIL>")
        out.append(" ".join(seq + ["<SIL>"]).replace("<SIL> <SIL>", "<SIL>"))
    return out


def test_arpa_vocabulary_and_perplexity(tmp_path):
    path = tmp_path / "toy.arpa"
    path.write_text(ARPA)
    assert read_arpa_vocabulary(path) == {"<unk>", "<s>", "</s>", "a", "b"}
    model = load_lm(path, tokens=["a", "b"])
    expected = 10 ** (-model.score("a b", bos=True, eos=True) / 3)
    assert lm_perplexity(model, ["a b"]) == pytest.approx(expected)
    assert math.isfinite(expected)
    with pytest.raises(SpeechSSLError, match=r"1 token\(s\) unknown to the LM: c"):
        load_lm(path, tokens=["a", "b", "c"])
    with pytest.raises(SpeechSSLError, match=r"1 LM word\(s\) not in the token list: b"):
        load_lm(path, tokens=["a"])
    check_lm_vocabulary(model, ["a", "b", "c"], "toy", path, exact=False)   # subset check: fine
    with pytest.raises(SpeechSSLError, match="no sentences"):
        lm_perplexity(model, [])


def test_missing_kenlm_program_says_how_to_build(tmp_path, monkeypatch):
    monkeypatch.setattr(lm_mod, "REPO_KENLM_BIN", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SpeechSSLError, match=r"'lmplz' not found.*bash tools/install_kenlm.sh"):
        find_kenlm_program("lmplz")


def test_load_errors(tmp_path):
    with pytest.raises(SpeechSSLError, match="language model not found"):
        load_lm(tmp_path / "none.bin")
    (tmp_path / "junk.arpa").write_text("not an arpa file\n")
    with pytest.raises(SpeechSSLError, match="kenlm cannot load"):
        load_lm(tmp_path / "junk.arpa")


@needs_lmplz
def test_lmplz_model_scores_in_domain_text_better(tmp_path):
    train = tmp_path / "train.txt"
    train.write_text("\n".join(grammar_sentences(300, seed=0)) + "\n")
    arpa, binary = train_ngram(train, tmp_path / "lm.phones.4", 4)
    assert arpa.read_text().startswith("\\data\\") and binary.stat().st_size > 0
    tokens = {t for line in train.read_text().split("\n") for t in line.split()}
    model = load_lm(binary, tokens)
    assert model.order == 4
    held_out = grammar_sentences(50, seed=1)
    rng = np.random.default_rng(2)
    scrambled = [" ".join(rng.permutation(s.split())) for s in held_out]
    ppl_in, ppl_scrambled = lm_perplexity(model, held_out), lm_perplexity(model, scrambled)
    assert math.isfinite(ppl_in) and 1.0 < ppl_in < ppl_scrambled / 2, (ppl_in, ppl_scrambled)


@needs_lmplz
def test_lmplz_prune_and_errors(tmp_path):
    train = tmp_path / "words.txt"
    train.write_text("the cat sat\nthe dog sat\nthe cat ran\n" * 5)
    arpa = build_arpa(train, tmp_path / "w.arpa", 3, prune=(0, 0, 2))
    assert {"the", "cat", "dog", "sat", "ran"} <= read_arpa_vocabulary(arpa)
    with pytest.raises(SpeechSSLError, match="unigrams cannot be pruned"):
        build_arpa(train, tmp_path / "x.arpa", 3, prune=(1, 1, 1))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(SpeechSSLError, match="missing or empty"):
        build_arpa(tmp_path / "empty.txt", tmp_path / "e.arpa", 3)
