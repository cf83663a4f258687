"""Packaging: the wheel holds every subpackage, the data files, the metric modules and the recipes."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import tomllib

REPO_ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def test_every_subpackage_is_listed():
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {
        ".".join(path.parent.relative_to(REPO_ROOT).parts)
        for path in (REPO_ROOT / "hf_transfer").glob("**/__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_distribution_name_is_not_the_hub_download_accelerator():
    assert PYPROJECT["project"]["name"] != "hf-transfer"
    assert PYPROJECT["project"]["scripts"]["hf-transfer"] == "hf_transfer.cli.main:main"


def test_wheel_contains_data_metrics_and_recipes(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO_ROOT),
        ],
        check=True,
    )
    wheel = next(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "hf_transfer/data/builtin/rotten_tomatoes_snippets.jsonl.gz",
        "hf_transfer/data/builtin/MANIFEST.json",
        "hf_transfer/data/builtin/README.md",
        "hf_transfer/metrics/accuracy/accuracy.py",
        "hf_transfer/recipes/sentiment/minilm_full.yaml",
        "hf_transfer/recipes/vision/mobilenet_v2_mnist_lora.yaml",
        "hf_transfer/data/builtin/mnist_5k.jsonl.gz",
        "hf_transfer/data/builtin/digits.jsonl.gz",
        "hf_transfer/modeling/imagenet_1k_labels.json",
        "hf_transfer/model_cards/image_classification.md",
    ):
        assert expected in names, expected
