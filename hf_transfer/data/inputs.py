"""One entry point for model inputs, text or image: the processor decides.

A tokenizer means text (tokenised once, padded per batch); an image processor means images (kept as images,
turned into ``pixel_values`` lazily, see :mod:`hf_transfer.data.images`).

Example::

    >>> encoded = encode_splits(raw, data_args, processor, names=["neg", "pos"])
    >>> trainer = Trainer(..., data_collator=data_collator(processor))
"""

from __future__ import annotations

from datasets import DatasetDict
from transformers import DataCollatorWithPadding, default_data_collator
from transformers.image_processing_utils import BaseImageProcessor

from .images import encode_image_splits
from .text import encode_text_splits


def is_image_processor(processor) -> bool:
    return isinstance(processor, BaseImageProcessor)


def input_columns(data_args, processor) -> dict[str, str | None]:
    """The configured columns a split must have (role → column), for :func:`~hf_transfer.data.check_columns`."""
    pair = {} if is_image_processor(processor) else {"text_pair_column": data_args.text_pair_column}
    return {
        input_role(processor): input_column(data_args, processor),
        **pair,
        "label_column": data_args.label_column,
    }


def input_role(processor) -> str:
    """The recipe key naming the input column: ``image_column`` or ``text_column``."""
    return "image_column" if is_image_processor(processor) else "text_column"


def input_column(data_args, processor) -> str:
    """The column holding the model input (text or image)."""
    return getattr(data_args, input_role(processor))


def encode_splits(raw: DatasetDict, data_args, processor, names: list[str] | None) -> DatasetDict:
    """Labels encoded with ``names`` (None: unlabelled), inputs tokenised or set to be image-processed."""
    if is_image_processor(processor):
        return encode_image_splits(raw, data_args, processor, names)
    return encode_text_splits(raw, data_args, processor, names)


def data_collator(processor):
    """Dynamic padding for text; stacking for images (rows already hold equal-size ``pixel_values``)."""
    return default_data_collator if is_image_processor(processor) else DataCollatorWithPadding(processor)
