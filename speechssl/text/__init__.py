"""Text side: sentence sources, normalisation, lexicons, phonemes, silence, token lists and n-gram LMs."""
