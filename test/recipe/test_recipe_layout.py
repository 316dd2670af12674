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


def _run_conf_value(recipe: Path, key: str, default: str) -> str:
    m = re.search(rf"^{key}=(\S+)", (recipe / "conf" / "run.conf").read_text(), re.M)
    return m.group(1) if m else default


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.parent.name)
def test_v1_transform_fits_the_default_features(recipe):
    """PCA of conf/transform_v1.yaml can be fitted on the features that conf/run.conf selects.

    (An MFCC recipe with fairseq's PCA 512 fails in stage 5 with ``--uasr v1``.)
    """
    import yaml

    from speechssl.audio.features import FeatureConfig

    feat_type = _run_conf_value(recipe, "feat_type", "mfcc")
    if feat_type == "ssl":
        pytest.skip("SSL features: their dimension is the checkpoint's")
    feats_config = _run_conf_value(recipe, "feats_config", "conf/feats_mfcc.yaml")
    options = yaml.safe_load((recipe / feats_config).read_text()) or {}
    keys = ("num_ceps", "num_mel_bins", "deltas")
    dim = FeatureConfig(feat_type, **{k: options[k] for k in keys if k in options}).dim
    pca_dim = (yaml.safe_load((recipe / "conf" / "transform_v1.yaml").read_text()) or {}).get("pca_dim", 512)
    assert pca_dim <= dim, f"{recipe}/conf/transform_v1.yaml: pca_dim {pca_dim} > {dim}-dim {feats_config} features"


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: p.parent.name)
def test_decipher_config_is_one_decipher_units_accepts(recipe):
    """conf/decipher.yaml (stage 8 with --decipher_config) holds only options of decipher_units, with valid values."""
    from speechssl.bin import decipher_units
    from speechssl.utils.cli import add_config_option, parse_args

    args = parse_args(add_config_option(decipher_units.get_parser()),
                      ["--config", str(recipe / "conf" / "decipher.yaml"), "--train", "train=dump/x",
                       "--text-dir", "data/text", "out"])
    decipher_units.configs_of(args)
