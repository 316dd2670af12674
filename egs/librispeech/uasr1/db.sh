# Where the corpora live (one variable per corpus, like ESPnet's db.sh).
# LibriSpeech: a directory holding LibriSpeech/<subset>/ as distributed by
# OpenSLR 12 (https://www.openslr.org/12); stage 0 downloads the subsets there
# when --download true is given.
LIBRISPEECH=${LIBRISPEECH:-downloads}
