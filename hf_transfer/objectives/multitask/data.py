"""Multi-task data: tasks grouped by data source, one packed ``labels`` vector per row, and a task sampler.

Every row gets a float ``labels`` vector of the model's label width (each task owns a slice, see
:meth:`~hf_transfer.wrappers.multitask.MultiTaskConfig.label_slices`), ``NaN`` where the row has no label for a
task: rows of another task's dataset, or rows of one dataset whose label column is empty (masked, not
dropped). ``data_source`` records which source a row came from, for :class:`TaskBatchSampler`.

Example::

    >>> data = build_multitask_data(recipe.data, settings, tokenizer, seed=42)   # or an image processor
    >>> data.tasks[0]["labels"], data.encoded["train"].column_names
    (['negative', 'positive'], ['labels', 'input_ids', 'attention_mask', 'data_source'])
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch
from datasets import ClassLabel, Dataset, DatasetDict, Sequence, Value
from torch.utils.data import Sampler

from ...config.arguments import DataArguments
from ...data import check_columns, encode_splits, input_column, input_role, load_raw_datasets
from ...data.images import concatenate_lazy
from ...errors import DataError
from ...wrappers.multitask import MultiTaskConfig, check_task_table
from .config import MultiTaskSettings, TaskSpec

SPLITS = ("train", "validation", "test")


def source_arguments(data: DataArguments, task: TaskSpec) -> DataArguments:
    """The recipe's data arguments, pointed at the task's own dataset when it has one."""
    if not task.has_own_data:
        return dataclasses.replace(data, text_column=task.text_column or data.text_column)
    return dataclasses.replace(
        data,
        **{key: getattr(task, key) for key in ("dataset_name", "dataset_config_name")},
        train_file=task.train_file,
        validation_file=task.validation_file,
        test_file=task.test_file,
        text_column=task.text_column or data.text_column,
    )


def _values(raw: DatasetDict, column: str) -> list:
    return [v for split in raw.values() for v in split[column]]


def task_labels(raw: DatasetDict, task: TaskSpec) -> list[str] | None:
    """The task's class names from its train split (``None`` for regression); missing labels are skipped."""
    column = task.label_column
    feature = raw["train"].features[column]
    if task.kind == "regression":
        bad = [v for v in _values(raw, column) if v is not None and not isinstance(v, (int, float))]
        if bad:
            raise DataError(
                f"Task {task.name!r} is a regression but column {column!r} holds {type(bad[0]).__name__} "
                f"{bad[0]!r}. Point `label_column` at a numeric column, or use a classification kind."
            )
        return None
    if isinstance(feature, ClassLabel):
        return list(feature.names)
    if task.kind == "multi_label_classification":
        train = {str(v) for row in raw["train"][column] if row is not None for v in row}
        seen = {str(v) for row in _values(raw, column) if row is not None for v in row}
    else:
        train = {str(v) for v in raw["train"][column] if v is not None}
        seen = {str(v) for v in _values(raw, column) if v is not None}
    if len(train) < (1 if task.kind == "multi_label_classification" else 2):
        raise DataError(
            f"Task {task.name!r}: column {column!r} has {len(train)} distinct label(s) in train; a classifier "
            "needs at least 2 classes."
        )
    unknown = sorted(seen - train)
    if unknown:
        raise DataError(
            f"Task {task.name!r}: validation/test hold label(s) absent from train: {', '.join(unknown[:10])}. "
            "The head can only predict labels it trained on; fix the data or the split."
        )
    return sorted(train)


def _encode_row_labels(value: Any, task: dict, names_to_ids: dict[str, int]) -> list[float]:
    if value is None:
        return [math.nan] * MultiTaskConfig.label_width(task)
    if task["kind"] == "regression":
        return [float(value)]
    if task["kind"] == "multi_label_classification":
        active = {names_to_ids[str(v)] for v in value}
        return [1.0 if i in active else 0.0 for i in range(len(task["labels"]))]
    return [float(names_to_ids[str(value)])]


@dataclass
class MultiTaskData:
    """Encoded splits (every source concatenated, in source order), the model's task table, and per data
    source (named by its tasks, ``sentiment+subjectivity``): train rows, raw splits, input (text or image) column,
    task names."""

    tasks: list[dict]
    encoded: DatasetDict
    source_rows: list[int]
    raw: dict[str, DatasetDict]
    input_columns: dict[str, str]
    source_tasks: dict[str, list[str]]
    label_columns: dict[str, str]


