"""Every egs/<corpus>/uasr1 recipe is the shared run.sh plus its own local/ and conf/, with every file run.sh reads."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "egs" / "TEMPLATE" / "uasr1"
RECIPES = sorted(p for p in (ROOT / "egs").glob("*/uasr1") if p.parent.name != "TEMPLATE")


def _conf_files_read_by_run_sh() -> set[str]:
    text = (TEMPLATE / "run.sh").read_text()
    names = set(re.findall(r"conf/[A-Za-z0-9_]+\.yaml", text))
    for pattern in re.findall(r"conf/[A-Za-z0-9_]*\$uasr[A-Za-z0-9_]*\.yaml", text):
        names |= {pattern.replace("$uasr", v) for v in ("v1", "v2")}
    return names


def test_the_five_corpora_have_a_recipe():
    assert {p.parent.name for p in RECIPES} >= {"mini_librispeech", "librispeech", "spokencoco", "soapies", "fleurs",
                                                  "uaspeech"}


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.parent.name)
def test_recipe_is_the_shared_run_sh_with_its_own_local_and_conf(recipe):
    for name in ("run.sh", "path.sh"):
        assert (recipe / name).is_symlink() and (recipe / name).resolve() == (TEMPLATE / name).resolve(), name
    assert (recipe / "utils").resolve() == (ROOT / "utils").resolve()
    for name in ("cmd.sh", "db.sh", "conf/run.conf"):
        assert (recipe / name).is_file(), name
    assert os.access(recipe / "local" / "data.sh", os.X_OK)
    missing = sorted(n for n in _conf_files_read_by_run_sh() if not (recipe / n).is_file())
    assert not missing, f"{recipe}: run.sh reads {missing}"
