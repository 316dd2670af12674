# Where the corpora live (one variable per corpus, like ESPnet's db.sh).
# UA-Speech: a directory holding UASpeech/{audio,doc}; the corpus is sent on request by its authors
# (University of Illinois) and cannot be downloaded: put it (or a link) there by hand.  Without it,
# stage 0 synthesizes the PIPELINE STAND-IN there (espeak-ng; it does not model dysarthria).
UASPEECH=${UASPEECH:-downloads}
