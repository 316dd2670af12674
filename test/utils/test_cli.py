"""YAML --config files for the stage programs."""
from __future__ import annotations

import argparse

import pytest

from speechssl.utils.cli import add_config_option, parse_args, str2bool
from speechssl.utils.errors import SpeechSSLError


def parser():
    p = argparse.ArgumentParser(prog="demo")
    p.add_argument("--detector", choices=["silero", "energy"], default="silero")
    p.add_argument("--pad", type=float, default=0.1)
    p.add_argument("--surround", type=str2bool, default=True)
    p.add_argument("src")
    return add_config_option(p)


def test_config_values_are_defaults_and_command_line_wins(tmp_path):
    conf = tmp_path / "c.yaml"
    conf.write_text("detector: energy\npad: 0.25\nsurround: false\n")
    a = parse_args(parser(), ["--config", str(conf), "data"])
    assert (a.detector, a.pad, a.surround, a.src) == ("energy", 0.25, False, "data")
    a = parse_args(parser(), ["--config", str(conf), "--pad", "0.5", "data"])
    assert a.pad == 0.5


@pytest.mark.parametrize("text,match", [
    ("bogus: 1\n", "unknown option 'bogus' for demo"),
    ("detector: vibes\n", "not one of"),
    ("[1, 2]\n", "expected a mapping"),
    ("src: data\n", "unknown option 'src'"),
])
def test_bad_config_names_file_and_key(tmp_path, text, match):
    conf = tmp_path / "c.yaml"
    conf.write_text(text)
    with pytest.raises(SpeechSSLError, match=match):
        parse_args(parser(), ["--config", str(conf), "data"])
