"""Synthesized stand-in for (Mini) LibriSpeech: espeak-ng speakers in LibriSpeech's exact layout.

Layout (``<root>/LibriSpeech``), as in the real corpus::

    SPEAKERS.TXT  CHAPTERS.TXT
    <subset>/<spk>/<chapter>/<spk>-<chapter>-<utt:04d>.flac     16 kHz mono 16-bit FLAC
    <subset>/<spk>/<chapter>/<spk>-<chapter>.trans.txt          "<utt-id> TRANSCRIPT" (upper case)

and our own files next to it::

    VOICES.TXT             accent, variant, pitch and rate of each speaker
    unpaired_text.txt      sentences nobody speaks (one per line, normalised like the transcripts): the UASR text
    standin_manifest.json  done-marker: the configuration and a summary (hours, pause rates, voices)
    <subset>/<spk>/<chapter>/<spk>-<chapter>.phones.txt      "<utt-id> p p | p p ...": the IPA phones espeak-ng
                           spoke, in the speaker's accent, words separated by "|" (no silence tokens)
    <subset>/<spk>/<chapter>/<spk>-<chapter>.pauses.txt      "<utt-id> n k1 .. kn": n pauses of at least
                           min_pause_ms, the i-th after word ki (1-based); "<utt-id> 0" when there are none
    <subset>/<spk>/<chapter>/<spk>-<chapter>.alignment.ctm   "<utt-id> start dur phone" (seconds, exact to
                           the sample; phone "SIL" for silence): tiles each file from 0 to its end; its
                           phones other than SIL are those of *.phones.txt, in order.  A phone that
                           espeak-ng says inside the one before it (mostly a post-vocalic l, 0.3% of
                           phones) has dur 0: drop such lines when scoring boundaries

The reference phones are the phones espeak-ng reports as it speaks (the same
as its own phonemization of the sentence in the speaker's accent, checked on
12,676 phones); about 90% of words get the phones they have when said on
their own (the rest are reductions in context, e.g. "the" before a vowel).
Phone boundaries come from the same events (the sample at which each phone
starts), so they are exact for the synthesized audio: the silences in the
alignment coincide with the digitally silent stretches of espeak-ng's output
to the sample (checked on espeak-ng 1.51 before the noise is added).
Pauses are where espeak-ng put silence between words (at punctuation, and
short ones elsewhere); the corpus summary gives their rate per word boundary.
"""
from speechssl.corpora.standin.config import StandinConfig, SubsetSpec, load_standin_config, standin_config_from_dict
from speechssl.corpora.standin.synthesize import MANIFEST, UNPAIRED_TEXT, load_standin_summary, synthesize_standin
from speechssl.corpora.standin.tables import read_voices

__all__ = ["MANIFEST", "UNPAIRED_TEXT", "StandinConfig", "SubsetSpec", "load_standin_config", "load_standin_summary",
           "read_voices", "standin_config_from_dict", "synthesize_standin"]