def label_maps(train, tasks: list[TaskSpec], by_name: dict[str, dict]) -> dict[str, dict[str, int]]:
    """Per task: a stored label (as text; a ``ClassLabel`` column stores ids) → the model's class index."""
    maps = {}
    for task in tasks:
        labels = by_name[task.name]["labels"] or []
        feature = train.features.get(task.label_column)
        if isinstance(feature, ClassLabel):
            unknown = [name for name in feature.names if name not in labels]
            if unknown and by_name[task.name]["kind"] != "regression":
                raise DataError(
                    f"Task {task.name!r}: label(s) {', '.join(unknown[:10])} of column {task.label_column!r} are not "
                    "among the model's labels; the head can only score labels it trained on."
                )
            maps[task.name] = {
                str(i): labels.index(name) for i, name in enumerate(feature.names) if name in labels
            }
        else:
            maps[task.name] = {label: i for i, label in enumerate(labels)}
    return maps


def pack_labels(
    raw: DatasetDict, tasks: list[TaskSpec], model_config: MultiTaskConfig, desc: str
) -> DatasetDict:
    """Every split with one float ``labels`` vector per row (each task its slice, NaN where unlabelled)."""
    slices = model_config.label_slices()
    width = sum(MultiTaskConfig.label_width(t) for t in model_config.tasks)
    by_name = {t["name"]: t for t in model_config.tasks}
    maps = label_maps(raw["train"] if "train" in raw else next(iter(raw.values())), tasks, by_name)

    def pack(batch):
        rows = len(next(iter(batch.values())))
        packed = [[math.nan] * width for _ in range(rows)]
        for task in tasks:
            cut, table = slices[task.name], by_name[task.name]
            for r, value in enumerate(batch[task.label_column]):
                packed[r][cut] = _encode_row_labels(value, table, maps[task.name])
        return {"labels": packed}

    return DatasetDict(
        {
            split: dataset.map(pack, batched=True, desc=f"Packing labels ({desc}, {split})").cast_column(
                "labels", Sequence(Value("float32"))
            )
            for split, dataset in raw.items()
        }
    )


def missing_label_vector(model_config: MultiTaskConfig) -> list[float]:
    """The packed labels of a row with no label for any task."""
    return [math.nan] * sum(MultiTaskConfig.label_width(t) for t in model_config.tasks)


def build_multitask_data(
    data: DataArguments, settings: MultiTaskSettings, processor, seed: int
) -> MultiTaskData:
    """Load every task's data (once per source), build the task table and the packed labels, and tokenise (or
    set the image transforms: ``processor`` is a tokenizer or an image processor)."""
    sources: dict[tuple, list[TaskSpec]] = {}
    for task in settings.tasks:
        sources.setdefault(task.data_key(), []).append(task)

    raws, tables = {}, []
    for key, tasks in sources.items():
        data_args = source_arguments(data, tasks[0])
        raw = load_raw_datasets(data_args, seed=seed)
        check_columns(
            raw,
            {
                input_role(processor): input_column(data_args, processor),
                **{f"label_column of task {t.name!r}": t.label_column for t in tasks},
            },
        )
        raws[key] = (raw, data_args)
        for task in tasks:
            labels = task_labels(raw, task)
            tables.append({"name": task.name, "kind": task.kind, "labels": labels, "weight": task.weight})
    order = [t.name for t in settings.tasks]
    tables.sort(key=lambda t: order.index(t["name"]))
    model_config = check_task_table(tables)  # validates the table, gives the label layout

    per_split: dict[str, list[Dataset]] = {split: [] for split in SPLITS}
    source_rows, raw_by_source, input_columns, source_tasks = [], {}, {}, {}
    for index, (key, tasks) in enumerate(sources.items()):
        raw, data_args = raws[key]
        name = "+".join(t.name for t in tasks)
        raw_by_source[name], input_columns[name] = raw, input_column(data_args, processor)
        source_tasks[name] = [t.name for t in tasks]
        labelled = pack_labels(raw, tasks, model_config, name)
        encoded = encode_splits(labelled, data_args, processor, None)  # labels packed above
        for split, dataset in encoded.items():
            per_split[split].append(dataset.add_column("data_source", [index] * len(dataset)))
        source_rows.append(len(encoded["train"]))
    encoded = DatasetDict({split: concatenate_lazy(parts) for split, parts in per_split.items() if parts})
    label_columns = {t.name: t.label_column for t in settings.tasks}
    return MultiTaskData(
        model_config.tasks, encoded, source_rows, raw_by_source, input_columns, source_tasks, label_columns
    )


