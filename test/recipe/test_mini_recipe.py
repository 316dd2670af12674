"""End to end: egs/mini_librispeech/uasr1/run.sh on the tiny stand-in corpus.

The recipe runs in a scratch directory laid out like a recipe (the real
run.sh, local/, utils/ and conf/, with tiny sizes swapped in), through every
stage; then a rerun must skip finished work and a changed configuration must
be refused.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import kaldiio
import pytest
import yaml

from speechssl.data.scp import read_dict
from speechssl.data.validate import validate_data_dir

SETS = ("train_clean_5", "dev_clean_2", "test_clean_2")


@pytest.fixture(scope="module")
def recipe(tmp_path_factory, repo_root):
    src = repo_root / "egs" / "mini_librispeech" / "uasr1"
    d = tmp_path_factory.mktemp("egs") / "mini_librispeech" / "uasr1"
    d.mkdir(parents=True)
    for name in ("run.sh", "path.sh", "local", "utils"):
        (d / name).symlink_to((src / name).resolve())
    for name in ("cmd.sh", "db.sh"):
        shutil.copy(src / name, d / name)
    shutil.copytree(src / "conf", d / "conf")
    tiny = repo_root / "egs" / "TEMPLATE" / "conf"
    shutil.copy(tiny / "standin_tiny.yaml", d / "conf" / "standin.yaml")
    shutil.copy(tiny / "uasr_tiny.yaml", d / "conf" / "uasr_v2.yaml")
    shutil.copy(tiny / "ctc_tiny.yaml", d / "conf" / "ctc.yaml")
    with open(d / "conf" / "ctc.yaml", "a") as f:  # masking as conf/ctc.yaml has it, smaller
        f.write("augment: {time_masks: 1, time_width: 5, freq_masks: 1, freq_width: 3}\n")
    shutil.copy(tiny / "decipher_tiny.yaml", d / "conf" / "decipher.yaml")
    # exercise the generic paths real corpora take: references written from the transcripts through the
    # text-side lexicon (the stand-in's spoken phones are not used), and error rates per speaker
    with open(d / "conf" / "run.conf", "a") as f:
        f.write("ref_table=utt2ref\nscore_groups=utt2spk\n")
        f.write("st_rounds=2\n")  # two self-training rounds test what three would, in less time
    return d


def run(recipe: Path, env, *args, check=True):
    r = subprocess.run(["./run.sh", *args], cwd=recipe, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"run.sh {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return r


@pytest.fixture(scope="module")
def finished(recipe, recipe_env):
    return run(recipe, recipe_env)


def test_every_stage_produced_valid_outputs(recipe, finished):
    out = finished.stdout
    for stage in ("0-1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"):
        assert f"Stage {stage}:" in out
    assert "--source auto: " in (recipe / "exp/get_corpus/log/get_corpus.log").read_text()
    for x in SETS:
        report = validate_data_dir(recipe / "data" / x, expected_sample_rate=16000)
        assert report.ok, report.summary()
        assert (recipe / "data" / f"{x}_vad" / "segments").is_file()
        feats = dict(kaldiio.load_scp(str(recipe / "dump" / "mfcc_v2" / x / "feats.scp")))
        frames = read_dict(recipe / "dump" / "mfcc_v2" / x / "utt2num_frames")
        assert set(feats) == set(frames) == set(read_dict(recipe / "data" / x / "utt2spk"))
        assert all(m.shape == (int(frames[u]), 39) for u, m in feats.items())
    text = recipe / "data" / "text"
    for name in ("phones_sil.txt", "dict.phn.txt", "lexicon_filtered.lst", "lm.phones.4.bin", "lm.phones.6.bin",
                 "lm.words.4.bin"):
        assert (text / name).stat().st_size > 0, name
    gan = recipe / "exp" / "uasr_mfcc_v2"
    assert {"seed1", "seed2"} <= {p.name for p in gan.iterdir()}
    selected = json.loads((gan / "selected.json").read_text())["selected"]
    assert (recipe / selected["checkpoint"]).is_file()  # relative to the recipe, like every exp path
    for x in ("dev_clean_2", "test_clean_2"):
        for decoder, metric in (("greedy", "PER"), ("phn6", "PER"), ("word4", "WER")):
            scores = json.loads((gan / f"decode_{x}_{decoder}" / "scoring" / "scores.json").read_text())
            assert scores["metric"] == metric and scores["total"]["ref_tokens"] > 0
            assert scores["total"]["error_rate"] >= 0
            speakers = set(read_dict(recipe / "data" / x / "utt2spk").values())
            assert set(scores["breakdowns"]["spk"]) == speakers
            assert sum(v["ref_tokens"] for v in scores["breakdowns"]["spk"].values()) == scores["total"]["ref_tokens"]
        ref = read_dict(recipe / "data" / x / "utt2ref")
        assert set(ref) == set(read_dict(recipe / "data" / x / "text")) and all(ref.values())
    assert (gan / "seed1" / "curves.png").stat().st_size > 0
    rounds = json.loads((gan / "self_training" / "rounds.json").read_text())
    assert [r["round"] for r in rounds] == ["0-gan", "1-ctc"]                    # gan_st_rounds=1 (conf/run.conf)
    # nj=2: the GAN's round trained beside the decipherment's first, its output in a log of its own
    assert "self-training from the GAN runs in the background" in out
    assert "pseudo-labelled utterances in exp/uasr_mfcc_v2/self_training/round1/train_clean_5" in \
        (gan / "self_training" / "log" / "self_train.log").read_text()
    rounds = json.loads((recipe / "exp" / "decipher_mfcc" / "self_training" / "rounds.json").read_text())
    assert [r["round"] for r in rounds] == ["0-decipher", "1-ctc", "2-ctc"]     # st_rounds=2 above
    assert rounds[0]["decoder"].endswith(", the 2 most likely of 3 runs joined, "         # decipher_tiny.yaml
                                         "phone biases matched to the text on train_clean_5)")
    assert (recipe / "exp/decipher_mfcc/self_training/round0/token_bias.txt").is_file()   # decipher_tiny.yaml
    assert "matched to round1/dev_clean_2" in rounds[2]["decoder"]    # the insertion bonus picked without labels
    assert rounds[2]["decoder"].endswith("phone biases matched to the text on train_clean_5)")   # and the biases
    assert all(0 <= r["per"][x] for r in rounds for x in ("dev_clean_2", "test_clean_2"))
    twins = json.loads((recipe / "exp" / "supervised_mfcc_v2" / "rounds.json").read_text())
    assert [r["round"] for r in twins] == ["supervised-ctc", "supervised-generator"]
    # self-training trains on masked inputs, the twins (gold labels) without them
    def augment(exp):
        return yaml.safe_load((recipe / exp / "config.yaml").read_text())["augment"]
    assert augment("exp/decipher_mfcc/self_training/ctc_round2")["time_masks"] == 1
    for twin in ("ctc", "generator"):
        assert augment(f"exp/supervised_mfcc_v2/{twin}") == {"time_masks": 0, "time_width": 5, "freq_masks": 0,
                                                             "freq_width": 3}
    results = (recipe / "RESULTS.md").read_text()
    for heading in ("## Time per stage", "## GAN seed sweep", "## GAN (selected seed): error rates",
                    "## GAN (selected seed): error rates by group", "## Self-training", "## Supervised twins",
                    "## Self-training from decipherment", "## Unsupervised methods side by side",
                    "## Decipherment runs joined in round 0"):
        assert heading in results, heading
    assert "| dev_clean_2 | phn6 | PER |" in results and "| test_clean_2 | word4 | WER |" in results
    assert (recipe / "RESULTS.curves.png").stat().st_size > 0
    # stage 10: the packed GAN reproduces stage 7 from raw audio, the packed last self-training round from
    # decipherment its labels of stage 8
    assert json.loads((gan / "packed" / "manifest.json").read_text())
    assert f"{gan.relative_to(recipe)}/packed on raw audio of test_clean_2, words: 4 of 4 utterances as in the " \
           "stage outputs" in out
    dec = Path("exp/decipher_mfcc/self_training")
    assert json.loads((recipe / dec / "packed" / "manifest.json").read_text())["sources"]["kind"] == "ctc"
    assert (recipe / dec / "packed" / "token_bias.txt").read_text() == \
        (recipe / dec / "round2" / "token_bias.txt").read_text()
    assert f"{dec}/packed on raw audio of test_clean_2, phones_lm: 4 of 4 utterances as in the stage outputs" in out


def test_rerun_skips_and_changed_config_is_refused(recipe, recipe_env, finished):
    r = run(recipe, recipe_env, "--stage", "1", "--stop_stage", "3")
    log = r.stdout + r.stderr
    assert "prepare_librispeech train-clean-5: already done" in log
    assert "skipping" in log
    conf = recipe / "conf" / "text.yaml"
    conf.write_text(conf.read_text().replace("seed: 0", "seed: 7"))
    r = run(recipe, recipe_env, "--stage", "3", "--stop_stage", "3", check=False)
    assert r.returncode != 0
    assert "seed: 0 -> 7" in (r.stdout + r.stderr + _logs(recipe / "exp" / "text" / "log"))
    assert "--redo true" in (r.stdout + r.stderr + _logs(recipe / "exp" / "text" / "log"))


def _logs(d: Path) -> str:
    return "".join(p.read_text() for p in d.glob("*.log"))
