"""The adaptation stage kinds: ``mlm`` (continued masked-LM pretraining, TAPT) and ``self_train`` (pseudo-label
rounds): what they train, what the next stage starts from, what they report, and their bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModel, AutoModelForSequenceClassification

from hf_transfer import train
from hf_transfer.errors import RecipeError
from hf_transfer.stages import SelfTrainingArguments, select_confident
from hf_transfer.wrappers import load_trained_classifier

DOMAINS = {
    "dataset_name": "sentiment_domains",
    "dataset_config_name": "movies",
    "target_dataset_name": "sentiment_domains",
    "target_dataset_config_name": "amazon",
}


def test_threshold_selection_keeps_rows_at_or_above_it():
    probabilities = np.array([[0.95, 0.05], [0.6, 0.4], [0.1, 0.9], [0.3, 0.7]])
    kept = select_confident(
        probabilities, SelfTrainingArguments(selection="threshold", confidence_threshold=0.9)
    )
    assert kept.tolist() == [0, 2]


def test_class_balanced_selection_keeps_the_top_fraction_of_each_predicted_class():
    # 6 rows predicted class 0 (confidence 0.9 … 0.65), 2 predicted class 1
    probabilities = np.array(
        [
            [0.9, 0.1],
            [0.65, 0.35],
            [0.8, 0.2],
            [0.7, 0.3],
            [0.85, 0.15],
            [0.75, 0.25],
            [0.2, 0.8],
            [0.45, 0.55],
        ]
    )
    kept = select_confident(probabilities, SelfTrainingArguments(keep_fraction=0.5))
    assert kept.tolist() == [
        0,
        2,
        4,
        6,
    ]  # the 3 most confident 0s, the more confident 1: the 6 : 2 balance kept
    assert len(select_confident(probabilities, SelfTrainingArguments(keep_fraction=1.0))) == 8


def test_mlm_stage_adapts_the_encoder_and_the_next_stage_starts_from_it(tiny_recipe, tiny_checkpoints):
    """Stage 1 trains masked-LM on the target's text and saves the encoder alone; stage 2 (a frozen encoder with a
    new head) must end with exactly stage 1's encoder weights."""
    recipe = tiny_recipe(
        "bert",
        **DOMAINS,
        adaptation={"type": "source_only", "measure_domain_gap": False},
        stages=[
            {"kind": "mlm", "max_steps": 4, "learning_rate": 5e-3, "per_device_train_batch_size": 16},
            {"kind": "train", "strategy": "feature_extraction", "max_steps": 2},
        ],
    )
    result = train(recipe)
    first = result.output_dir / "stages" / "1-mlm"
    report = json.loads((first / "metrics.json").read_text())["mlm"]
    assert report["head"] == "fresh" and report["text"] == "target" and report["rows"]["train"] > 2000
    assert report["loss_after"] < report["loss_before"]  # it learned the target's tokens
    assert json.loads((first / "config.json").read_text())["architectures"] == ["BertModel"]
    saved = load_file(first / "model.safetensors")
    assert not any(k.startswith(("cls.", "classifier.")) for k in saved)  # the masked-LM head is dropped
    original = AutoModel.from_pretrained(tiny_checkpoints["bert"]).state_dict()
    adapted = AutoModel.from_pretrained(first).state_dict()
    assert not torch.equal(
        original["encoder.layer.0.attention.self.query.weight"],
        adapted["encoder.layer.0.attention.self.query.weight"],
    )
    assert torch.equal(
        adapted["pooler.dense.weight"], original["pooler.dense.weight"]
    )  # the checkpoint's pooler
    final = load_trained_classifier(result.output_dir).state_dict()
    for name, tensor in adapted.items():
        matches = [k for k in final if k.endswith(f"bert.{name}") or k.endswith(f"backbone.{name}")]
        if not name.startswith("pooler."):
            assert len(matches) == 1 and torch.equal(final[matches[0]], tensor), name
    assert [s["kind"] for s in result.metrics["stages"]] == ["mlm", "train"]
    assert "target_test" in result.metrics


