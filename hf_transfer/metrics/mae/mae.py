"""Mean absolute error of regression predictions (a local ``evaluate`` module, usable offline)."""

import datasets
import evaluate
from sklearn.metrics import mean_absolute_error

_DESCRIPTION = "MAE = mean(|prediction − reference|)."
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of float): predicted values.
    references (list of float): true values.
    sample_weight (list of float): sample weights, default None.
Returns:
    mae (float)
Examples:
    >>> metric = evaluate.load("hf_transfer/metrics/mae")
    >>> metric.compute(predictions=[1.0, 2.0], references=[1.0, 4.0])
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MAE(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("float32"), "references": datasets.Value("float32")}
            ),
            reference_urls=[
                "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.mean_absolute_error.html"
            ],
        )

    def _compute(self, predictions, references, sample_weight=None):
        return {"mae": float(mean_absolute_error(references, predictions, sample_weight=sample_weight))}
