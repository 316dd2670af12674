"""check_vad_symmetry: a set processed differently from the training set is reported."""
from __future__ import annotations

import json
import subprocess


def write_vad(d, config):
    d.mkdir()
    if config is not None:
        (d / "vad.json").write_text(json.dumps({"config": config, "stats": {}}))


def test_mismatch_reported(tmp_path, recipe_env):
    cfg = {"detector": "silero", "mode": "trim", "pad_s": 0.1}
    write_vad(tmp_path / "train_vad", cfg)
    write_vad(tmp_path / "dev_vad", cfg)
    write_vad(tmp_path / "test", None)
    cmd = ["python", "-m", "speechssl.bin.check_vad_symmetry", str(tmp_path / "train_vad"), str(tmp_path / "dev_vad")]
    r = subprocess.run(cmd, capture_output=True, text=True, env=recipe_env)
    assert r.returncode == 0 and "2 sets share the VAD treatment" in r.stdout
    r = subprocess.run(cmd + [str(tmp_path / "test"), "--strict"], capture_output=True, text=True, env=recipe_env)
    assert r.returncode == 1
    assert "test" in r.stderr and "same compute_vad options" in r.stderr
