"""Dumping features of a data directory to Kaldi ark/scp (MFCC, fbank, SSL layers)."""
