"""Loading raw splits from built-in datasets, local files or the Hub, and checking them for a task.

Example::

    >>> from hf_transfer.config import DataArguments
    >>> from hf_transfer.data import load_raw_datasets
    >>> splits = load_raw_datasets(DataArguments(train_file="reviews.csv"), seed=42)
    >>> sorted(splits)        # a validation split is carved from train (seeded) when there is none
    ['train', 'validation']
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import datasets
from datasets import ClassLabel, DatasetDict

from ..errors import DataError, did_you_mean
from .builtin_datasets import BUILTIN_DATASETS, load_builtin_dataset
from .degrade import degrade_splits

logger = logging.getLogger(__name__)

FILE_BUILDERS = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "json", ".parquet": "parquet"}
COMPRESSIONS = (".gz", ".bz2", ".xz", ".zst")
SPLIT_ALIASES = {"valid": "validation", "val": "validation", "dev": "validation", "eval": "validation"}


def file_builder(path: str) -> tuple[str, dict[str, Any]]:
    """The ``datasets`` builder name and its options for a local data file (compressed or not)."""
    suffixes = Path(path).suffixes
    if len(suffixes) > 1 and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in FILE_BUILDERS:
        raise DataError(
            f"Cannot read {path!r}: unsupported file type {suffix or '(none)'!r}. "
            f"Use one of {', '.join(sorted(FILE_BUILDERS))} (optionally compressed)."
        )
    return FILE_BUILDERS[suffix], ({"delimiter": "\t"} if suffix == ".tsv" else {})


def _load_files(data_args) -> DatasetDict:
    files = {
        split: path
        for split, path in (
            ("train", data_args.train_file),
            ("validation", data_args.validation_file),
            ("test", data_args.test_file),
        )
        if path
    }
    splits = {}
    encoding = getattr(data_args, "file_encoding", None)
    for split, path in files.items():
        splits[split] = read_data_file(path, split, encoding)
    return DatasetDict(splits)


def read_data_file(path: str, split: str, encoding: str | None = None, key: str | None = None):
    """One local data file as a ``datasets.Dataset``, every failure a one-line :class:`DataError` naming ``key``
    (the option that gave the file: ``train_file`` by default) and the fix."""
    key = key or f"{split}_file"
    if not Path(path).is_file():
        what = "is a folder, not a file" if Path(path).is_dir() else "does not exist"
        raise DataError(f"The {split} file {path!r} {what}. Check `{key}`.")
    builder, kwargs = file_builder(path)
    if Path(path).stat().st_size == 0:
        raise DataError(f"The {split} file {path!r} is empty (0 bytes). Check the file or `{key}`.")
    if encoding and builder != "parquet":
        kwargs["encoding"] = encoding
    try:
        return datasets.load_dataset(builder, data_files={split: path}, split=split, **kwargs)
    except Exception as err:  # noqa: BLE001 — the builders raise many types on a malformed file
        decoding = _cause(err, UnicodeDecodeError)
        if decoding is not None:
            raise DataError(
                f"The {split} file {path!r} is not {encoding or 'UTF-8'} text (byte "
                f"{decoding.object[decoding.start : decoding.start + 1]!r} at position {decoding.start}). Set "
                "`file_encoding` to the file's encoding (e.g. `file_encoding: latin-1` or cp1252), or re-save it as "
                "UTF-8."
            ) from None
        message = str(err).splitlines()[0] if str(err) else ""
        if "corresponds to no data" in message:  # a csv with a header and no row, an empty json list
            raise DataError(
                f"The {split!r} split is empty: {path} holds no data row. Check the file or `{key}`."
            ) from None
        raise DataError(
            f"The {split} file {path!r} cannot be read as {builder} ({type(err).__name__}: {message}). Check the "
            "file: a header row for csv, one record per line for jsonl, an extension matching the format."
        ) from None


def _cause(err: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``err`` or the first exception of its chain of that kind (``datasets`` wraps the builder's error)."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, kind):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _load_named(data_args) -> DatasetDict:
    name = data_args.dataset_name
    if name in BUILTIN_DATASETS:
        return load_builtin_dataset(name, data_args.dataset_config_name)
    local = Path(name).expanduser()
    if local.is_dir() and any(local.glob("dataset_dict.json")):
        return datasets.load_from_disk(str(local))
    try:
        loaded = datasets.load_dataset(name, data_args.dataset_config_name)
    except Exception as err:  # datasets raises many types: missing, offline, bad config
        raise DataError(
            f"Cannot load dataset {name!r} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
            f"It is not a built-in dataset ({', '.join(sorted(BUILTIN_DATASETS))}).{did_you_mean(name, BUILTIN_DATASETS)}"
            " Fix: use a built-in name, give local files with train_file / validation_file / test_file, or go "
            "online for a Hub dataset."
        ) from None
    if not isinstance(loaded, DatasetDict):
        loaded = DatasetDict({"train": loaded})
    return loaded


def unlabelled_rows(dataset, label_column: str) -> list[int]:
    """Indices of the rows whose label is missing (``None``: an empty CSV cell, a JSON null)."""
    if label_column not in dataset.column_names:
        return []
    return [i for i, value in enumerate(dataset[label_column]) if value is None]


def handle_unlabelled_rows(raw: DatasetDict, label_column: str, drop: bool) -> DatasetDict:
    """Refuse (or, with ``drop``, drop and log) rows without a label, per split, naming how many and which."""
    checked = {}
    for split, dataset in raw.items():
        missing = unlabelled_rows(dataset, label_column)
        if missing and not drop:
            shown = ", ".join(str(i + 1) for i in missing[:5]) + (", …" if len(missing) > 5 else "")
            raise DataError(
                f"The {split!r} split has {len(missing):,} of {len(dataset):,} rows without a label in column "
                f"{label_column!r} (data rows {shown}, counting from 1 after any header). Fill in their labels, or "
                "set `drop_unlabelled_rows: true` to drop them (the count is logged)."
            )
        if missing:
            logger.warning(
                "Dropped %d of %d %s rows without a label in column %r (drop_unlabelled_rows).",
                len(missing),
                len(dataset),
                split,
                label_column,
            )
            gone = set(missing)
            dataset = dataset.select([i for i in range(len(dataset)) if i not in gone])
        checked[split] = dataset
    return DatasetDict(checked)


def load_raw_datasets(data_args, seed: int = 42, label_column: str | None = None) -> DatasetDict:
    """The raw ``train`` / ``validation`` (/ ``test``) splits named by ``data_args``.

    With ``label_column`` (a single-task run), rows without a label are refused or dropped
    (``drop_unlabelled_rows``) first, as the files hold them. A validation split is carved from train
    (``validation_split_size``, seeded) when the data has none; split names ``valid``/``val``/``dev`` count as
    validation. Subsampling (``max_*_samples``) is seeded too, and so is ``degrade`` (images turned blurry / dark /
    noisy, see :mod:`hf_transfer.data.degrade`).
    """
    raw = _load_files(data_args) if data_args.train_file else _load_named(data_args)
    raw = DatasetDict({SPLIT_ALIASES.get(name, name): split for name, split in raw.items()})
    if label_column is not None:
        raw = handle_unlabelled_rows(raw, label_column, getattr(data_args, "drop_unlabelled_rows", False))
    if "train" not in raw:
        raise DataError(f"The dataset has no 'train' split; its splits are: {', '.join(raw) or 'none'}.")
    if "validation" not in raw:
        if len(raw["train"]) < 2:
            raise DataError("The 'train' split has fewer than 2 rows: cannot hold out a validation split.")
        held_out = raw["train"].train_test_split(test_size=data_args.validation_split_size, seed=seed)
        raw["train"], raw["validation"] = held_out["train"], held_out["test"]
        logger.info("No validation split: held out %d train rows (seed %d).", len(raw["validation"]), seed)
    for split, limit in (
        ("train", data_args.max_train_samples),
        ("validation", data_args.max_eval_samples),
        ("test", data_args.max_test_samples),
    ):
        if limit is not None and split in raw and len(raw[split]) > limit:
            raw[split] = raw[split].shuffle(seed=seed).select(range(limit))
    for split, dataset in raw.items():
        if len(dataset) == 0:
            raise DataError(
                f"The {split!r} split is empty. Check the file or dataset config, and any filtering or "
                "max_*_samples setting."
            )
    raw = DatasetDict({split: raw[split] for split in ("train", "validation", "test") if split in raw})
    if getattr(data_args, "degrade", None):
        raw = degrade_splits(raw, data_args.image_column, data_args.degrade, data_args.degrade_severity, seed)
    return raw


def check_columns(raw: DatasetDict, columns: dict[str, str | None]) -> None:
    """Raise a :class:`DataError` listing the available columns when a configured column is missing."""
    for split, dataset in raw.items():
        for role, column in columns.items():
            if column is not None and column not in dataset.column_names:
                raise DataError(
                    f"Column {column!r} (the {role}) is not in the {split!r} split.{did_you_mean(column, dataset.column_names)} "
                    f"Its columns are: {', '.join(dataset.column_names)}. Set `{role}` in the recipe."
                )


def _distinct_labels(dataset, split: str, label_column: str) -> set:
    if unlabelled_rows(dataset, label_column):
        handle_unlabelled_rows(DatasetDict({split: dataset}), label_column, drop=False)
    return set(dataset.unique(label_column))


def check_known_labels(
    raw: DatasetDict, label_column: str, names: list[str], known_from: str = "train"
) -> None:
    """Raise a :class:`DataError` when a split holds a label outside ``names`` (the classes the model knows)."""
    for split, dataset in raw.items():
        if isinstance(dataset.features[label_column], ClassLabel):
            continue
        unknown = {v for v in _distinct_labels(dataset, split, label_column) if str(v) not in names}
        if unknown:
            shown = ", ".join(repr(v) for v in sorted(unknown, key=str)[:10])
            raise DataError(
                f"The {split!r} split has label(s) absent from {known_from}: {shown}. The model can only predict "
                f"the labels it trained on ({', '.join(names)}); fix the data or the split."
            )


def label_names(raw: DatasetDict, label_column: str) -> list[str]:
    """Class names in id order: a ``ClassLabel``'s names, else the sorted distinct train values.

    Raises :class:`DataError` when validation or test holds a label absent from train, or a label is missing.
    """
    feature = raw["train"].features[label_column]
    if isinstance(feature, ClassLabel):
        return list(feature.names)
    train_values = _distinct_labels(raw["train"], "train", label_column)
    if len(train_values) < 2:
        raise DataError(
            f"Column {label_column!r} has {len(train_values)} distinct value(s) in train: a classifier needs "
            "at least 2 classes."
        )
    names = [str(value) for value in sorted(train_values)]
    check_known_labels(raw, label_column, names)
    return names


def load_eval_sets(data_args, seed: int = 42, label_column: str | None = None) -> DatasetDict:
    """The recipe's named evaluation sets (``eval_files``): each a local file, or a split of a named dataset;
    ``max_eval_samples`` and ``degrade`` apply to them as to validation."""
    sets = {}
    for name, source in (data_args.eval_files or {}).items():
        if isinstance(source, str):
            dataset = read_data_file(source, name, data_args.file_encoding, key=f"eval_files.{name}")
        else:
            named = dataclasses.replace(
                data_args,
                dataset_name=source["dataset_name"],
                dataset_config_name=source.get("dataset_config_name"),
                train_file=None,
            )
            splits = _load_named(named)
            split = source.get("split", "test")
            if split not in splits:
                raise DataError(
                    f"`eval_files.{name}`: {source['dataset_name']} has no {split!r} split; its splits: "
                    f"{', '.join(splits)}. Set `split`."
                )
            dataset = splits[split]
        limit = data_args.max_eval_samples
        if limit is not None and len(dataset) > limit:
            dataset = dataset.shuffle(seed=seed).select(range(limit))
        if len(dataset) == 0:
            raise DataError(f"The evaluation set {name!r} (`eval_files.{name}`) is empty. Check it.")
        sets[name] = dataset
    raw = DatasetDict(sets)
    if label_column is not None:
        raw = handle_unlabelled_rows(raw, label_column, getattr(data_args, "drop_unlabelled_rows", False))
    if getattr(data_args, "degrade", None):
        raw = degrade_splits(raw, data_args.image_column, data_args.degrade, data_args.degrade_severity, seed)
    return raw
