# Local copy of the `evaluate` Hub module "precision" (Apache-2.0), so that metrics load offline.
"""Precision for binary, multiclass and multilabel classification."""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import precision_score

_DESCRIPTION = "Precision = TP / (TP + FP): the fraction of positive predictions that are correct."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): ground-truth labels.
    labels (list of int): the labels to include when average != 'binary', default None (all).
    pos_label (int): the positive class when average='binary', default 1.
    average (str): 'binary' (default), 'micro', 'macro', 'weighted', 'samples' or None (per class).
    sample_weight (list of float): sample weights, default None.
    zero_division (int or str): value when the denominator is zero: 0, 1 or 'warn' (default).
Returns:
    precision (float, or an array of floats when average=None)
Examples:
    >>> metric = evaluate.load("precision")
    >>> metric.compute(predictions=[0, 1, 1], references=[0, 1, 0], average="macro")
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Precision(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("int32")),
                    "references": datasets.Sequence(datasets.Value("int32")),
                }
                if self.config_name == "multilabel"
                else {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
            reference_urls=[
                "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.precision_score.html"
            ],
        )

    def _compute(
        self,
        predictions,
        references,
        labels=None,
        pos_label=1,
        average="binary",
        sample_weight=None,
        zero_division="warn",
    ):
        score = precision_score(
            references,
            predictions,
            labels=labels,
            pos_label=pos_label,
            average=average,
            sample_weight=sample_weight,
            zero_division=zero_division,
        )
        return {"precision": float(score) if np.ndim(score) == 0 else score}
