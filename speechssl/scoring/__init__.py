"""Error-rate scoring (PER/WER): alignments, per-speaker and corpus counts, sclite-compatible outputs."""
from speechssl.scoring.align import Alignment, ErrorCounts, align
from speechssl.scoring.sclite import (CorpusScore, compare_with_sclite, read_text_tokens, run_sclite, score_corpus,
                                      write_score_dir)

__all__ = ["Alignment", "ErrorCounts", "align", "CorpusScore", "compare_with_sclite", "read_text_tokens",
           "run_sclite", "score_corpus", "write_score_dir"]