def test_mlm_stage_reads_a_text_file(tiny_recipe, tmp_path):
    text = tmp_path / "domain.txt"
    text.write_text(
        "\n".join(f"the battery lasts {i} hours and the screen is bright" for i in range(40)) + "\n\n"
    )
    result = train(
        tiny_recipe(
            "bert",
            stages=[
                {"kind": "mlm", "mlm_text": "file", "mlm_text_file": str(text), "max_steps": 2},
                {"kind": "train", "max_steps": 1},
            ],
        )
    )
    report = json.loads((result.output_dir / "stages" / "1-mlm" / "metrics.json").read_text())["mlm"]
    assert report["rows"] == {"train": 36, "validation": 4}  # blank lines dropped, 10 % held out


def test_self_training_rounds_pseudo_label_the_target_and_report_it(tiny_recipe):
    recipe = tiny_recipe(
        "bert",
        **DOMAINS,
        adaptation={"type": "source_only", "measure_domain_gap": False},
        stages=[
            {"kind": "train", "name": "source", "max_steps": 2},
            {"kind": "self_train", "rounds": 2, "keep_fraction": 0.25, "max_steps": 2},
        ],
    )
    result = train(recipe)
    stage = result.output_dir / "stages" / "2-self_train"
    rounds = json.loads((stage / "metrics.json").read_text())["self_training"]
    assert [r["round"] for r in rounds] == [1, 2]
    for report in rounds:
        assert report["of"] == 2880 and 0.25 * 2880 <= report["kept"] <= 0.25 * 2880 + 2
        assert sum(report["kept_per_class"]) == report["kept"]
        assert 0 <= report["pseudo_label_accuracy"] <= 1  # amazon's train labels score them, nothing else
    round_two = (stage / "round-2" / "recipe.yaml").read_text()
    assert str(stage / "round-1") in round_two  # round 2 started from round 1's model
    top = AutoModelForSequenceClassification.from_pretrained(result.output_dir).state_dict()
    last = AutoModelForSequenceClassification.from_pretrained(stage / "round-2").state_dict()
    assert all(torch.equal(top[k], last[k]) for k in last)
    assert "target_test" in result.metrics


def test_max_target_train_samples_caps_the_target_rows_every_pass_reads(tiny_recipe):
    """One cap, seeded, for the target text an mlm stage reads, a self-training round pseudo-labels, and the
    adaptation's batches and prior correction use."""
    recipe = tiny_recipe(
        "bert",
        **DOMAINS,
        adaptation={"type": "mcc", "measure_domain_gap": False},
        max_target_train_samples=300,
        prior_correction="em",
        prior_tolerance=1.0,
        stages=[
            {"kind": "mlm", "max_steps": 1},
            {"kind": "train", "name": "source", "max_steps": 1, "prior_correction": "none"},
            {"kind": "self_train", "keep_fraction": 0.5, "max_steps": 1},
        ],
    )
    result = train(recipe)
    stages = result.output_dir / "stages"
    mlm = json.loads((stages / "1-mlm" / "metrics.json").read_text())["mlm"]
    # 300 of amazon's 2,880 train texts and its 32 validation texts (max_eval_samples), 10 % held out
    assert mlm["rows"] == {"train": 298, "validation": 34}
    source = json.loads((stages / "2-source" / "metrics.json").read_text())["domain_adaptation"]
    assert source["target_rows"]["train"] == 300
    (round_one,) = json.loads((stages / "3-self_train" / "metrics.json").read_text())["self_training"]
    assert round_one["of"] == 300 and 150 <= round_one["kept"] <= 152
    assert result.metrics["domain_adaptation"]["target_rows"]["train"] == 300
    assert result.metrics["domain_adaptation"]["prior_correction"]["applied"]