class TaskBatchSampler(Sampler[int]):
    """Index order for homogeneous batches: each run of ``batch_size`` indices comes from one data source.

    Sources are contiguous blocks of the concatenated dataset (``source_rows`` rows each, in order). Each batch's
    source is drawn with probability ``p_i ∝ n_i`` (``proportional``), ``p_i ∝ n_i^(1/T)`` (``temperature``), or
    in turn (``round_robin``); within a source, rows come from a reshuffled cycle, so a small task repeats and
    every batch is full. An epoch is ``Σ_i ceil(n_i / batch_size)`` batches. Seeded by ``seed`` + epoch, so every
    data-parallel rank draws the same order (accelerate then gives each rank whole batches), and a resumed run that
    skips the first batches of an epoch sees the rest of the same order.

    One optimizer step reads ``N · A`` consecutive batches of this order (``N`` processes, accelerate giving rank
    ``r`` every N-th batch, times ``A`` accumulation steps). :meth:`set_step_batches` (called by
    :class:`~hf_transfer.training.trainer.TransferTrainer` with ``N · A``) makes a step, not a batch, the unit
    drawn from one source: each step takes ``N · A · batch_size`` rows of one source and deals them out in order,
    exactly as one process with batch ``N · A · batch_size`` draws its batch. So every rank and micro-batch of a
    step holds the same task, each step's rows equal the 1-process run's, and an epoch is
    ``Σ_i ceil(n_i / (N · A · batch_size))`` steps.
    """

    def __init__(
        self,
        source_rows: list[int],
        batch_size: int,
        sampling: str = "proportional",
        temperature: float = 2.0,
        seed: int = 0,
    ):
        if any(n < 1 for n in source_rows):
            raise DataError(f"Every task's data needs training rows; rows per source: {source_rows}.")
        self.source_rows, self.batch_size = list(source_rows), batch_size
        self.sampling, self.temperature = sampling, temperature
        self.offsets = [sum(source_rows[:i]) for i in range(len(source_rows))]
        self.seed, self.epoch = seed, 0
        self.set_step_batches(1)

    def set_step_batches(self, step_batches: int) -> None:
        """How many consecutive batches of this order make one optimizer step (processes × accumulation)."""
        self.step_batches = max(1, int(step_batches))
        self.step_size = self.batch_size * self.step_batches
        self.num_steps = sum(math.ceil(n / self.step_size) for n in self.source_rows)
        self.num_batches = self.num_steps * self.step_batches

    @property
    def probabilities(self) -> list[float]:
        """The chance that a batch comes from each source (round_robin: equal shares, in turn)."""
        sizes = torch.tensor(self.source_rows, dtype=torch.float64)
        if self.sampling == "round_robin":
            weights = torch.ones_like(sizes)
        elif self.sampling == "temperature":
            weights = sizes ** (1.0 / self.temperature)
        else:
            weights = sizes
        return (weights / weights.sum()).tolist()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def batch_sources(self, generator: torch.Generator) -> list[int]:
        """The source of each step (of each batch, when a step is one batch)."""
        if self.sampling == "round_robin":
            return [b % len(self.source_rows) for b in range(self.num_steps)]
        weights = torch.tensor(self.probabilities)
        return torch.multinomial(weights, self.num_steps, replacement=True, generator=generator).tolist()

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        streams: list[list[int]] = [[] for _ in self.source_rows]
        for source in self.batch_sources(generator):
            stream = streams[source]
            while len(stream) < self.step_size:
                stream += torch.randperm(self.source_rows[source], generator=generator).tolist()
            rows, streams[source] = stream[: self.step_size], stream[self.step_size :]
            yield from (self.offsets[source] + i for i in rows)
