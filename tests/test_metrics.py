"""Metrics load offline from the shipped evaluate modules and agree with scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef, precision_score, recall_score
from transformers import EvalPrediction

from hf_transfer.errors import RecipeError
from hf_transfer.metrics import LOCAL_METRICS, MetricSuite, parse_metric

PREDICTIONS = [0, 1, 2, 2, 1, 0, 1, 2]
REFERENCES = [0, 2, 2, 2, 1, 0, 0, 1]


def test_multiclass_metrics_match_sklearn():
    names = ["accuracy", "f1", "f1_micro", "f1_weighted", "precision_macro", "recall", "matthews_correlation"]
    results = MetricSuite(names, num_labels=3).compute(PREDICTIONS, REFERENCES)
    assert results == pytest.approx(
        {
            "accuracy": accuracy_score(REFERENCES, PREDICTIONS),
            "f1": f1_score(REFERENCES, PREDICTIONS, average="macro"),
            "f1_micro": f1_score(REFERENCES, PREDICTIONS, average="micro"),
            "f1_weighted": f1_score(REFERENCES, PREDICTIONS, average="weighted"),
            "precision_macro": precision_score(REFERENCES, PREDICTIONS, average="macro"),
            "recall": recall_score(REFERENCES, PREDICTIONS, average="macro"),
            "matthews_correlation": matthews_corrcoef(REFERENCES, PREDICTIONS),
        }
    )


def test_plain_f1_is_binary_for_two_classes():
    predictions, references = [1, 1, 0, 0, 1], [1, 0, 0, 1, 1]
    results = MetricSuite(["f1", "f1_macro"], num_labels=2).compute(predictions, references)
    assert results["f1"] == pytest.approx(f1_score(references, predictions))
    assert results["f1_macro"] == pytest.approx(f1_score(references, predictions, average="macro"))


def test_suite_is_a_trainer_compute_metrics():
    logits = np.eye(3)[PREDICTIONS] + 0.1
    results = MetricSuite(["accuracy"], num_labels=3)(
        EvalPrediction(predictions=logits, label_ids=np.array(REFERENCES))
    )
    assert results["accuracy"] == pytest.approx(accuracy_score(REFERENCES, PREDICTIONS))


def test_metric_specs():
    assert parse_metric("f1_weighted", 3).kwargs == {"average": "weighted"}
    assert parse_metric("matthews_correlation", 3).module == "matthews_correlation"
    with pytest.raises(RecipeError, match="needs exactly 2 classes"):
        parse_metric("f1_binary", 3)


def test_local_modules_are_evaluate_modules_loaded_by_path():
    import evaluate

    from hf_transfer.metrics import LOCAL_METRICS_DIR

    for name in LOCAL_METRICS:
        module = evaluate.load(str(LOCAL_METRICS_DIR / name))
        assert module.name == name


def test_unknown_metric_offline_lists_the_local_ones():
    with pytest.raises(RecipeError, match=r"Cannot load metric 'bleurt_score'.*accuracy, f1, precision"):
        MetricSuite(["bleurt_score"], num_labels=2)


def test_empty_metric_list_is_an_error():
    with pytest.raises(RecipeError, match="empty"):
        MetricSuite([], num_labels=2)
