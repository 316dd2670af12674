"""Synthesized stand-in for FLEURS: espeak-ng voices reading real text of each language,
in FLEURS's own layout (see :mod:`speechssl.corpora.fleurs`)::

    <root>/data/<lang>/{train,dev,test}.tsv            the seven FLEURS columns, no header
    <root>/data/<lang>/audio/{train,dev,test}.tar.gz   members <split>/<file_name> (16 kHz WAV);
                                                       or audio/<split>/ extracted (archive: false)

and our own files beside them::

    <root>/data/<lang>/<split>.phones.txt   "<file_name> p p | p p ...": the IPA phones espeak-ng spoke
                                            (words separated by "|", no silence), read by prepare_fleurs
                                            as utt2phones
    <root>/data/<lang>/unpaired_text.txt    sentences nobody reads: the UASR text side
    <root>/standin_manifest.json            done-marker: the configuration and a summary

Text: Debian fortune packages in the language (:mod:`.text`); espeak-ng's
events give the reference phones, as for the LibriSpeech stand-in.  It is
synthetic speech in FLEURS's layout, not FLEURS: results on it show what the
pipeline does, not how a method performs on real speech.
"""
from speechssl.corpora.standin.fleurs.config import FleursStandinConfig, load_fleurs_standin_config
from speechssl.corpora.standin.fleurs.synthesize import (MANIFEST, UNPAIRED_TEXT, load_standin_summary,
                                                         synthesize_fleurs_standin)

__all__ = ["MANIFEST", "UNPAIRED_TEXT", "FleursStandinConfig", "load_fleurs_standin_config", "load_standin_summary",
           "synthesize_fleurs_standin"]
