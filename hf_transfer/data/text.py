"""Text preprocessing: tokenise with truncation; padding is dynamic (per batch, in the collator)."""

from __future__ import annotations

from datasets import DatasetDict

from ..errors import DataError, RecipeError
from .labels import encode_labels


def tokenize_splits(
    splits: DatasetDict,
    tokenizer,
    text_column: str,
    max_length: int,
    text_pair_column: str | None = None,
    num_proc: int | None = None,
) -> DatasetDict:
    """Tokenise every split, keeping only model inputs and ``labels``.

    Inputs are truncated to ``max_length`` and not padded: ``DataCollatorWithPadding`` pads each batch to its
    longest row, which with length-grouped batches removes most padding.
    """

    def tokenize(batch):
        texts = batch[text_column]
        pairs = batch[text_pair_column] if text_pair_column else None
        for column, values in ((text_column, texts), (text_pair_column, pairs)):
            if values is not None and any(not isinstance(v, str) for v in values):
                bad = next(v for v in values if not isinstance(v, str))
                raise DataError(
                    f"Column {column!r} must hold text, found {type(bad).__name__} {bad!r}. Drop empty rows or "
                    "point `text_column` at the text."
                )
        return tokenizer(texts, pairs, truncation=True, max_length=max_length)

    keep = {"labels"}
    return DatasetDict(
        {
            split: dataset.map(
                tokenize,
                batched=True,
                num_proc=num_proc,
                remove_columns=[c for c in dataset.column_names if c not in keep],
                desc=f"Tokenising {split}",
            )
            for split, dataset in splits.items()
        }
    )


def encode_text_splits(raw: DatasetDict, data_args, tokenizer, names: list[str] | None) -> DatasetDict:
    """Encode labels with ``names`` (skipped when ``names`` is None: unlabelled data) and tokenise every split."""
    encoded = encode_labels(raw, data_args.label_column, names) if names is not None else raw
    return tokenize_splits(
        encoded,
        tokenizer,
        text_column=data_args.text_column,
        text_pair_column=data_args.text_pair_column,
        max_length=data_args.max_length,
        num_proc=data_args.preprocessing_num_workers,
    )


def model_max_length(tokenizer, config) -> int | None:
    """The most tokens a checkpoint takes: its position embeddings (less RoBERTa's padding offset) and the
    tokenizer's ``model_max_length``, whichever is smaller; None when neither says."""
    limits = []
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        offset = (
            (config.pad_token_id or 0) + 1
            if config.model_type in ("roberta", "xlm-roberta", "camembert")
            else 0
        )
        limits.append(positions - offset)
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and 0 < declared < 1_000_000:  # tokenizers without a limit say 1e30
        limits.append(declared)
    return min(limits) if limits else None


def check_max_length(max_length: int, tokenizer, config) -> None:
    """Refuse a ``max_length`` the checkpoint cannot take (an index error deep in the embeddings otherwise)."""
    limit = model_max_length(tokenizer, config)
    if limit is not None and max_length > limit:
        raise RecipeError(
            f"`max_length` {max_length} is above what {getattr(config, '_name_or_path', '') or 'the model'} takes "
            f"({limit} tokens): set `max_length` to at most {limit}."
        )
