"""What a saved run records about its objective, and reading it back: the one place that knows old formats.

``metrics.json`` (format 2) holds ``objective`` (the outermost objective) and ``objectives`` (outermost first,
the task objective last). Runs saved before (format 1) recorded neither; :func:`recorded_objectives` infers
theirs from the keys they wrote, so old run folders still get cards, reports and evaluations.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config.arguments import DataArguments
from ..modeling import load_processor, resolve_checkpoint
from ..run_files import METRICS_FILE, MODEL_CONFIG_FILE, RECIPE_FILE


def recorded_objectives(metrics: dict[str, Any] | None, model_type: str | None = None) -> list[str]:
    """The objectives of a saved run, outermost first. Without ``metrics.json`` (a classifier saved elsewhere),
    the model type decides (a ``MultiTaskModel`` is multi-task)."""
    if metrics and metrics.get("objectives"):
        return list(metrics["objectives"])
    if metrics and metrics.get("objective"):
        return [metrics["objective"]]
    if metrics:  # format 1: which blocks it wrote
        task = "multitask" if "multitask" in metrics else "single_task"
        return (["domain_adaptation"] if "domain_adaptation" in metrics else []) + [task]
    return ["multitask" if model_type == "hf_transfer_multitask" else "single_task"]


@dataclass
class SavedRun:
    """A folder written by a run (or any saved classifier): its recipe values, metrics and objectives."""

    path: Path
    recipe: dict[str, Any]
    metrics: dict[str, Any] | None
    objectives: list[str]

    @classmethod
    def read(cls, path: str | Path) -> SavedRun:
        path = Path(path)
        recipe_file, metrics_file = path / RECIPE_FILE, path / METRICS_FILE
        recipe = (
            (yaml.safe_load(recipe_file.read_text(encoding="utf-8")) or {}) if recipe_file.is_file() else {}
        )
        metrics = json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.is_file() else None
        config_file = path / MODEL_CONFIG_FILE
        model_type = json.loads(config_file.read_text()).get("model_type") if config_file.is_file() else None
        return cls(path, recipe, metrics, recorded_objectives(metrics, model_type))

    @property
    def task_objective(self) -> str:
        return self.objectives[-1]

    @functools.cached_property
    def checkpoint(self):
        return resolve_checkpoint(str(self.path))

    def processor(self):
        return load_processor(self.checkpoint)

    def data_values(self, overrides: dict | None = None) -> dict[str, Any]:
        """The recipe's data keys, with ``overrides`` (e.g. another dataset) on top."""
        keys = {f.name for f in dataclasses.fields(DataArguments)}
        return {**{k: v for k, v in self.recipe.items() if k in keys}, **(overrides or {})}

    def data_arguments(self, overrides: dict | None = None) -> DataArguments:
        return DataArguments(**self.data_values(overrides))

    def metric_names(self, given: list[str] | None) -> list[str]:
        return list(given or self.recipe.get("metrics") or ["accuracy", "f1"])


@dataclass
class EvaluationInputs:
    """What evaluating a saved model needs: the model, its processor, the encoded split and the metrics."""

    model: Any
    processor: Any
    dataset: Any
    compute_metrics: Any


def input_record(row: dict, column: str, index: int) -> dict:
    """The text of a row, or for an image row (not JSON material) its row number in the split."""
    value = row.get(column)
    return {"text": value} if isinstance(value, str) else {"row": index}


def prediction_pairs(
    records: Iterable[dict], labels: list[str], task: str | None = None
) -> list[tuple[str, str]]:
    """``(true, predicted)`` label names of every labelled row: a single-task row's ``label`` / ``prediction``,
    or with ``task`` a multi-task row's ``{task: {"true", "label"}}`` (rows without the task's label skipped).

    >>> prediction_pairs([{"text": "ok", "label": "pos", "prediction": "neg", "score": 0.6}], ["neg", "pos"])
    [('pos', 'neg')]
    """
    pairs = []
    for record in records:
        if task is None:
            true, predicted = record.get("label"), record.get("prediction")
        else:
            entry = record.get(task) or {}
            true, predicted = entry.get("true"), entry.get("label")
        if true is not None and predicted is not None:
            pairs.append((_label_name(true, labels), str(predicted)))
    return pairs


def _label_name(value: Any, labels: list[str]) -> str:
    """A true label as a class name: a class id (from a ``ClassLabel`` column) indexes ``labels``."""
    is_id = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(labels)
    return labels[value] if is_id and str(value) not in labels else str(value)
