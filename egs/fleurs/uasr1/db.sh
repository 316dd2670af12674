# Where the corpora live (one variable per corpus, like ESPnet's db.sh).
# FLEURS: a directory holding data/<lang>/{train,dev,test}.tsv and data/<lang>/audio/{train,dev,test}.tar.gz,
# as in the google/fleurs dataset repository (fetch the languages you need by hand). Without it, stage 0
# synthesizes the stand-in there.
FLEURS=${FLEURS:-downloads/fleurs}
