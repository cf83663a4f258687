"""``single_task``: one classifier on the recipe's data (``label_column``), a head of the checkpoint or a pooled one.

What a recipe does without ``multitask:`` — text or image classification, scored by the recipe's ``metrics``;
``predictions_test.jsonl`` holds each test row's text (or row number), label, prediction and score.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from datasets import ClassLabel, DatasetDict
from scipy.special import softmax

from ..data import (
    check_columns,
    check_known_labels,
    encode_splits,
    input_columns,
    label_counts,
    label_names,
    load_eval_sets,
    load_raw_datasets,
)
from ..errors import DataError
from ..metrics import MetricSuite
from ..modeling import load_classifier
from ..wrappers import load_trained_classifier
from ..wrappers.class_weighting import WeightedCrossEntropyLoss, class_weight_values
from .base import Objective, ObjectiveData, TrainerInputs, register_objective
from .records import EvaluationInputs, SavedRun, input_record, prediction_pairs

UNLABELLED = -100  # the label of a row without one (cross-entropy ignores it)


@register_objective("single_task")
class SingleTask(Objective):
    """One classification head on the recipe's labelled data (the default objective)."""

    supports_feature_cache = True

    def load_data(self, processor) -> ObjectiveData:
        data_args, args = self.recipe.data, self.recipe.training
        seed = args.data_seed if args.data_seed is not None else args.seed
        raw = load_raw_datasets(data_args, seed=seed, label_column=data_args.label_column)
        extra = load_eval_sets(data_args, seed=seed, label_column=data_args.label_column)
        check_columns(DatasetDict({**raw, **extra}), input_columns(data_args, processor))
        names = label_names(raw, data_args.label_column)
        check_known_labels(extra, data_args.label_column, names)
        raw = DatasetDict({**raw, **extra})
        with args.main_process_first(desc="tokenising"):
            encoded = encode_splits(raw, data_args, processor, names)
        self.data = ObjectiveData(raw=raw, encoded=encoded, labels=names, eval_sets=list(extra))
        return self.data

    @classmethod
    def check_recipe(cls, recipe, source: str) -> None:
        """With named evaluation sets the Trainer names metrics `<set>_<metric>`: a `metric_for_best_model`
        without a set's name means validation's."""
        sets = recipe.data.eval_files
        args = recipe.training
        if sets and args.metric_for_best_model:
            metric = args.metric_for_best_model.removeprefix("eval_")
            if not any(metric.startswith(f"{name}_") for name in ("validation", *sets)):
                args.metric_for_best_model = f"validation_{metric}"

    def build_model(self, checkpoint, default_pooling: str):
        model_args = self.recipe.model
        return load_classifier(
            checkpoint,
            id2label=dict(enumerate(self.data.labels)),
            revision=model_args.revision,
            cache_dir=model_args.cache_dir,
            trust_remote_code=model_args.trust_remote_code,
            ignore_mismatched_sizes=model_args.ignore_mismatched_sizes,
            pooling=model_args.pooling or default_pooling,
        )

    def describe_data(self) -> str:
        return f"labels: {', '.join(self.data.labels)}"

    @cached_property
    def class_weights(self) -> list[float] | None:
        """The weight of each class (``class_weight``), from the training rows; None without class weights."""
        spec = self.recipe.training.class_weight
        if spec is None:
            return None
        counts = label_counts(self.data.raw["train"], self.recipe.data.label_column, self.data.labels)
        return class_weight_values(spec, self.data.labels, counts)

    def trainer_inputs(self, model, processor) -> TrainerInputs:
        encoded = self.data.encoded
        metrics = MetricSuite(self.recipe.training.metrics, num_labels=len(self.data.labels))
        weights = self.class_weights
        smoothing = self.recipe.training.label_smoothing_factor
        loss = WeightedCrossEntropyLoss(weights, smoothing) if weights else None
        evaluation = encoded["validation"]
        if self.data.eval_sets:  # the Trainer scores each set at every evaluation (metrics `eval_<set>_…`)
            evaluation = {"validation": evaluation, **{name: encoded[name] for name in self.data.eval_sets}}
        return TrainerInputs(model, encoded["train"], evaluation, metrics, task_loss=loss)

    def record(self) -> dict[str, Any]:
        weights = self.class_weights
        return {
            "labels": self.data.labels,
            **({"class_weights": dict(zip(self.data.labels, weights, strict=True))} if weights else {}),
        }

    def write_predictions(self, path: Path, logits) -> None:
        """One JSON line per test row: its text (or, for images, its row number), true label, prediction, score."""
        data_args, names, raw_test = self.recipe.data, self.data.labels, self.data.raw["test"]
        probabilities = softmax(np.asarray(logits, dtype=np.float64), axis=-1)
        feature = raw_test.features.get(data_args.label_column)
        true_name = feature.int2str if isinstance(feature, ClassLabel) else str
        with open(path, "w", encoding="utf-8") as f:
            for index, (row, probs) in enumerate(zip(raw_test, probabilities, strict=True)):
                best = int(probs.argmax())
                record = input_record(row, data_args.text_column, index)
                if data_args.text_pair_column:
                    record["text_pair"] = row[data_args.text_pair_column]
                record.update({"label": true_name(row[data_args.label_column]), "prediction": names[best]})
                record["score"] = round(float(probs[best]), 6)
                f.write(json.dumps(record, ensure_ascii=False) + "\n")

    # -- as the task of a wrapper objective (domain adaptation) -------------------------------------------------

    def target_labelled(self, raw: DatasetDict, target_args) -> bool:
        """Whether every target split carries this task's labels (checked to be known ones)."""
        labelled = all(target_args.label_column in split.column_names for split in raw.values())
        if labelled:
            check_known_labels(
                raw, target_args.label_column, self.data.labels, known_from="the source's labels"
            )
        return labelled

    def encode_target(self, raw: DatasetDict, target_args, processor, labelled: bool) -> DatasetDict:
        """Encoded target splits: with labels when ``labelled``, else inputs only."""
        return encode_splits(raw, target_args, processor, self.data.labels if labelled else None)

    def missing_labels(self, rows: int) -> list:
        """The ``labels`` of ``rows`` unlabelled rows."""
        return [UNLABELLED] * rows

    # -- a saved run ----------------------------------------------------------------------------------------------

    @classmethod
    def card(cls, context: dict[str, Any], saved: SavedRun) -> None:
        kind, modality = context["model_kind"], context["modality"]
        if kind.endswith("adapter"):
            context["template"] = "adapter.md"
        else:
            context["template"] = (
                "image_classification.md" if modality == "image" else "text_classification.md"
            )

    @classmethod
    def confusion_pairs(cls, metrics: dict[str, Any], records: list[dict]) -> dict:
        return {None: (metrics["labels"], prediction_pairs(records, metrics["labels"]))}

    @classmethod
    def evaluate_saved(cls, saved: SavedRun, split: str, data_overrides: dict, metrics, batch_size: int):
        data_args = saved.data_arguments(data_overrides)
        raw = load_raw_datasets(
            data_args, seed=saved.recipe.get("seed", 42), label_column=data_args.label_column
        )
        if split not in raw:
            raise DataError(f"The dataset has no {split!r} split; its splits are: {', '.join(raw)}.")
        raw = DatasetDict({split: raw[split]})
        processor = saved.processor()
        check_columns(raw, input_columns(data_args, processor))
        model = load_trained_classifier(saved.checkpoint.path)
        names = [model.config.id2label[i] for i in range(model.config.num_labels)]
        check_known_labels(raw, data_args.label_column, names, known_from="the model's labels")
        encoded = encode_splits(raw, data_args, processor, names)
        suite = MetricSuite(saved.metric_names(metrics), num_labels=len(names))
        return EvaluationInputs(model, processor, encoded[split], suite)

    @classmethod
    def decode(cls, model, logits, top_k: int = 1) -> list[dict]:
        id2label = model.config.id2label
        probabilities = logits.float().softmax(dim=-1)
        scores, indices = probabilities.topk(min(top_k, probabilities.shape[-1]), dim=-1)
        records = []
        for row_scores, row_indices in zip(scores.tolist(), indices.tolist(), strict=True):
            record = {"label": id2label[row_indices[0]], "score": row_scores[0]}
            if top_k > 1:
                record["top_k"] = [
                    {"label": id2label[i], "score": s} for i, s in zip(row_indices, row_scores, strict=True)
                ]
            records.append(record)
        return records
