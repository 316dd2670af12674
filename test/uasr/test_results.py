"""RESULTS.md is assembled from what the stages wrote, never typed in."""
from __future__ import annotations

import json

from speechssl.uasr.results import stage_times, write_results


def test_stage_times_keep_the_latest_timing_of_each_stage(tmp_path):
    tsv = tmp_path / "stage_times.tsv"
    tsv.write_text("0-1\t100\tdata\n2\t130\tvad\ndone\t150\tstages 0 to 2\n"
                   "2\t200\tvad again\ndone\t205\tstages 2 to 2\n")
    assert stage_times(tsv) == [("0-1", "data", 30.0), ("2", "vad again", 5.0)]


def test_results_file_from_exp(tmp_path):
    gan = tmp_path / "exp" / "gan"
    (gan / "decode_dev_greedy" / "scoring").mkdir(parents=True)
    (gan / "decode_dev_greedy" / "scoring" / "scores.json").write_text(json.dumps(
        {"metric": "PER", "total": {"error_rate": 42.5, "ref_tokens": 200, "sub": 50, "del": 20, "ins": 15}}))
    (gan / "runs.md").write_text("| run |\n|---|\n| seed1 (selected) |\n")
    (gan / "selected.json").write_text(json.dumps({"selected": {"run": "seed1", "best_update": 7,
                                                                "dir": str(gan / "seed1")}}))
    (tmp_path / "exp" / "stage_times.tsv").write_text("6\t0\tgan\ndone\t60\t./run.sh --stage 6\n")
    out = write_results(tmp_path, title="Demo", sets=["dev"], gan_dir="exp/gan",
                        notes=["A stand-in."])
    text = out.read_text()
    assert text.startswith("# Demo\n") and "A stand-in." in text and "`./run.sh --stage 6`" in text
    assert "| 6 | gan | 60 |" in text and "**seed1** (update 7)" in text
    assert "| dev | greedy | PER | 42.50 | 200 | 50 | 20 | 15 |" in text
