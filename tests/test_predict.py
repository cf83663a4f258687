"""``hf_transfer.predict`` labels single-task texts through ``transformers.pipeline``, with the same labels and
scores as decoding the model's own logits; multi-task models and images keep hf_transfer's decoding."""

from __future__ import annotations

import pytest

from hf_transfer import train
from hf_transfer.inference import Predictor

TEXTS = ["a gripping, funny film", "dull, long and flat", "the plot follows a man home"]


@pytest.mark.parametrize(
    "overrides",
    [{}, {"strategy": "feature_extraction", "pooling": "mean"}, {"pooling": "mean", "strategy": {"type": "peft"}}],
    ids=["stock", "pooled", "pooled-lora"],
)
def test_single_task_texts_go_through_the_pipeline_with_the_models_own_scores(overrides, tiny_recipe):
    out = train(tiny_recipe(**overrides, max_steps=2)).output_dir
    predictor = Predictor(out)
    assert predictor.pipeline is not None and predictor.pipeline.task == "text-classification"
    records = predictor(TEXTS, top_k=2)
    decoded = predictor.objective.decode(predictor.model, predictor._logits(TEXTS), top_k=2)
    for record, expected in zip(records, decoded, strict=True):
        assert record["label"] == expected["label"]
        assert record["score"] == pytest.approx(expected["score"], abs=1e-5)
        assert [r["label"] for r in record["top_k"]] == [r["label"] for r in expected["top_k"]]


def test_multitask_and_image_models_keep_their_own_decoding(tiny_recipe, tiny_image_recipe):
    multitask = tiny_recipe(
        dataset_config_name="multitask",
        multitask={"tasks": [{"name": "sentiment", "label_column": "sentiment"},
                             {"name": "subjectivity", "label_column": "subjectivity"}]},
        max_train_samples=96, max_eval_samples=48, max_test_samples=48, max_steps=2,
    )
    assert Predictor(train(multitask).output_dir).pipeline is None
    assert Predictor(train(tiny_image_recipe("vit", max_steps=2)).output_dir).pipeline is None