@pytest.mark.parametrize(
    ("stages", "extra", "message"),
    [
        ([{"kind": "mlm"}], {}, "reads the target domain, but the recipe has none"),
        ([{"kind": "mlm", "mlm_text": "file"}], {}, "together with `mlm_text_file"),
        ([{"kind": "mlm", "mlm_text": "web"}], {}, "unknown mlm_text 'web'"),
        ([{"kind": "mlm", "mlm_text": "file", "mlm_text_file": "/nope.txt"}], {}, "is not a file"),
        ([{"kind": "self_train"}], {}, "self_train pseudo-labels the target domain"),
        ([{"kind": "self_train", "rounds": 0}], DOMAINS, "rounds must be ≥ 1"),
        ([{"kind": "self_train", "selection": "top"}], DOMAINS, "unknown selection 'top'"),
        ([{"kind": "self_train", "keep_fraction": 0}], DOMAINS, "keep_fraction"),
        (
            [{"kind": "self_train", "selection": "threshold", "confidence_threshold": 1.0}],
            DOMAINS,
            "confidence_threshold",
        ),
        ([{"kind": "mlm", "mlm_probability": 0}], DOMAINS, "mlm_probability must be in"),
        ([{"kind": "mlm", "mlm_validation_size": 1.5}], DOMAINS, "mlm_validation_size must be in"),
    ],
)
def test_bad_adaptation_stages_fail_before_anything_loads(tiny_recipe, tmp_path, stages, extra, message):
    adaptation = {"adaptation": "source_only"} if extra else {}
    recipe = tiny_recipe("bert", stages=stages, output_dir=str(tmp_path / "never"), **extra, **adaptation)
    with pytest.raises(RecipeError, match=message):
        train(recipe)
    assert not (tmp_path / "never").exists()


def test_text_combination_tapt_then_udalm_then_self_training_with_prior_correction(tiny_recipe):
    """mlm → udalm → self_train, prior correction on the final model: each stage starts from the previous one."""
    recipe = tiny_recipe(
        "bert",
        **DOMAINS,
        adaptation={"type": "udalm", "measure_domain_gap": False},
        prior_correction="em",
        prior_tolerance=1.0,
        stages=[
            {"kind": "mlm", "max_steps": 1},
            {"kind": "train", "max_steps": 2, "prior_correction": "none"},
            {
                "kind": "self_train",
                "max_steps": 1,
                "adaptation": {"type": "mcc", "measure_domain_gap": False},
            },
        ],
    )
    result = train(recipe)
    assert [s["kind"] for s in result.metrics["stages"]] == ["mlm", "train", "self_train"]
    report = result.metrics["domain_adaptation"]
    assert report["config"]["type"] == "mcc" and report["prior_correction"]["applied"]
    assert "prior_correction" not in result.metrics["stages"][1].get("domain_adaptation", {})
    second = (result.output_dir / "stages" / "2-train" / "recipe.yaml").read_text()
    assert "stages/1-mlm" in second  # the udalm stage started from the adapted encoder


def test_image_combination_adabn_then_fixmatch_rounds(tiny_image_recipe, image_folder):
    result = train(
        tiny_image_recipe(
            "mobilenet_v2",
            image_size=32,
            target_dataset_name=str(image_folder),
            target_degrade=["low_light"],
            adaptation={"type": "adabn", "measure_domain_gap": False},
            stages=[
                {"kind": "train", "max_steps": 2},
                {
                    "kind": "self_train",
                    "max_steps": 1,
                    "adaptation": {
                        "type": "fixmatch",
                        "fixmatch_threshold": 0.3,
                        "measure_domain_gap": False,
                    },
                },
            ],
        )
    )
    assert result.metrics["domain_adaptation"]["config"]["type"] == "fixmatch"
    assert result.metrics["self_training"][0]["kept"] > 0
    assert result.metrics["stages"][0]["kind"] == "train" and "target_test" in result.metrics
