# Local copy of the `evaluate` Hub module "matthews_correlation" (Apache-2.0), so that metrics load offline.
"""Matthews correlation coefficient: a balanced measure of classification quality in [-1, 1]."""

import datasets
import evaluate
from sklearn.metrics import matthews_corrcoef

_DESCRIPTION = (
    "MCC = (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) for binary tasks, with the multiclass "
    "generalisation otherwise: +1 perfect, 0 chance, -1 inverse."
)
_KWARGS_DESCRIPTION = """
Args:
    predictions (list of int): predicted labels.
    references (list of int): ground-truth labels.
    sample_weight (list of float): sample weights, default None.
Returns:
    matthews_correlation (float)
Examples:
    >>> metric = evaluate.load("matthews_correlation")
    >>> metric.compute(predictions=[0, 1, 1, 0], references=[0, 1, 1, 0])
    {'matthews_correlation': 1.0}
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class MatthewsCorrelation(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
            reference_urls=[
                "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.matthews_corrcoef.html"
            ],
        )

    def _compute(self, predictions, references, sample_weight=None):
        return {
            "matthews_correlation": float(
                matthews_corrcoef(references, predictions, sample_weight=sample_weight)
            )
        }
