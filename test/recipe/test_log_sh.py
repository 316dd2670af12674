"""utils/log.sh: quote_args records a recipe's command line so that a shell reads it back unchanged."""
from __future__ import annotations

import subprocess

import pytest

ARGS = [
    ["--stage", "4", "--feat_type", "ssl"],
    ["--decipher_opts", "--dims 0", "--gan_opts", "--set loss.eodm=5 --grid a=1,2"],
    ["--title", "it's \"quoted\"", "--empty", "", "--glob", "*.yaml", "--var", "$HOME"],
]


def quote(repo_root, args):
    r = subprocess.run(["bash", "-c", f'. {repo_root}/utils/log.sh; quote_args "$@"', "-", *args],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.rstrip("\n")


@pytest.mark.parametrize("args", ARGS)
def test_quoted_line_reads_back_as_the_same_arguments(repo_root, args, tmp_path):
    line = quote(repo_root, args)
    r = subprocess.run(["bash", "-c", f"printf '%s\\n' {line}"], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:-1] == args


def test_plain_arguments_stay_unquoted_and_spaces_are_quoted(repo_root):
    assert quote(repo_root, ["--stage", "4", "--upstream", "../ssl1/exp/x.pt"]) == "--stage 4 --upstream ../ssl1/exp/x.pt"
    assert quote(repo_root, ["--decipher_opts", "--dims 0"]) == "--decipher_opts '--dims 0'"
    assert quote(repo_root, []) == ""
