"""Metrics through ``evaluate``: shipped local modules (offline) and any Hub or path module by name.

A recipe names metrics as strings. ``accuracy``, ``f1``, ``precision``, ``recall`` and
``matthews_correlation`` load from the modules shipped here, by path, with no network; ``f1``, ``precision``
and ``recall`` take an optional average suffix (``f1_macro``, ``precision_weighted``…; plain ``f1`` is binary
for two classes and macro otherwise). Any other name goes to ``evaluate.load`` (the Hub when reachable, or a
local module path).

Example::

    >>> from hf_transfer.metrics import MetricSuite
    >>> suite = MetricSuite(["accuracy", "f1_macro"], num_labels=3)
    >>> suite.compute(predictions=[0, 1, 2], references=[0, 1, 1])
    {'accuracy': 0.666..., 'f1_macro': 0.555...}
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import evaluate
import numpy as np
from huggingface_hub import constants

from ..errors import RecipeError, did_you_mean

LOCAL_METRICS_DIR = Path(__file__).resolve().parent
LOCAL_METRICS = ("accuracy", "f1", "precision", "recall", "matthews_correlation", "mse", "mae")
REGRESSION_METRICS = ("mse", "mae")
AVERAGED = ("f1", "precision", "recall")
AVERAGES = ("binary", "macro", "micro", "weighted")


@functools.cache
def load_metric(name: str, config_name: str | None = None):
    """An ``evaluate`` module: the local copy for shipped names, else ``evaluate.load(name)`` (Hub or path).

    ``config_name="multilabel"`` takes rows of 0/1 indicators (accuracy, f1, precision, recall).
    """
    if name in LOCAL_METRICS:
        return evaluate.load(str(LOCAL_METRICS_DIR / name), config_name)
    try:
        return evaluate.load(name, config_name)
    except Exception as err:  # evaluate raises FileNotFoundError, ConnectionError, ValueError…
        raise RecipeError(
            f"Cannot load metric {name!r} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}). "
            f"Metrics available offline: {', '.join(LOCAL_METRICS)} (f1/precision/recall with _macro, _micro, "
            "_weighted or _binary). Other names need the Hub (go online) or a path to a local evaluate module."
        ) from None


def known_metric_names() -> list[str]:
    """Every metric name that loads offline: the shipped modules and their averaged variants."""
    return [*LOCAL_METRICS, *(f"{base}_{average}" for base in AVERAGED for average in AVERAGES)]


def check_metric_names(names: list[str], key: str = "metrics") -> None:
    """Refuse, before anything loads, a metric name that cannot load: offline, only the shipped modules and local
    module paths exist (online, other names go to ``evaluate.load`` when the metrics are built)."""
    for name in names:
        base, _, average = name.rpartition("_")
        if name in LOCAL_METRICS or (base in AVERAGED and average in AVERAGES) or Path(name).exists():
            continue
        if constants.HF_HUB_OFFLINE or base in AVERAGED:
            raise RecipeError(
                f"Unknown metric {name!r} in `{key}`.{did_you_mean(name, known_metric_names())} Metrics available "
                f"offline: {', '.join(LOCAL_METRICS)} (f1/precision/recall with _macro, _micro, _weighted or "
                "_binary), or a path to a local evaluate module."
            )


@dataclass(frozen=True)
class MetricSpec:
    """One requested metric: the module to load, the keyword arguments, the reported key."""

    name: str
    module: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def parse_metric(name: str, num_labels: int) -> MetricSpec:
    base, _, average = name.rpartition("_")
    if base in AVERAGED and average in AVERAGES:
        if average == "binary" and num_labels != 2:
            raise RecipeError(
                f"Metric {name!r} needs exactly 2 classes, the data has {num_labels}; use {base}_macro."
            )
        return MetricSpec(name, base, {"average": average})
    if name in AVERAGED:
        return MetricSpec(name, name, {"average": "binary" if num_labels == 2 else "macro"})
    return MetricSpec(name, name)


class MetricSuite:
    """Computes several metrics on class predictions; ``__call__`` is a ``Trainer`` ``compute_metrics``."""

    def __init__(self, names: list[str], num_labels: int, config_name: str | None = None):
        if not names:
            raise RecipeError("`metrics` is empty: name at least one metric, e.g. [accuracy].")
        if config_name == "multilabel":  # plain f1/precision/recall: micro-averaged over every (row, label)
            self.specs = [
                MetricSpec(n, n, {"average": "micro"})
                if n in AVERAGED
                else parse_metric(n, max(num_labels, 3))
                for n in names
            ]
        else:
            self.specs = [parse_metric(name, num_labels) for name in names]
        self.modules = {spec.module: load_metric(spec.module, config_name) for spec in self.specs}

    def compute(self, predictions, references) -> dict[str, float]:
        results: dict[str, float] = {}
        for spec in self.specs:
            value = self.modules[spec.module].compute(
                predictions=predictions, references=references, **spec.kwargs
            )
            if spec.module in LOCAL_METRICS:
                results[spec.name] = float(value[spec.module])
            else:
                results.update({k: v for k, v in value.items() if np.isscalar(v)})
        return results

    def __call__(self, eval_prediction) -> dict[str, float]:
        logits = eval_prediction.predictions
        if isinstance(logits, tuple):
            logits = logits[0]
        predictions = np.asarray(logits).argmax(axis=-1)
        return self.compute(predictions.tolist(), np.asarray(eval_prediction.label_ids).tolist())


__all__ = [
    "REGRESSION_METRICS",
    "LOCAL_METRICS",
    "MetricSpec",
    "MetricSuite",
    "check_metric_names",
    "known_metric_names",
    "load_metric",
    "parse_metric",
]


def strip_prefix(metrics: dict[str, float], prefix: str) -> dict[str, float]:
    """``{"eval_accuracy": …}`` → ``{"accuracy": …}``: the Trainer's metric keys without their split prefix."""
    return {k[len(prefix) + 1 :] if k.startswith(prefix + "_") else k: v for k, v in metrics.items()}
