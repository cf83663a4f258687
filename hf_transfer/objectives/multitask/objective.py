"""The ``multitask`` objective: one shared backbone, a head per task, per-task metrics and predictions.

Chosen by a recipe's ``multitask:`` block (or ``objective: multitask``). Tasks read the recipe's data or their
own; batches are mixed or homogeneous per data source (:class:`TaskBatchSampler`). ``metrics.json`` gets the task
table under ``multitask``; ``predictions_test.jsonl`` one line per test row with every task's prediction.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from datasets import DatasetDict

from ...data import encode_splits
from ...data.builtin_datasets import BUILTIN_DATASETS
from ...data.describe import dataset_reference, is_hub_id
from ...errors import DataError, RecipeError
from ...wrappers import load_multitask_model, load_trained_classifier
from ...wrappers.class_weighting import BALANCED, class_weight_values
from ...wrappers.multitask import MultiTaskConfig
from ..base import Objective, ObjectiveData, TrainerInputs, register_objective
from ..records import EvaluationInputs, SavedRun, input_record, prediction_pairs
from .config import MultiTaskArguments, MultiTaskSettings
from .data import MultiTaskData, TaskBatchSampler, build_multitask_data, missing_label_vector, pack_labels
from .metrics import MultiTaskMetrics
from .predictions import decode_tasks


@register_objective("multitask")
class MultiTask(Objective):
    """One shared backbone and a head per task (classification, multi-label or regression)."""

    arguments = MultiTaskArguments

    @classmethod
    def requested(cls, arguments) -> bool:
        return arguments is not None and arguments.multitask_config is not None

    @property
    def settings(self) -> MultiTaskSettings:
        if self.options is None or self.options.multitask_config is None:
            raise DataError("`objective: multitask` needs a `multitask:` block with its `tasks`.")
        return self.options.multitask_config

    def protected_paths(self) -> dict[str, str]:
        paths = {}
        for task in self.settings.tasks:
            for key in ("dataset_name", "train_file", "validation_file", "test_file"):
                paths[f"multitask task {task.name!r} {key}"] = getattr(task, key)
        return paths

    def load_data(self, processor) -> ObjectiveData:
        args = self.recipe.training
        seed = args.data_seed if args.data_seed is not None else args.seed
        with args.main_process_first(desc="tokenising"):
            self.tasks_data: MultiTaskData = build_multitask_data(
                self.recipe.data, self.settings, processor, seed
            )
        data = self.tasks_data
        labels = {t["name"]: t["labels"] for t in data.tasks}
        self.data = ObjectiveData(raw=next(iter(data.raw.values())), encoded=data.encoded, labels=labels)
        return self.data

    def build_model(self, checkpoint, default_pooling: str):
        model_args = self.recipe.model
        return load_multitask_model(
            checkpoint,
            self.tasks_data.tasks,
            pooling=model_args.pooling or "auto",
            loss_weighting=self.settings.loss_weighting,
            revision=model_args.revision,
            cache_dir=model_args.cache_dir,
            trust_remote_code=model_args.trust_remote_code,
        )

    def describe_data(self) -> str:
        return "tasks: " + "; ".join(
            f"{t['name']} ({t['kind']}: {', '.join(t['labels']) if t['labels'] else 'a number'})"
            for t in self.tasks_data.tasks
        )

    @classmethod
    def check_recipe(cls, recipe, source: str) -> None:
        if recipe.data.eval_files:
            raise RecipeError(
                f"{source}: `eval_files` adds evaluation sets to a single-task recipe; a multi-task recipe names "
                "each task's data in its `multitask:` block. Drop `eval_files`."
            )

    @cached_property
    def class_weights(self) -> dict[str, list[float]]:
        """Per single-label task, its class weights (``class_weight``: ``balanced`` for every such task, or
        ``{task: balanced | {label: weight}}``), counted on the packed training labels."""
        spec = self.recipe.training.class_weight
        if spec is None:
            return {}
        tasks = {t["name"]: t for t in self.tasks_data.tasks if t["kind"] == "single_label_classification"}
        if spec == BALANCED:
            spec = dict.fromkeys(tasks, BALANCED)
        unknown = [name for name in spec if name not in tasks]
        if unknown:
            raise RecipeError(
                f"`class_weight` of a multi-task recipe maps single-label task names to `balanced` or {{label: "
                f"weight}}; {', '.join(map(repr, unknown))} is none of them (tasks: {', '.join(tasks) or 'none'})."
            )
        packed = self.tasks_data.encoded["train"].with_format(None)["labels"]
        slices = MultiTaskConfig(tasks=self.tasks_data.tasks).label_slices()
        weights = {}
        for name, task_spec in spec.items():
            column = slices[name].start
            ids = [int(row[column]) for row in packed if row[column] == row[column]]  # NaN: not this task's row
            counts = [ids.count(i) for i in range(len(tasks[name]["labels"]))]
            weights[name] = class_weight_values(task_spec, tasks[name]["labels"], counts)
        return weights

    def trainer_inputs(self, model, processor) -> TrainerInputs:
        settings, args, data = self.settings, self.recipe.training, self.tasks_data
        weights = self.class_weights
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        base.class_weights = {name: torch.tensor(values) for name, values in weights.items()}
        metrics = MultiTaskMetrics(data.tasks, {t.name: t.metrics for t in settings.tasks})
        self.sampler = None
        if settings.homogeneous:
            self.sampler = TaskBatchSampler(
                data.source_rows,
                args.per_device_train_batch_size,
                settings.sampling,
                settings.temperature,
                args.seed,
            )
        encoded = data.encoded  # `data_source` stays: the Trainer drops it (the model takes no such input)
        return TrainerInputs(model, encoded["train"], encoded["validation"], metrics, sampler=self.sampler)

    def record(self) -> dict[str, Any]:
        settings, data = self.settings, self.tasks_data
        weights = self.class_weights
        return {
            "labels": self.data.labels,
            **(
                {
                    "class_weights": {
                        name: dict(zip(task["labels"], weights[name], strict=True))
                        for task in self.tasks_data.tasks
                        if (name := task["name"]) in weights
                    }
                }
                if weights
                else {}
            ),
            "multitask": {
                "tasks": data.tasks,
                "batching": "homogeneous" if settings.homogeneous else "mixed",
                "sampling": settings.sampling if settings.homogeneous else None,
                "source_rows": dict(zip(data.raw, data.source_rows, strict=True)),
                **({"source_probabilities": self.sampler.probabilities} if self.sampler is not None else {}),
            },
        }

    def write_predictions(self, path: Path, logits) -> None:
        """One JSON line per test row: the text (or row number), each task's true label (``None`` when missing)
        and prediction."""
        data = self.tasks_data
        decoded = iter(decode_tasks(data.tasks, logits))
        with open(path, "w", encoding="utf-8") as f:
            for source, raw in data.raw.items():  # test rows are in source order, as concatenated
                if "test" not in raw:
                    continue
                for index, row in enumerate(raw["test"]):
                    record = input_record(row, data.input_columns[source], index)
                    prediction = next(decoded)
                    for name in data.source_tasks[source]:
                        record[name] = {"true": row[data.label_columns[name]], **prediction[name]}
                    f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")

    # -- as the task of a wrapper objective (domain adaptation) -------------------------------------------------

    def _model_config(self) -> MultiTaskConfig:
        return MultiTaskConfig(tasks=self.tasks_data.tasks)

    def target_labelled(self, raw: DatasetDict, target_args) -> bool:
        """Whether every target split holds every task's label column."""
        columns = [t.label_column for t in self.settings.tasks]
        return all(c in split.column_names for split in raw.values() for c in columns)

    def encode_target(self, raw: DatasetDict, target_args, processor, labelled: bool) -> DatasetDict:
        if labelled:
            raw = pack_labels(raw, self.settings.tasks, self._model_config(), "target")
        return encode_splits(raw, target_args, processor, None)

    def missing_labels(self, rows: int) -> list:
        return [missing_label_vector(self._model_config())] * rows

    # -- a saved run ----------------------------------------------------------------------------------------------

    @staticmethod
    def _specs(recipe_values: dict[str, Any]) -> dict[str, Any]:
        if not recipe_values.get("multitask"):
            return {}
        return {spec.name: spec for spec in MultiTaskSettings.from_spec(recipe_values["multitask"]).tasks}

    @classmethod
    def card(cls, context: dict[str, Any], saved: SavedRun) -> None:
        """The multi-task template, the task table with each task's metrics, and each task's data."""
        specs = cls._specs(saved.recipe)
        tasks = [
            {**task, "metrics": specs[task["name"]].metrics if task["name"] in specs else []}
            for task in context["config"].tasks
        ]
        results = context["results"]
        rows = []
        for task in tasks:
            for metric in task.get("metrics") or ():
                key = f"{task['name']}_{metric}"
                rows.append(
                    {"task": task["name"], "metric": metric, **{s: v.get(key) for s, v in results.items()}}
                )
        for key in sorted({k for values in results.values() for k in values if k.startswith("mean_")}):
            rows.append({"task": "mean", "metric": key[5:], **{s: v.get(key) for s, v in results.items()}})
        task_data = {}
        for name, spec in specs.items():
            if spec.has_own_data:
                own = {k: getattr(spec, k) for k in ("dataset_name", "dataset_config_name", "train_file")}
                task_data[name] = dataset_reference(own, modality=context["modality"])
                if (
                    spec.dataset_name
                    and is_hub_id(spec.dataset_name)
                    and spec.dataset_name not in BUILTIN_DATASETS
                ):
                    context["datasets"] = sorted(set(context.get("datasets") or []) | {spec.dataset_name})
        context.update(template="multitask.md", tasks=tasks, task_results=rows, task_data=task_data)
        context["tags"].append("multi-task")

    @classmethod
    def describe(cls, metrics: dict[str, Any]) -> str:
        tasks = [task["name"] for task in (metrics.get("multitask") or {}).get("tasks", [])]
        return f"multi-task: {', '.join(tasks)}"

    @classmethod
    def summary_rows(cls, metrics: dict[str, Any], splits: dict[str, dict]):
        """Per split, one row per task and one for the means over tasks."""
        tasks = [task["name"] for task in (metrics.get("multitask") or {}).get("tasks", [])]
        by_length = sorted(tasks, key=len, reverse=True)  # task "a_b" before task "a"
        rows: dict[tuple[str, str], dict] = {}
        for split, values in splits.items():
            per_task: dict[str, dict] = {task: {} for task in tasks}
            means: dict[str, Any] = {}
            for key, value in values.items():
                task = next((t for t in by_length if key.startswith(t + "_")), None)
                if task is not None:
                    per_task[task][key[len(task) + 1 :]] = value
                elif key.startswith("mean_"):
                    means["score" if key == "mean_score" else key[len("mean_") :]] = value
                else:
                    means[key] = value
            rows.update({(split, task): row for task, row in per_task.items() if row})
            rows[(split, "all tasks")] = means
        return ["split", "task"], rows

    @classmethod
    def confusion_pairs(cls, metrics: dict[str, Any], records: list[dict]) -> dict:
        pairs = {}
        for task in metrics["multitask"]["tasks"]:
            if task["kind"] == "single_label_classification":
                found = prediction_pairs(records, task["labels"], task["name"])
                if found:
                    pairs[task["name"]] = (task["labels"], found)
        return pairs

    @classmethod
    def evaluate_saved(cls, saved: SavedRun, split: str, data_overrides: dict, metrics, batch_size: int):
        """A saved multi-task model on a split of its recipe's data: every task's metrics, their means."""
        settings = MultiTaskSettings.from_spec(saved.recipe["multitask"])
        if metrics:
            for task in settings.tasks:
                task.metrics = list(metrics)
        processor = saved.processor()
        model = load_trained_classifier(saved.checkpoint.path)
        data = build_multitask_data(
            saved.data_arguments(data_overrides), settings, processor, seed=saved.recipe.get("seed", 42)
        )
        trained = {t["name"]: t["labels"] for t in model.config.tasks}
        found = {t["name"]: t["labels"] for t in data.tasks}
        if found != trained:
            raise DataError(
                f"The data's task labels {found} differ from the model's {trained}: evaluate on data with the same "
                "labels per task."
            )
        if split not in data.encoded:
            raise DataError(f"The data has no {split!r} split; its splits are: {', '.join(data.encoded)}.")
        suite = MultiTaskMetrics(data.tasks, {t.name: t.metrics for t in settings.tasks})
        return EvaluationInputs(model, processor, data.encoded[split], suite)

    @classmethod
    def decode(cls, model, logits, top_k: int = 1) -> list[dict]:
        return decode_tasks(model.config.tasks, logits.float().numpy())
