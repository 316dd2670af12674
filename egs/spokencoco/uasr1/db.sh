# Where the corpora live (one variable per corpus, like ESPnet's db.sh).
# SpokenCOCO: a directory holding SpokenCOCO/ as unpacked from SpokenCOCO.tar.gz
# (SpokenCOCO_train.json, SpokenCOCO_val.json, wavs/); fetch it by hand (see README.md).
# Without it, stage 0 synthesizes the stand-in there.
SPOKENCOCO=${SPOKENCOCO:-downloads}
