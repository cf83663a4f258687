"""Data: built-in offline datasets, local files and Hub datasets; label maps; preprocessing."""

from .builtin_datasets import BUILTIN_DATASETS, list_builtin_datasets, load_builtin_dataset
from .loading import check_columns, check_known_labels, encode_labels, label_names, load_raw_datasets
from .text import encode_text_splits, tokenize_splits

__all__ = [
    "BUILTIN_DATASETS",
    "check_columns",
    "check_known_labels",
    "encode_labels",
    "encode_text_splits",
    "label_names",
    "list_builtin_datasets",
    "load_builtin_dataset",
    "load_raw_datasets",
    "tokenize_splits",
]
