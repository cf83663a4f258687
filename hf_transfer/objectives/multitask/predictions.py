"""Turning a multi-task model's concatenated logits into one prediction per task.

Example::

    >>> decode_tasks(model.config.tasks, logits)[0]
    {'sentiment': {'label': 'positive', 'score': 0.97}, 'rating': {'value': 1.8}}
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, softmax

from ...wrappers.multitask import MultiTaskConfig


def decode_tasks(tasks: list[dict], logits) -> list[dict[str, dict]]:
    """Per row, per task: ``{"label", "score"}`` (single-label: the arg-max class and its probability),
    ``{"labels", "scores"}`` (multi-label: the classes with probability > 0.5, and every class's probability),
    or ``{"value"}`` (regression)."""
    logits = np.asarray(logits, dtype=np.float64)
    slices = MultiTaskConfig(tasks=tasks).logit_slices()
    rows: list[dict[str, dict]] = [{} for _ in range(len(logits))]
    for task in tasks:
        name, scores = task["name"], logits[:, slices[task["name"]]]
        if task["kind"] == "single_label_classification":
            probabilities = softmax(scores, axis=-1)
            for row, p in zip(rows, probabilities, strict=True):
                best = int(p.argmax())
                row[name] = {"label": task["labels"][best], "score": round(float(p[best]), 6)}
        elif task["kind"] == "multi_label_classification":
            probabilities = expit(scores)
            for row, p in zip(rows, probabilities, strict=True):
                row[name] = {
                    "labels": [label for label, q in zip(task["labels"], p, strict=True) if q > 0.5],
                    "scores": {label: round(float(q), 6) for label, q in zip(task["labels"], p, strict=True)},
                }
        else:
            for row, value in zip(rows, scores[:, 0], strict=True):
                row[name] = {"value": round(float(value), 6)}
    return rows
