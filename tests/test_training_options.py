"""Training options users expect: class weights (the loss, its weights, every objective) and early stopping."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch
from conftest import tiny_batch, tiny_model

from hf_transfer import parse_recipe, train
from hf_transfer.data import load_raw_datasets
from hf_transfer.errors import DataError, RecipeError
from hf_transfer.training import TransferTrainer
from hf_transfer.wrappers import DomainAdversarialModel
from hf_transfer.wrappers.class_weighting import WeightedCrossEntropyLoss, class_weight_values
from hf_transfer.wrappers.multitask import task_loss

# ---- the loss and the weights -----------------------------------------------------------------------------------


def test_the_weighted_loss_is_the_weight_averaged_cross_entropy():
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0], [-1.0, 1.0, 3.0], [0.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1, 2, -100])
    weight = [1.0, 3.0, 0.5]
    ce = -torch.log_softmax(logits, dim=-1)[torch.arange(3), labels[:3]]
    w = torch.tensor(weight)[labels[:3]]
    expected = (w * ce).sum() / w.sum()  # the row without a label takes no part
    torch.testing.assert_close(WeightedCrossEntropyLoss(weight)(logits, labels), expected)
    plain = torch.nn.functional.cross_entropy(logits[:3], labels[:3])
    torch.testing.assert_close(WeightedCrossEntropyLoss([2.0, 2.0, 2.0])(logits, labels), plain)
    nothing = WeightedCrossEntropyLoss(weight)(logits, torch.full((4,), -100))
    assert nothing.item() == 0.0 and nothing.requires_grad is False


def test_balanced_weights_follow_n_over_k_times_n_c_and_mappings_name_labels():
    assert class_weight_values("balanced", ["a", "b"], [30, 10]) == [40 / (2 * 30), 40 / (2 * 10)]
    assert class_weight_values({"b": 4}, ["a", "b", "c"], [1, 1, 1]) == [1.0, 4.0, 1.0]


@pytest.mark.parametrize(
    ("spec", "counts", "message"),
    [
        ("balanced", [5, 0], "'b' has none"),
        ({"z": 2.0}, [5, 5], "names label\\(s\\) 'z' the data does not have; its labels: a, b"),
        ({"a": -1}, [5, 5], "must be positive numbers"),
    ],
)
def test_bad_class_weights_are_refused_with_the_fix(spec, counts, message):
    with pytest.raises(RecipeError, match=message):
        class_weight_values(spec, ["a", "b"], counts)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"class_weight": ["balanced"]}, "must be a mapping or a string.*e.g. `class_weight: balanced`"),
        ({"class_weight": "inverse"}, "must be `balanced` or a non-empty mapping"),
        ({"early_stopping_patience": 2, "eval_strategy": "no"}, "needs evaluations"),
        ({"early_stopping_patience": 2, "eval_strategy": "epoch", "save_strategy": "no"}, "save_strategy: epoch"),
        ({"early_stopping_patience": 0, "eval_strategy": "epoch", "save_strategy": "epoch"}, "at least 1"),
    ],
)
def test_bad_training_options_are_refused_at_parse_time(tiny_recipe, overrides, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe(tiny_recipe(**overrides))


def test_class_weights_come_as_json_on_the_command_line(tiny_recipe):
    recipe = parse_recipe(tiny_recipe(), ["--class_weight", '{"negative": 2.5}'])
    assert recipe.training.class_weight == {"negative": 2.5}


# ---- every objective weighs its loss ----------------------------------------------------------------------------


def test_the_trainer_computes_the_weighted_loss_from_the_logits(tiny_recipe):
    torch.manual_seed(0)
    model = tiny_model("bert").eval()
    batch = tiny_batch("bert", size=6)
    weight = [1.0, 5.0, 0.2]
    trainer = TransferTrainer(
        model=model, args=parse_recipe(tiny_recipe()).training, task_loss=WeightedCrossEntropyLoss(weight)
    )
    loss = trainer.compute_loss(model, dict(batch))
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        logits = model(**inputs).logits
        plain = model(**batch).loss
    expected = torch.nn.functional.cross_entropy(logits, batch["labels"], weight=torch.tensor(weight))
    torch.testing.assert_close(loss.detach(), expected)
    assert not torch.isclose(loss.detach(), plain)


def test_a_weighted_loss_is_scaled_for_gradient_accumulation_like_the_models_own(tiny_recipe):
    """Equal class weights give the plain loss, so the gradients of one accumulated micro-batch must match."""
    batch = tiny_batch("bert", size=6)
    args = parse_recipe(tiny_recipe(gradient_accumulation_steps=2)).training

    def gradients(task_loss):
        torch.manual_seed(0)
        model = tiny_model("bert")
        trainer = TransferTrainer(model=model, args=args, task_loss=task_loss)
        trainer.current_gradient_accumulation_steps = 2
        model.train()
        torch.manual_seed(1)
        trainer.training_step(trainer.model, dict(batch))
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    torch.testing.assert_close(gradients(WeightedCrossEntropyLoss([1.0, 1.0, 1.0])), gradients(None))


def test_the_domain_adaptation_wrapper_weighs_its_task_loss():
    torch.manual_seed(0)
    model = DomainAdversarialModel.wrap(tiny_model("bert"), alignment="source_only").train()
    batch = tiny_batch("bert", size=6)
    labels = batch.pop("labels")
    labels[3:] = -100  # target rows
    domains = torch.tensor([0, 0, 0, 1, 1, 1])
    model.task_loss_function = WeightedCrossEntropyLoss([1.0, 4.0, 0.5])
    torch.manual_seed(1)
    out = model(labels=labels, domains=domains, **batch)
    expected = WeightedCrossEntropyLoss([1.0, 4.0, 0.5])(out.logits, labels)
    torch.testing.assert_close(out.loss_parts["task_loss"], expected)


def test_a_multitask_head_weighs_its_rows_and_skips_missing_labels():
    logits = torch.tensor([[1.0, -1.0], [0.0, 2.0], [0.3, 0.1]])
    labels = torch.tensor([[0.0], [1.0], [float("nan")]])
    loss, seen = task_loss("single_label_classification", logits, labels, torch.tensor([1.0, 3.0]))
    expected = WeightedCrossEntropyLoss([1.0, 3.0])(logits[:2], torch.tensor([0, 1]))
    torch.testing.assert_close(loss, expected)
    assert seen.item() == 1.0


def test_a_run_with_balanced_weights_records_and_reports_them(tiny_recipe):
    recipe = tiny_recipe(class_weight="balanced", max_steps=2)
    result = train(recipe)
    data = parse_recipe(recipe).data
    counts = Counter(str(label) for label in load_raw_datasets(data, seed=0)["train"]["label"])
    labels = result.metrics["labels"]
    n, k = sum(counts.values()), len(labels)
    expected = {name: n / (k * counts[name]) for name in labels}
    assert result.metrics["class_weights"] == pytest.approx(expected)
    saved = json.loads((Path(result.output_dir) / "metrics.json").read_text())
    assert saved["class_weights"] == pytest.approx(expected)
    assert "class_weights" in (Path(result.output_dir) / "README.md").read_text()


def test_a_multitask_run_takes_per_task_weights(tiny_recipe):
    from test_multitask import multitask_recipe

    weights = {"sentiment": {"positive": 2.0}, "subjectivity": "balanced"}
    recipe = multitask_recipe(tiny_recipe, class_weight=weights, max_steps=2)
    result = train(recipe)
    recorded = result.metrics["class_weights"]
    assert recorded["sentiment"] == {"negative": 1.0, "positive": 2.0}
    raw = load_raw_datasets(parse_recipe(recipe).data, seed=0)["train"]["subjectivity"]
    counts = Counter(str(v) for v in raw if v is not None)
    n, k = sum(counts.values()), len(counts)
    assert recorded["subjectivity"] == pytest.approx({name: n / (k * c) for name, c in counts.items()})
    bad = multitask_recipe(tiny_recipe, class_weight={"positive": 2.0}, max_steps=1)
    with pytest.raises(RecipeError, match="'positive' is none of them"):
        train({**bad, "output_dir": bad["output_dir"] + "-bad"})


# ---- early stopping ---------------------------------------------------------------------------------------------


def test_early_stopping_stops_when_the_validation_metric_stops_improving(tiny_recipe):
    recipe = tiny_recipe(
        learning_rate=1e-9,  # nothing moves: no evaluation improves by the threshold
        num_train_epochs=10,
        eval_strategy="steps",
        eval_steps=1,
        save_strategy="steps",
        save_steps=1,
        early_stopping_patience=2,
        early_stopping_threshold=0.05,
        metric_for_best_model="accuracy",
    )
    result = train(recipe)
    stop = result.metrics["early_stopping"]
    assert stop["stopped_early"] and stop["stopped_at_step"] == 3 < stop["planned_steps"] == 40
    assert stop["best_checkpoint"] == "checkpoint-1" and stop["metric"] == "accuracy"


# ---- named evaluation sets --------------------------------------------------------------------------------------


def test_named_evaluation_sets_are_scored_reported_and_can_choose_the_checkpoint(tiny_recipe, review_files):
    import pandas as pd

    reviews = review_files["csv"].with_name("reviews_as_training_columns.csv")
    frame = pd.read_csv(review_files["csv"]).rename(columns={"review": "text", "sentiment": "label"})
    frame.to_csv(reviews, index=False)
    recipe = tiny_recipe(
        eval_files={
            "reviews": str(reviews),
            "amazon": {"dataset_name": "sentiment_domains", "dataset_config_name": "amazon", "split": "test"},
        },
        max_steps=4,
        eval_strategy="steps",
        eval_steps=2,
        save_strategy="steps",
        save_steps=2,
        load_best_model_at_end=True,
        metric_for_best_model="amazon_accuracy",
    )
    result = train(recipe)
    sets = result.metrics["eval_sets"]
    assert set(sets) == {"reviews", "amazon"} and result.metrics["rows"]["amazon"] == 32  # max_eval_samples
    logged = [entry for entry in result.trainer.state.log_history if "eval_amazon_accuracy" in entry]
    assert len(logged) == 3  # at steps 2 and 4, then the final score
    assert any("eval_validation_accuracy" in e for e in result.trainer.state.log_history)
    assert result.trainer.args.metric_for_best_model == "amazon_accuracy"
    assert result.trainer.state.best_metric == max(e["eval_amazon_accuracy"] for e in logged[:2])
    assert sets["amazon"]["accuracy"] == logged[-1]["eval_amazon_accuracy"]
    card = (Path(result.output_dir) / "README.md").read_text()
    assert "amazon" in card and "reviews" in card


def test_a_metric_without_a_set_name_means_validation(tiny_recipe, review_files):
    recipe = parse_recipe(
        tiny_recipe(eval_files={"other": str(review_files["csv"])}, metric_for_best_model="accuracy")
    )
    assert recipe.training.metric_for_best_model == "validation_accuracy"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"test": "x.csv"}, "other than train, validation, test"),
        ({"a b": "x.csv"}, "must be a word"),
        ({"amazon": {"dataset_config_name": "amazon"}}, "takes dataset_name \\(required\\)"),
        ({"amazon": 3}, "must be a file path or a mapping"),
        ("x.csv", "must be a non-empty mapping"),
    ],
)
def test_bad_eval_files_are_refused(tiny_recipe, spec, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe(tiny_recipe(eval_files=spec))


def test_a_missing_evaluation_split_names_the_splits(tiny_recipe):
    recipe = tiny_recipe(eval_files={"amazon": {"dataset_name": "sentiment_domains", "dataset_config_name": "amazon", "split": "dev"}}, max_steps=1)
    with pytest.raises(DataError, match="has no 'dev' split; its splits"):
        train(recipe)
