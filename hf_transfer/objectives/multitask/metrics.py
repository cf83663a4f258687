"""Per-task metrics for a multi-task model, plus their mean: a ``Trainer`` ``compute_metrics``.

Each task is scored on the rows that carry its label: classification on the arg-max class, multi-label on
``sigmoid > 0.5`` per class (subset accuracy, micro-averaged f1/precision/recall), regression on the value.
Keys are ``{task}_{metric}``; ``mean_{metric}`` averages a metric over the tasks that report it, and
``mean_score`` averages each task's first metric when every task names a higher-is-better one first.

Example::

    >>> metrics = MultiTaskMetrics(data.tasks, {"sentiment": ["accuracy"], "subjectivity": ["accuracy", "f1"]})
    >>> metrics(EvalPrediction(predictions=logits, label_ids=labels))
    {'sentiment_accuracy': 0.84, 'subjectivity_accuracy': 0.97, 'subjectivity_f1': 0.85, 'mean_accuracy': 0.905}
"""

from __future__ import annotations

import numpy as np

from ...errors import RecipeError
from ...metrics import REGRESSION_METRICS, MetricSuite
from ...wrappers.multitask import MultiTaskConfig

LOWER_IS_BETTER = REGRESSION_METRICS


class MultiTaskMetrics:
    def __init__(self, tasks: list[dict], metrics: dict[str, list[str]]):
        self.config = MultiTaskConfig(tasks=tasks)
        self.suites = {}
        for task in self.config.tasks:
            names = metrics[task["name"]]
            regression = task["kind"] == "regression"
            wrong = [n for n in names if (n in REGRESSION_METRICS) != regression]
            if wrong:
                kind = "regression" if regression else "classification"
                raise RecipeError(
                    f"Task {task['name']!r} ({kind}) cannot report {', '.join(wrong)}: use "
                    f"{'mse, mae' if regression else 'accuracy, f1, precision, recall (with _macro…)'}."
                )
            config_name = "multilabel" if task["kind"] == "multi_label_classification" else None
            self.suites[task["name"]] = MetricSuite(
                names, num_labels=MultiTaskConfig.output_width(task), config_name=config_name
            )

    def task_predictions(self, logits: np.ndarray, labels: np.ndarray) -> dict[str, tuple[list, list]]:
        """Per task: (predictions, references) on the rows that carry the task's label."""
        label_slices, logit_slices = self.config.label_slices(), self.config.logit_slices()
        out = {}
        for task in self.config.tasks:
            name = task["name"]
            refs = labels[:, label_slices[name]]
            rows = ~np.isnan(refs).any(axis=-1)
            scores, refs = logits[rows][:, logit_slices[name]], refs[rows]
            if task["kind"] == "single_label_classification":
                out[name] = (scores.argmax(-1).tolist(), refs[:, 0].astype(int).tolist())
            elif task["kind"] == "multi_label_classification":
                out[name] = ((scores > 0).astype(int).tolist(), refs.astype(int).tolist())
            else:
                out[name] = (scores[:, 0].tolist(), refs[:, 0].tolist())
        return out

    def __call__(self, eval_prediction) -> dict[str, float]:
        logits = eval_prediction.predictions
        logits = np.asarray(logits[0] if isinstance(logits, tuple) else logits, dtype=np.float64)
        labels = np.asarray(eval_prediction.label_ids, dtype=np.float64)
        results: dict[str, float] = {}
        by_metric: dict[str, list[float]] = {}
        for name, (predictions, references) in self.task_predictions(logits, labels).items():
            if not references:
                continue  # the task has no labelled row in this split
            for metric, value in self.suites[name].compute(predictions, references).items():
                results[f"{name}_{metric}"] = value
                by_metric.setdefault(metric, []).append(value)
        for metric, values in by_metric.items():
            if len(values) > 1:
                results[f"mean_{metric}"] = float(np.mean(values))
        firsts = [s.specs[0].name for s in self.suites.values()]
        if all(f not in LOWER_IS_BETTER for f in firsts):
            scores = [
                results[f"{n}_{f}"] for n, f in zip(self.suites, firsts, strict=True) if f"{n}_{f}" in results
            ]
            if scores:
                results["mean_score"] = float(np.mean(scores))
        return results
