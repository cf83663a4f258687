"""Data loading from local files, validation hold-out, label maps, tokenisation, and bad input."""

from __future__ import annotations

import pandas as pd
import pytest
from datasets import ClassLabel, Dataset, DatasetDict, Features

from hf_transfer.config import DataArguments
from hf_transfer.data import (
    check_columns,
    encode_labels,
    label_names,
    load_raw_datasets,
    tokenize_splits,
)
from hf_transfer.errors import DataError


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet"])
def test_local_files_load_with_a_seeded_validation_split(review_files, fmt):
    args = DataArguments(train_file=str(review_files[fmt]), text_column="review", label_column="sentiment")
    raw = load_raw_datasets(args, seed=1)
    assert sorted(raw) == ["train", "validation"]
    assert len(raw["train"]) + len(raw["validation"]) == 60
    assert len(raw["validation"]) == 6
    again = load_raw_datasets(args, seed=1)
    assert raw["validation"]["review"] == again["validation"]["review"]
    other = load_raw_datasets(args, seed=2)
    assert raw["validation"]["review"] != other["validation"]["review"]


def test_separate_files_keep_their_splits(review_files):
    path = str(review_files["csv"])
    args = DataArguments(train_file=path, validation_file=path, test_file=path)
    raw = load_raw_datasets(args)
    assert sorted(raw) == ["test", "train", "validation"]
    assert all(len(split) == 60 for split in raw.values())


def test_missing_file_and_unsupported_format(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_raw_datasets(DataArguments(train_file=str(tmp_path / "nope.csv")))
    bad = tmp_path / "data.xlsx"
    bad.write_text("x")
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'.*\.csv"):
        load_raw_datasets(DataArguments(train_file=str(bad)))


def test_subsampling_is_seeded():
    args = DataArguments(dataset_name="rotten_tomatoes_snippets", max_train_samples=10, max_test_samples=5)
    raw = load_raw_datasets(args, seed=3)
    assert len(raw["train"]) == 10 and len(raw["test"]) == 5 and len(raw["validation"]) > 1000
    assert raw["train"]["text"] == load_raw_datasets(args, seed=3)["train"]["text"]


def test_missing_column_lists_the_columns(review_files):
    raw = load_raw_datasets(DataArguments(train_file=str(review_files["csv"])))
    with pytest.raises(
        DataError, match=r"'text' \(the text_column\).*Its columns are: review, sentiment, extra"
    ):
        check_columns(raw, {"text_column": "text", "label_column": "sentiment"})
    with pytest.raises(DataError, match=r"'sentimnt'.*Did you mean 'sentiment'"):
        check_columns(raw, {"text_column": "review", "label_column": "sentimnt"})


def splits_from(**columns) -> DatasetDict:
    return DatasetDict({split: Dataset.from_dict(values) for split, values in columns.items()})


def test_label_names_are_sorted_distinct_train_values():
    raw = splits_from(train={"label": ["pos", "neg", "pos", "neu"]}, validation={"label": ["neg"]})
    assert label_names(raw, "label") == ["neg", "neu", "pos"]
    encoded = encode_labels(raw, "label", ["neg", "neu", "pos"])
    assert encoded["train"]["labels"] == [2, 0, 2, 1]


def test_integer_labels_and_class_label_names():
    raw = splits_from(train={"label": [3, 1, 3]}, validation={"label": [1]})
    assert label_names(raw, "label") == ["1", "3"]
    assert encode_labels(raw, "label", ["1", "3"])["train"]["labels"] == [1, 0, 1]
    features = Features({"label": ClassLabel(names=["bad", "good"])})
    named = DatasetDict({"train": Dataset.from_dict({"label": [1, 0]}, features=features)})
    assert label_names(named, "label") == ["bad", "good"]
    assert encode_labels(named, "label", ["bad", "good"])["train"]["labels"] == [1, 0]


def test_label_in_test_absent_from_train_is_an_error():
    raw = splits_from(train={"label": ["a", "b"]}, validation={"label": ["a"]}, test={"label": ["a", "c"]})
    with pytest.raises(DataError, match=r"'test' split has label\(s\) absent from train: 'c'"):
        label_names(raw, "label")


def test_single_class_and_unlabelled_rows_are_errors():
    with pytest.raises(DataError, match="at least 2 classes"):
        label_names(splits_from(train={"label": ["a", "a"]}), "label")
    with pytest.raises(DataError, match="rows without a label"):
        label_names(splits_from(train={"label": ["a", None, "b"]}), "label")


def test_empty_split_is_an_error(tmp_path):
    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    pd.DataFrame({"text": ["a", "b", "c"], "label": [0, 1, 0]}).to_csv(train, index=False)
    pd.DataFrame({"text": [], "label": []}).to_csv(test, index=False)
    with pytest.raises(DataError, match="'test' split is empty"):
        load_raw_datasets(DataArguments(train_file=str(train), test_file=str(test)))


def test_unknown_dataset_name_offline_is_a_clear_error():
    with pytest.raises(DataError, match=r"Cannot load dataset 'no-such/dataset'.*built-in.*train_file"):
        load_raw_datasets(DataArguments(dataset_name="no-such/dataset"))


def test_split_aliases_become_validation(tmp_path):
    DatasetDict(
        {
            "train": Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]}),
            "dev": Dataset.from_dict({"text": ["c"], "label": [1]}),
        }
    ).save_to_disk(tmp_path / "saved")
    raw = load_raw_datasets(DataArguments(dataset_name=str(tmp_path / "saved")))
    assert sorted(raw) == ["train", "validation"]


def test_tokenisation_truncates_and_leaves_padding_to_the_collator(tiny_tokenizer):
    raw = splits_from(train={"text": ["short", "a much longer review " * 20], "label": ["a", "b"]})
    encoded = tokenize_splits(encode_labels(raw, "label", ["a", "b"]), tiny_tokenizer, "text", max_length=16)
    lengths = [len(ids) for ids in encoded["train"]["input_ids"]]
    assert lengths[1] == 16 and lengths[0] < 16
    assert set(encoded["train"].column_names) >= {"input_ids", "attention_mask", "labels"}
    assert "text" not in encoded["train"].column_names


def test_text_pairs_are_encoded_together(tiny_tokenizer):
    raw = splits_from(train={"a": ["first"], "b": ["second"], "label": ["x"]})
    encoded = tokenize_splits(
        encode_labels(raw, "label", ["x"]), tiny_tokenizer, "a", 32, text_pair_column="b"
    )
    assert tiny_tokenizer.decode(encoded["train"][0]["input_ids"]).count("[SEP]") == 2


def test_non_text_values_in_the_text_column_are_an_error(tiny_tokenizer):
    raw = splits_from(train={"text": ["fine", None], "label": ["x", "y"]})
    with pytest.raises(DataError, match="must hold text, found NoneType"):
        tokenize_splits(encode_labels(raw, "label", ["x", "y"]), tiny_tokenizer, "text", 16)
