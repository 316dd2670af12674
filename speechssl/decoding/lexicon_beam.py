"""Word decoding: a frame-synchronous beam search over a lexicon prefix tree, scored by a word n-gram LM.

Design (chosen instead of a k2/OpenFst HLG graph, so that decoding needs only
numpy and the ``kenlm`` module):

* The lexicon's pronunciations form a prefix tree (trie) over output tokens.
  Node 0, the root, is "between words".  A hypothesis is a word history, a
  trie node and its last token, with the same blank/non-blank path scores as
  the phone decoder (:mod:`speechssl.decoding.beam`).
* Each frame a hypothesis stays (blank or repeated last token) or moves to a
  child node by emitting that child's token.  Reaching a node where a word
  ends also creates a hypothesis back at the root with the word appended and
  scored by the word LM (``lm_weight * ln P(word | history) + word_bonus``);
  homophones give one hypothesis each.
* No-blank (GAN) outputs merge runs of a token, so repeated phones inside a
  pronunciation are merged, and a word may begin with the phone that ended
  the previous word in the same run of frames (``bus stop``: one ``s`` run).
* ``<SIL>`` is optional between words: at the root it is a self-loop
  (``sil_bonus`` added each time it is entered) and never part of a word.
* Inside a word the LM score is anticipated by "smearing": each node carries
  the best unigram log-probability of the words below it, replaced by the true
  n-gram score when the word ends, so partial words compete fairly in the beam.
* Hypotheses with the same words, node and last token are merged (max or
  log-add).  At the end only hypotheses at the root (complete words) count,
  plus ``lm_weight * ln P(</s>)``.

The child table is a dense ``nodes x V`` int32 array (about 4 bytes x V per
node: 60 MB for a 300k-node tree over 50 tokens).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from speechssl.decoding.beam import (BeamConfig, Hypothesis, combine, prune, search_frames,
                                     select_candidates)
from speechssl.decoding.greedy import SIL, OutputTokens
from speechssl.text.lm import LN10, begin_sentence, score_token
from speechssl.utils.errors import SpeechSSLError
from speechssl.utils.log import get_logger

log = get_logger(__name__)

ROOT = 0


@dataclass(frozen=True)
class LexiconConfig(BeamConfig):
    """Beam options plus the word insertion bonus and the bonus for entering ``<SIL>`` between words.

    ``insertion_bonus`` (per token) is not used here: words get ``word_bonus``.
    """

    word_bonus: float = 0.0
    sil_bonus: float = 0.0


@dataclass
class LexiconTrie:
    """Prefix tree of pronunciations: ``children[node, token]`` (-1 if none), words ending at each node."""

    children: np.ndarray
    words: list[list[str]]
    sil: int | None

    @property
    def has_children(self) -> np.ndarray:
        return (self.children >= 0).any(axis=1)


def build_trie(lexicon: Mapping[str, Sequence[str]], tokens: OutputTokens, sil: str = SIL,
               merge_repeats: bool | None = None) -> LexiconTrie:
    """Build the prefix tree; words using a token the model cannot emit (or ``<SIL>``) are dropped and counted.

    ``merge_repeats`` (default: when the model has no blank) merges repeated
    phones inside a pronunciation (``a l l`` -> ``a l``): no-blank outputs
    cannot show two equal tokens in a row.
    """
    if merge_repeats is None:
        merge_repeats = tokens.blank is None
    index = {s: v for v, s in enumerate(tokens.symbols) if tokens.emittable[v]}
    sil_id = index.get(sil)
    rows: list[dict[int, int]] = [{}]
    words: list[list[str]] = [[]]
    dropped = []
    for word, phones in lexicon.items():
        ids = [index.get(p) for p in phones]
        if not ids or None in ids or sil_id in ids:
            dropped.append(word)
            continue
        if merge_repeats:
            ids = [v for k, v in enumerate(ids) if k == 0 or v != ids[k - 1]]
        node = ROOT
        for v in ids:
            if v not in rows[node]:
                rows[node][v] = len(rows)
                rows.append({})
                words.append([])
            node = rows[node][v]
        words[node].append(word)
    if dropped:
        log.warning("%d of %d lexicon words use a token that is not an output token of the model (or %s) and "
                    "are not decodable, e.g. %s", len(dropped), len(lexicon), sil, " ".join(dropped[:5]))
    if len(rows) == 1:
        raise SpeechSSLError("no lexicon word can be spelled with the model's output tokens; check that the "
                             "lexicon and the token list use the same phone set")
    children = np.full((len(rows), tokens.size), -1, dtype=np.int32)
    for node, row in enumerate(rows):
        for v, child in row.items():
            children[node, v] = child
    if sil_id is not None:
        children[ROOT, sil_id] = ROOT
    return LexiconTrie(children, words, sil_id)


class WordLM:
    """Weighted word LM scores with a cache per (state, word), and smeared unigram scores per trie node."""

    def __init__(self, model, trie: LexiconTrie, lm_weight: float):
        self.model, self.lm_weight = model, lm_weight
        self._cache: dict = {}
        self.smear = np.zeros(len(trie.words))
        if model is None:
            return
        unknown = [w for ws in trie.words for w in ws if w not in model]
        if unknown:
            log.warning("%d lexicon words are not in the word LM and are scored as <unk>, e.g. %s", len(unknown),
                        " ".join(unknown[:5]))
        best = np.full(len(trie.words), -np.inf)
        for node, ws in enumerate(trie.words):
            for w in ws:
                best[node] = max(best[node], lm_weight * LN10 * model.score(w, bos=False, eos=False))
        parent = np.full(len(trie.words), -1)
        for node in range(len(trie.words)):
            kids = trie.children[node]
            parent[kids[(kids >= 0) & (kids != node)]] = node
        for node in range(len(trie.words) - 1, 0, -1):   # children are numbered after their parents
            best[parent[node]] = max(best[parent[node]], best[node])
        self.smear = np.where(np.isfinite(best), best, 0.0)
        self.smear[ROOT] = 0.0

    def start(self):
        return None if self.model is None else begin_sentence(self.model)

    def word(self, state, word: str):
        """``(lm_weight * ln P(word | state), next state)``."""
        if self.model is None:
            return 0.0, None
        key = (state, word)
        hit = self._cache.get(key)
        if hit is None:
            logp, out = score_token(self.model, state, word)
            hit = self._cache[key] = (self.lm_weight * logp, out)
        return hit

    def end_score(self, state) -> float:
        return 0.0 if state is None else self.word(state, "</s>")[0]

    def clear(self) -> None:
        self._cache.clear()


@dataclass
class _WordHyp:
    words: tuple
    node: int
    last: int
    b: float
    nb: float
    state: object


class LexiconDecoder:
    """Word decoder over a lexicon prefix tree; build once, call on batches.

    ``lm`` is a KenLM word model or None (lexicon-constrained search with
    ``word_bonus`` only).  The smeared unigram scores are computed here, once.
    """

    def __init__(self, tokens: OutputTokens, trie: LexiconTrie, lm=None, config: LexiconConfig = LexiconConfig()):
        config.check()
        self.tokens, self.trie, self.config = tokens, trie, config
        self.word_lm = WordLM(lm, trie, config.lm_weight)
        self.has_children = trie.has_children

    def _steps(self, flat) -> np.ndarray:
        smear = self.word_lm.smear
        nodes = np.array([h.node for h in flat])
        kids = self.trie.children[nodes]
        step = np.where(kids == ROOT, self.config.sil_bonus, smear[np.maximum(kids, 0)] - smear[nodes][:, None])
        return np.where(kids >= 0, step, -np.inf)

    def _shared(self, flat) -> np.ndarray:
        # no-blank outputs: a word may start with the phone that ended the previous word, in the same run of frames
        return np.array([self.tokens.blank is None and h.node == ROOT and h.last != self.trie.sil for h in flat])

    def _advance(self, hyps, extend, stay_b, stay_nb) -> list[_WordHyp]:
        config, trie, smear = self.config, self.trie, self.word_lm.smear
        stays, extensions = select_candidates(extend, combine(config.merge, stay_b, stay_nb), config.beam,
                                              config.beam_threshold)
        merged: dict[tuple, _WordHyp] = {}

        def add(words, node, last, b, nb, state):
            key = (words, node, last)
            old = merged.get(key)
            if old is None:
                merged[key] = _WordHyp(words, node, last, b, nb, state)
            else:
                old.b, old.nb = float(combine(config.merge, old.b, b)), float(combine(config.merge, old.nb, nb))

        for i in stays:
            h = hyps[i]
            add(h.words, h.node, h.last, float(stay_b[i]), float(stay_nb[i]), h.state)
        for i, v in extensions:
            h = hyps[i]
            child = int(trie.children[h.node, v])
            score = float(extend[i, v])
            if child == ROOT or self.has_children[child]:
                add(h.words, child, v, -np.inf, score, h.state)
            for w in trie.words[child]:
                lm_score, state = self.word_lm.word(h.state, w)
                add(h.words + (w,), ROOT, v, -np.inf, score - smear[child] + lm_score + config.word_bonus, state)
        return prune(merged, config.beam, config.merge)

    def __call__(self, logprobs: Sequence[np.ndarray]) -> list[Hypothesis]:
        """Decode a batch of normalised ``T_i x V`` matrices into word sequences (``Hypothesis.ids`` are words).

        An utterance where no hypothesis ends on a complete word returns the
        words of its best partial hypothesis (logged).
        """
        merge = self.config.merge
        hyps = [[_WordHyp((), ROOT, -1, 0.0, -np.inf, self.word_lm.start())] for _ in logprobs]
        hyps = search_frames(logprobs, hyps, self._steps, self._advance, self.tokens.blank, merge, self._shared)
        results = []
        for u, final in enumerate(hyps):
            complete = [h for h in final if h.node == ROOT]
            if not complete:
                complete = final
                log.warning("utterance %d of the batch: no hypothesis ends on a complete word; returning the best "
                            "partial one (try a larger beam)", u)
            score, best = max(((float(combine(merge, h.b, h.nb)) + self.word_lm.end_score(h.state), h)
                               for h in complete), key=lambda sh: sh[0])
            results.append(Hypothesis(best.words, score))
        self.word_lm.clear()
        return results
