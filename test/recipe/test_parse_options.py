"""utils/parse_options.sh: Kaldi-style options for recipe scripts."""
from __future__ import annotations

import subprocess

import pytest

SCRIPT = """#!/usr/bin/env bash
# Demo script.
# Second line of help.
set -euo pipefail
stage=0          # first stage
stop_stage=100   # last stage
use_gpu=false    # a boolean
name="a b"       # a value with a space
. {utils}/parse_options.sh
echo "stage=$stage stop_stage=$stop_stage use_gpu=$use_gpu name=$name args=$*"
"""


@pytest.fixture
def script(tmp_path, repo_root):
    p = tmp_path / "run.sh"
    p.write_text(SCRIPT.format(utils=repo_root / "utils"))
    p.chmod(0o755)
    return p


def run(script, *args):
    return subprocess.run(["bash", str(script), *args], capture_output=True, text=True)


def test_options_forms_and_positionals(script):
    r = run(script, "--stage", "3", "--stop-stage=5", "--use_gpu", "true", "pos1", "pos 2")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "stage=3 stop_stage=5 use_gpu=true name=a b args=pos1 pos 2"


def test_help_lists_options_with_defaults(script):
    r = run(script, "--stage", "7", "--help")
    assert r.returncode == 0
    assert "Demo script." in r.stdout and "Second line of help." in r.stdout
    assert "--stage <7>" in r.stdout and "# first stage" in r.stdout
    assert "--use_gpu <false>" in r.stdout and "--name <a b>" in r.stdout


def test_unknown_option_is_an_error(script):
    r = run(script, "--stgae", "3")
    assert r.returncode != 0 and "unknown option --stgae" in r.stderr


def test_boolean_checked(script):
    r = run(script, "--use_gpu", "yes")
    assert r.returncode != 0 and "takes true or false" in r.stderr


def test_config_file(script, tmp_path):
    conf = tmp_path / "opts.conf"
    conf.write_text("# comment\nstage=4\nname=\"x y\"  # trailing comment\n")
    r = run(script, "--config", str(conf), "--stop_stage", "9")
    assert r.stdout.strip() == "stage=4 stop_stage=9 use_gpu=false name=x y args="
    conf.write_text("bogus=1\n")
    r = run(script, "--config", str(conf))
    assert r.returncode != 0 and "unknown option --bogus" in r.stderr
