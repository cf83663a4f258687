"""Data: built-in offline datasets, local files, image folders and Hub datasets; label maps; text and image
preprocessing; degraded-image domains."""

from .builtin_datasets import BUILTIN_DATASETS, list_builtin_datasets, load_builtin_dataset
from .degrade import degrade, degrade_splits
from .images import Augmentation, ImageTransform, encode_image_splits
from .inputs import data_collator, encode_splits, input_column, input_columns, input_role, is_image_processor
from .labels import encode_labels, label_counts
from .loading import check_columns, check_known_labels, label_names, load_eval_sets, load_raw_datasets
from .pil import to_pil
from .text import encode_text_splits, tokenize_splits

__all__ = [
    "BUILTIN_DATASETS",
    "Augmentation",
    "ImageTransform",
    "check_columns",
    "check_known_labels",
    "data_collator",
    "degrade",
    "degrade_splits",
    "encode_image_splits",
    "encode_labels",
    "label_counts",
    "encode_splits",
    "encode_text_splits",
    "input_column",
    "input_columns",
    "input_role",
    "is_image_processor",
    "label_names",
    "list_builtin_datasets",
    "load_builtin_dataset",
    "load_eval_sets",
    "load_raw_datasets",
    "to_pil",
    "tokenize_splits",
]
