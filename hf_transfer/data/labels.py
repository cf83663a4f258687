"""Class labels as integer ids."""

from __future__ import annotations

from datasets import ClassLabel, DatasetDict


def encode_labels(raw: DatasetDict, label_column: str, names: list[str]) -> DatasetDict:
    """Add an integer ``labels`` column (ids in ``names`` order)."""
    label2id = {name: i for i, name in enumerate(names)}
    encoded = {}
    for split, dataset in raw.items():
        if isinstance(dataset.features[label_column], ClassLabel):
            encoded[split] = dataset.map(lambda batch: {"labels": batch[label_column]}, batched=True)
        else:
            encoded[split] = dataset.map(
                lambda batch: {"labels": [label2id[str(v)] for v in batch[label_column]]}, batched=True
            )
    return DatasetDict(encoded)


def label_counts(dataset, label_column: str, names: list[str]) -> list[int]:
    """Rows per class of a raw split, in ``names`` order (as :func:`encode_labels` numbers them)."""
    counts = [0] * len(names)
    values = dataset[label_column]
    if isinstance(dataset.features[label_column], ClassLabel):
        ids = values
    else:
        label2id = {name: i for i, name in enumerate(names)}
        ids = [label2id[str(v)] for v in values if str(v) in label2id]
    for i in ids:
        if i is not None and 0 <= i < len(names):
            counts[i] += 1
    return counts
