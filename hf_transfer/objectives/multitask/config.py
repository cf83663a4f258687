"""The recipe's ``multitask`` block: the task table, how batches are drawn, how losses are weighted.

Example (YAML)::

    multitask:
      sampling: temperature        # proportional | temperature | round_robin (homogeneous batches)
      temperature: 2.0
      loss_weighting: fixed        # fixed (per-task `weight`) | uncertainty (learned, Kendall et al. 2018)
      tasks:
        - {name: sentiment, kind: single_label_classification, label_column: sentiment}
        - {name: subjectivity, kind: single_label_classification, label_column: subjectivity}

A task without data keys reads the recipe's dataset (several label columns of one dataset: rows missing a
task's label are masked for that task, and batches are mixed). A task with its own ``dataset_name`` or
``train_file`` reads that data; batches are then homogeneous per data source, drawn by ``sampling``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from ...config.arguments import json_spec
from ...errors import RecipeError, did_you_mean, unknown_keys
from ...metrics import check_metric_names
from ...typed_values import coerce_fields
from ...wrappers.multitask import LOSS_WEIGHTINGS, TASK_KINDS

SAMPLINGS = ("proportional", "temperature", "round_robin")
BATCHINGS = ("auto", "homogeneous", "mixed")
TASK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # a head's name in a ModuleDict, a metric key prefix
RESERVED_NAMES = ("mean",)
DATA_KEYS = ("dataset_name", "dataset_config_name", "train_file", "validation_file", "test_file")


@dataclass
class TaskSpec:
    """One task of the recipe: its name, kind, where its labels are, and how it is weighted and scored."""

    name: str = field(metadata={"help": "Task name (head name, metric prefix, prediction key)."})
    kind: str = field(
        default="single_label_classification", metadata={"help": f"One of {', '.join(TASK_KINDS)}."}
    )
    label_column: str | None = field(
        default=None, metadata={"help": "Column with this task's label (default: the task name)."}
    )
    weight: float = field(default=1.0, metadata={"help": "Loss weight (fixed weighting)."})
    metrics: list[str] | None = field(
        default=None,
        metadata={"help": "Metrics (default: accuracy + f1 for classification, mse + mae for regression)."},
    )
    text_column: str | None = field(
        default=None, metadata={"help": "Text column of this task's own dataset (default: the recipe's)."}
    )
    dataset_name: str | None = field(default=None, metadata={"help": "This task's own dataset."})
    dataset_config_name: str | None = field(default=None, metadata={"help": "Config of that dataset."})
    train_file: str | None = field(default=None, metadata={"help": "This task's own train file."})
    validation_file: str | None = field(default=None, metadata={"help": "Its validation file."})
    test_file: str | None = field(default=None, metadata={"help": "Its test file."})

    def __post_init__(self):
        if self.kind not in TASK_KINDS:
            raise RecipeError(
                f"Task {self.name!r}: unknown kind {self.kind!r}.{did_you_mean(self.kind, TASK_KINDS)} "
                f"Use one of {', '.join(TASK_KINDS)}."
            )
        if (
            not isinstance(self.name, str)
            or not TASK_NAME.fullmatch(self.name)
            or self.name in RESERVED_NAMES
        ):
            raise RecipeError(
                f"Task name {self.name!r} is not allowed: use letters, digits and _ (starting with a letter), and "
                f"not {' or '.join(RESERVED_NAMES)} (the cross-task means are reported as mean_<metric>)."
            )
        self.label_column = self.label_column or self.name
        if self.metrics is None:
            self.metrics = ["mse", "mae"] if self.kind == "regression" else ["accuracy", "f1"]
        if isinstance(self.metrics, str):
            self.metrics = [self.metrics]
        if self.weight < 0:
            raise RecipeError(f"Task {self.name!r}: weight must be ≥ 0, got {self.weight}.")
        check_metric_names(self.metrics, f"metrics` of task `{self.name}")

    @property
    def has_own_data(self) -> bool:
        return bool(self.dataset_name or self.train_file)

    def data_key(self) -> tuple:
        """Tasks with equal keys read the same rows (one data source)."""
        return tuple(getattr(self, key) for key in DATA_KEYS) + (self.text_column,)


@dataclass
class MultiTaskSettings:
    """Multi-task options: the tasks, the batch sampling between data sources, the loss weighting."""

    tasks: list[TaskSpec] = field(default_factory=list, metadata={"help": "The task table."})
    sampling: str = field(
        default="proportional",
        metadata={
            "help": "Which data source each homogeneous batch comes from: proportional (to its rows), temperature "
            "(rows^(1/T)), round_robin (in turn)."
        },
    )
    temperature: float = field(
        default=2.0, metadata={"help": "T of temperature sampling (1 = proportional)."}
    )
    batching: str = field(
        default="auto",
        metadata={
            "help": "homogeneous (one data source per batch), mixed (rows of every source shuffled together), or "
            "auto: homogeneous when the tasks read several data sources."
        },
    )
    loss_weighting: str = field(default="fixed", metadata={"help": f"One of {', '.join(LOSS_WEIGHTINGS)}."})

    def __post_init__(self):
        if len(self.tasks) < 2:
            raise RecipeError(
                f"multitask: `tasks` lists {len(self.tasks)} task(s); a multi-task recipe needs at least two "
                "(each with name, kind, label_column). For one task, drop the `multitask` block and set "
                "`label_column`."
            )
        self.tasks = [task if isinstance(task, TaskSpec) else task_from_spec(task) for task in self.tasks]
        names = [task.name for task in self.tasks]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise RecipeError(
                f"multitask: task names must be unique; rename the repeated {', '.join(repr(d) for d in duplicates)}."
            )
        for key, value, valid in (
            ("sampling", self.sampling, SAMPLINGS),
            ("batching", self.batching, BATCHINGS),
            ("loss_weighting", self.loss_weighting, LOSS_WEIGHTINGS),
        ):
            if value not in valid:
                raise RecipeError(
                    f"multitask: unknown {key} {value!r}.{did_you_mean(value, valid)} Use one of {', '.join(valid)}."
                )
        if self.temperature <= 0:
            raise RecipeError(f"multitask: temperature must be > 0, got {self.temperature}.")

    @property
    def homogeneous(self) -> bool:
        sources = {task.data_key() for task in self.tasks}
        return self.batching == "homogeneous" or (self.batching == "auto" and len(sources) > 1)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        defaults = {f.name: f.default for f in dataclasses.fields(TaskSpec) if f.name != "name"}
        values["tasks"] = [
            {k: v for k, v in task.items() if k in ("name", "kind") or v != defaults.get(k)}
            for task in values["tasks"]
        ]
        return values

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> MultiTaskSettings:
        if not isinstance(spec, dict):
            raise RecipeError(f"`multitask` must be a mapping with `tasks`, got {type(spec).__name__}.")
        return cls(**_checked(spec, cls, "multitask option", "multitask"))


def _checked(values: dict[str, Any], cls, what: str, where: str) -> dict[str, Any]:
    """``values`` with no unknown key, each converted to its field's type."""
    valid = [f.name for f in dataclasses.fields(cls)]
    hints = unknown_keys(values, valid)
    if hints:
        raise RecipeError(f"Unknown {what}(s): {hints} Valid: {', '.join(valid)}.")
    return coerce_fields(cls, values, where)


def task_from_spec(spec: dict[str, Any]) -> TaskSpec:
    if not isinstance(spec, dict) or "name" not in spec:
        raise RecipeError(f"Every task is a mapping with at least `name` and `kind`; got {spec!r}.")
    name = spec["name"]
    return TaskSpec(**_checked(spec, TaskSpec, f"option of task {name!r}", f"multitask task {name!r}"))


@dataclass
class MultiTaskArguments:
    """Multi-task learning: one shared backbone and a head per task (see :class:`MultiTaskSettings`)."""

    multitask: dict | str | None = field(
        default=None,
        metadata={
            "help": "Multi-task learning: a mapping with `tasks` (each: name, kind, label_column, weight, metrics, and "
            "optionally its own dataset_name / train_file…), `sampling` (proportional, temperature, round_robin), "
            "`temperature`, `batching` and `loss_weighting` (fixed, uncertainty); unset: single task."
        },
    )
    multitask_config: MultiTaskSettings | None = field(init=False, repr=False, default=None)

    def __post_init__(self):
        if self.multitask is None:
            return
        self.multitask_config = MultiTaskSettings.from_spec(json_spec(self.multitask, "multitask"))
        self.multitask = self.multitask_config.to_dict()
