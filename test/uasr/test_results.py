"""RESULTS.md is assembled from what the stages wrote, never typed in."""
from __future__ import annotations

import json

from speechssl.uasr.results import main_run, run_times, write_results


def test_run_times_split_the_runs_and_time_each_stage(tmp_path):
    tsv = tmp_path / "stage_times.tsv"
    tsv.write_text("0-1\t100\tdata\n2\t130\tvad\ndone\t150\t./run.sh\n"
                   "2\t200\tvad again\ndone\t205\t./run.sh --stage 2 --stop_stage 2\n"
                   "5\t300\ttransform v1\n6\t310\tgan v1\n")
    runs = run_times(tsv, current="./run.sh --stage 5 --uasr v1")
    assert runs == [("./run.sh", [("0-1", "data", 30.0), ("2", "vad", 20.0)]),
                    ("./run.sh --stage 2 --stop_stage 2", [("2", "vad again", 5.0)]),
                    ("./run.sh --stage 5 --uasr v1", [("5", "transform v1", 10.0)])]   # stage 6 still running
    assert main_run(runs)[0] == "./run.sh"        # the latest run from the corpus, not the latest run
    assert main_run(runs[1:])[0] == "./run.sh --stage 5 --uasr v1"
    assert run_times(tmp_path / "missing.tsv") == [] and main_run([]) is None
    # start lines: a run killed in stage 8 stays apart from the next run; its last stage has no end, no time
    tsv.write_text("start\t100\t./run.sh\n0-1\t100\tdata\ndone\t130\t./run.sh\n"
                   "start\t200\t./run.sh --stage 5 --uasr v1\n5\t200\ttransform v1\n6\t220\tgan v1\n"
                   "8\t500\tself-training v1\n"
                   "start\t600\t./run.sh --stage 8\n8\t600\tself-training\ndone\t700\t./run.sh --stage 8\n"
                   "start\t800\t./run.sh --stage 11\n11\t800\tresults\n")
    assert run_times(tsv, current="./run.sh --stage 11") == [
        ("./run.sh", [("0-1", "data", 30.0)]),
        ("./run.sh --stage 5 --uasr v1 (stopped in stage 8)", [("5", "transform v1", 20.0), ("6", "gan v1", 280.0)]),
        ("./run.sh --stage 8", [("8", "self-training", 100.0)]),
        ("./run.sh --stage 11", [])]


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
    assert "Run: `./run.sh --stage 6`" in text and "| 6 | gan | 60 |" in text and "**seed1** (update 7)" in text
    assert "| dev | greedy | PER | 42.50 | 200 | 50 | 20 | 15 |" in text


def _scores(decode_dir, rate):
    (decode_dir / "scoring").mkdir(parents=True)
    (decode_dir / "scoring" / "scores.json").write_text(json.dumps(
        {"metric": "PER", "total": {"error_rate": rate, "ref_tokens": 100, "sub": 1, "del": 1, "ins": 1}}))


def _rounds(path, rounds):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{"round": r, "per": per} for r, per in rounds]))


def test_every_pipeline_gets_a_row_with_its_twins_and_targets(tmp_path):
    exp = tmp_path / "exp"
    for name, greedy, lm, st, gen in (("mfcc_v2", 90.0, 80.0, 70.0, 15.0), ("mfcc_v1", 25.0, 20.0, 8.0, 14.0)):
        gan = exp / f"uasr_{name}"
        for x, shift in (("dev", 0.0), ("test", 1.0)):
            _scores(gan / f"decode_{x}_greedy", greedy + shift)
            _scores(gan / f"decode_{x}_phn6", lm + shift)
        (gan / "selected.json").write_text(json.dumps({"selected": {"run": "seed2", "best_update": 400},
                                                       "selection_gap": {"gap_points": greedy / 10}}))
        _rounds(gan / "self_training" / "rounds.json",
                [("0-gan", {"dev": lm, "test": lm + 1}), ("1-ctc", {"dev": st, "test": st + 1})])
        _rounds(exp / f"supervised_{name}" / "rounds.json",
                [("supervised-ctc", {"dev": 5.0, "test": 4.0}), ("supervised-generator", {"dev": gen, "test": gen})])
    (exp / "uasr_ssl_v2").mkdir()  # no selected run yet: no row
    out = write_results(tmp_path, title="Demo", sets=["dev", "test"], gan_dir="exp/uasr_mfcc_v2")
    text = out.read_text()
    assert "## Every pipeline run in this directory" in text and "ssl_v2" not in text
    assert ("| mfcc_v1 | seed2 @ 400 | 25.0 / 26.0 | 20.0 / 21.0 | 8.0 / 9.0 | 5.0 / 4.0 | 14.0 / 14.0 | yes | yes | 2.5 |"
            in text)
    assert ("| mfcc_v2 | seed2 @ 400 | 90.0 / 91.0 | 80.0 / 81.0 | 70.0 / 71.0 | 5.0 / 4.0 | 15.0 / 15.0 | no | no | 9.0 |"
            in text)
