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
