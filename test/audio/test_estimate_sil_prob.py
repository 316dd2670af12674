"""estimate_sil_prob: silence probability from VAD pauses and durations, no transcripts."""
from __future__ import annotations

import subprocess

import pytest


def test_rate_from_pauses_and_duration(tmp_path, recipe_env):
    d = tmp_path / "train_vad"
    d.mkdir()
    # 10 s of speech at 2 words/s = 20 words per utterance, 19 boundaries; 3 + 1 pauses
    (d / "vad_pauses").write_text("a 3 0.3 0.4 0.5\nb 1 0.2\n")
    (d / "utt2dur").write_text("a 10.0\nb 10.0\n")
    cmd = ["python", "-m", "speechssl.bin.estimate_sil_prob", "--words-per-second", "2", str(d)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=recipe_env, check=True).stdout
    assert float(out) == pytest.approx(4 / 38, abs=1e-4)
    out = subprocess.run(cmd + ["--min-pause", "0.35"], capture_output=True, text=True, env=recipe_env,
                         check=True).stdout
    assert float(out) == pytest.approx(2 / 38, abs=1e-4)


def test_missing_vad_output_is_a_clear_error(tmp_path, recipe_env):
    r = subprocess.run(["python", "-m", "speechssl.bin.estimate_sil_prob", str(tmp_path)],
                       capture_output=True, text=True, env=recipe_env)
    assert r.returncode == 1 and "vad_pauses missing; run compute_vad" in r.stderr
