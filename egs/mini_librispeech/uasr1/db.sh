# Where the corpora live (one variable per corpus, like ESPnet's db.sh).
# Mini LibriSpeech: a directory holding LibriSpeech/{train-clean-5,dev-clean-2};
# stage 0 downloads it there, or synthesizes the stand-in when there is no network.
MINI_LIBRISPEECH=${MINI_LIBRISPEECH:-downloads}
