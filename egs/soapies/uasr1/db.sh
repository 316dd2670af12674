# Where the corpora live (one variable per corpus, like ESPnet's db.sh).
# Soapies: the directory holding balanced_<pair>.xml, balanced_<pair>/audio/ and splits/ (fetched by hand
# from SADiLaR, see README.md); stage 0 synthesizes the stand-in there when no corpus is found.
SOAPIES=${SOAPIES:-downloads/soapies}
