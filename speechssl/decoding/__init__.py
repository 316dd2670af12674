"""Decoding of per-utterance token log-probabilities: greedy, phone-LM beam search, lexicon/word-LM beam search."""
from speechssl.decoding.beam import BeamConfig, Hypothesis, beam_search
from speechssl.decoding.greedy import OutputTokens, collapse, greedy_decode, normalize_logprobs, unpad
from speechssl.decoding.lexicon_beam import LexiconConfig, LexiconDecoder, LexiconTrie, build_trie

__all__ = ["BeamConfig", "Hypothesis", "beam_search", "OutputTokens", "collapse", "greedy_decode",
           "normalize_logprobs", "unpad", "LexiconConfig", "LexiconDecoder", "LexiconTrie", "build_trie"]
