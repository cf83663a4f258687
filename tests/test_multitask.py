"""Multi-task learning: the model (every head, masking, weighting, round trip), sampling, data, the pipeline."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest
import torch
from conftest import ARCHITECTURES, tiny_backbone, tiny_batch
from transformers import AutoModel

from hf_transfer import train
from hf_transfer.errors import DataError, RecipeError
from hf_transfer.modeling import resolve_checkpoint
from hf_transfer.objectives.multitask import (
    MultiTaskMetrics,
    MultiTaskSettings,
    TaskBatchSampler,
    decode_tasks,
)
from hf_transfer.wrappers import MultiTaskConfig, MultiTaskModel, load_trained_classifier
from hf_transfer.wrappers.multitask import check_task_table

TASKS = [
    {"name": "topic", "kind": "single_label_classification", "labels": ["a", "b", "c"]},
    {"name": "tags", "kind": "multi_label_classification", "labels": ["x", "y"]},
    {"name": "rating", "kind": "regression", "weight": 0.5},
]
NAN = math.nan


def packed_labels(size: int, present: dict[str, bool] | None = None, seed: int = 0) -> torch.Tensor:
    """Labels (size, 1 + 2 + 1) for TASKS; tasks marked absent are NaN."""
    g = torch.Generator().manual_seed(seed)
    present = present or {}
    columns = {
        "topic": torch.randint(0, 3, (size, 1), generator=g).float(),
        "tags": torch.randint(0, 2, (size, 2), generator=g).float(),
        "rating": torch.randn(size, 1, generator=g),
    }
    for name, keep in present.items():
        if not keep:
            columns[name] = torch.full_like(columns[name], NAN)
    return torch.cat([columns["topic"], columns["tags"], columns["rating"]], dim=1)


def make_model(arch: str = "bert", **kwargs) -> MultiTaskModel:
    torch.manual_seed(0)
    return MultiTaskModel.from_backbone(tiny_backbone(arch), TASKS, **kwargs)


def inputs_of(arch: str, size: int = 4) -> dict:
    batch = tiny_batch(arch, size=size)
    batch.pop("labels")
    return batch


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_head_round_trips_through_auto_model(arch, tmp_path):
    model = make_model(arch, pooling="mean").eval()
    out = model(**inputs_of(arch), labels=packed_labels(4))
    assert list(out.keys())[0] == "loss" and out.loss.ndim == 0
    assert out.logits.shape == (4, 3 + 2 + 1)
    split = model.split_logits(out.logits)
    assert {k: v.shape[-1] for k, v in split.items()} == {"topic": 3, "tags": 2, "rating": 1}
    model.save_pretrained(tmp_path)
    reloaded = AutoModel.from_pretrained(tmp_path).eval()
    assert type(reloaded) is MultiTaskModel and reloaded.config.tasks == model.config.tasks
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs_of(arch)).logits, model(**inputs_of(arch)).logits)


def test_each_head_learns_only_from_its_own_rows():
    model = make_model().train()
    labels = packed_labels(4, present={"tags": False, "rating": False})  # topic rows only
    model(**inputs_of("bert"), labels=labels).loss.backward()
    grads = {name: head[-1].weight.grad for name, head in model.heads.items()}
    assert grads["topic"].abs().sum() > 0
    # the absent heads stay in the graph (DDP-safe) with an exactly zero gradient
    assert torch.count_nonzero(grads["tags"]) == 0 and torch.count_nonzero(grads["rating"]) == 0


def test_masked_labels_contribute_no_loss():
    model = make_model().eval()
    inputs, labels = inputs_of("bert", size=4), packed_labels(4)
    masked = labels.clone()
    masked[3, 0] = NAN  # row 3 loses its topic label only
    with torch.no_grad():
        full = model(**inputs, labels=masked).loss
        first_three = {k: v[:3] for k, v in inputs.items()}
        # the topic loss of rows 0-2 alone, plus the other tasks' losses on all 4 rows
        topic_only = model(**first_three, labels=torch.cat([labels[:3, :1], torch.full((3, 3), NAN)], 1)).loss
        others = model(**inputs, labels=torch.cat([torch.full((4, 1), NAN), labels[:, 1:]], 1)).loss
    torch.testing.assert_close(full, topic_only + others)


def test_fixed_weights_scale_each_task_loss():
    model = make_model().eval()
    inputs, labels = inputs_of("bert"), packed_labels(4)
    with torch.no_grad():
        total = model(**inputs, labels=labels).loss
        parts = []
        for keep in ("topic", "tags", "rating"):
            only = {name: name == keep for name in ("topic", "tags", "rating")}
            parts.append(model(**inputs, labels=packed_labels(4, present=only)).loss)
    # weights 1, 1, 0.5: the total is the weighted sum of the single-task losses
    torch.testing.assert_close(total, parts[0] + parts[1] + parts[2])
    model.config.tasks[2]["weight"] = 1.0
    with torch.no_grad():
        assert model(**inputs, labels=packed_labels(4, present={"topic": False, "tags": False})).loss == (
            pytest.approx(2 * parts[2].item(), rel=1e-5)
        )


def test_uncertainty_weights_follow_kendall_and_train():
    model = make_model(loss_weighting="uncertainty").train()
    weighting = model.loss_weighting
    assert torch.equal(weighting.log_variances.detach(), torch.zeros(3))
    losses, present = torch.tensor([2.0, 1.0, 4.0]), torch.tensor([1.0, 0.0, 1.0])
    with torch.no_grad():
        weighting.log_variances.copy_(torch.tensor([0.5, 0.3, -0.2]))
    expected = (math.exp(-0.5) * 2.0 + 0.25) + (0.5 * math.exp(0.2) * 4.0 - 0.1)  # task 2 absent
    assert weighting(losses, present).item() == pytest.approx(expected, rel=1e-6)
    with torch.no_grad():
        weighting.log_variances.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(**inputs_of("bert"), labels=packed_labels(4)).loss.backward()
    optimizer.step()
    assert not torch.equal(weighting.log_variances.detach(), torch.zeros(3))


@pytest.mark.parametrize(
    ("sampling", "expected"),
    [
        ("proportional", [600 / 1000, 300 / 1000, 100 / 1000]),
        ("temperature", [x / sum(n**0.5 for n in (600, 300, 100)) for x in (600**0.5, 300**0.5, 100**0.5)]),
        ("round_robin", [1 / 3, 1 / 3, 1 / 3]),
    ],
)
def test_sampler_draws_homogeneous_batches_in_the_defined_proportions(sampling, expected):
    sampler = TaskBatchSampler([600, 300, 100], batch_size=10, sampling=sampling, temperature=2.0, seed=1)
    assert sampler.probabilities == pytest.approx(expected)
    counts, batches = Counter(), 0
    for epoch in range(40):
        sampler.set_epoch(epoch)
        order = list(sampler)
        assert len(order) == len(sampler) == 100 * 10
        for b in range(0, len(order), 10):
            sources = {0 if i < 600 else 1 if i < 900 else 2 for i in order[b : b + 10]}
            assert len(sources) == 1  # one task per batch
            counts[sources.pop()] += 1
            batches += 1
    shares = [counts[s] / batches for s in range(3)]
    assert shares == pytest.approx(expected, abs=0.02)
    if sampling == "round_robin":
        sampler.set_epoch(0)
        firsts = list(sampler)[::10][:6]
        assert [0 if i < 600 else 1 if i < 900 else 2 for i in firsts] == [0, 1, 2, 0, 1, 2]


def test_metrics_score_each_task_on_its_labelled_rows():
    tasks = [TASKS[0], TASKS[2]]
    metrics = MultiTaskMetrics(tasks, {"topic": ["accuracy"], "rating": ["mse"]})
    logits = torch.tensor([[5.0, 0, 0, 1.0], [0, 5.0, 0, 2.0], [0, 0, 5.0, 0.0]]).numpy()
    labels = torch.tensor([[0.0, 1.0], [0.0, NAN], [NAN, 1.0]]).numpy()
    result = metrics(type("P", (), {"predictions": logits, "label_ids": labels})())
    assert result["topic_accuracy"] == pytest.approx(0.5)  # rows 0 and 1; row 2 has no topic label
    assert result["rating_mse"] == pytest.approx(((1 - 1) ** 2 + (0 - 1) ** 2) / 2)
    decoded = decode_tasks(tasks, logits)
    assert decoded[1]["topic"]["label"] == "b" and decoded[0]["rating"] == {"value": 1.0}


def test_an_unknown_task_kind_names_the_valid_ones():
    with pytest.raises(RecipeError, match="unknown kind 'clasification'.*single_label_classification"):
        MultiTaskSettings.from_spec({"tasks": [{"name": "a", "kind": "clasification"}, {"name": "b"}]})
    with pytest.raises(RecipeError, match="Unknown option of task 'a'.*'label_colum'.*label_column"):
        MultiTaskSettings.from_spec({"tasks": [{"name": "a", "label_colum": "x"}, {"name": "b"}]})
    with pytest.raises(RecipeError, match="unknown sampling 'temprature'.*temperature"):
        MultiTaskSettings.from_spec({"tasks": [{"name": "a"}, {"name": "b"}], "sampling": "temprature"})
    with pytest.raises(RecipeError, match="unknown kind 'ranking'"):
        check_task_table([{"name": "a", "kind": "ranking"}])
    with pytest.raises(ValueError, match="unknown kind 'ranking'"):  # the saved model's own code: no hf_transfer error
        MultiTaskConfig(tasks=[{"name": "a", "kind": "ranking"}])


# -- the pipeline on tiny checkpoints ------------------------------------------------------------------

RT_TASKS = {
    "tasks": [
        {"name": "sentiment", "label_column": "sentiment"},
        {"name": "subjectivity", "label_column": "subjectivity", "metrics": ["accuracy", "f1_macro"]},
    ]
}


def multitask_recipe(tiny_recipe, multitask=RT_TASKS, **overrides):
    recipe = tiny_recipe("bert", dataset_config_name="multitask", multitask=multitask, **overrides)
    recipe.update(max_train_samples=96, max_eval_samples=48, max_test_samples=48)
    return recipe


@pytest.fixture
def trained_multitask(tiny_recipe):
    return train(multitask_recipe(tiny_recipe, max_steps=4))


def test_one_dataset_run_scores_every_task_and_reloads_identically(trained_multitask):
    out = trained_multitask.output_dir
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["labels"] == {
        "sentiment": ["negative", "positive"],
        "subjectivity": ["objective", "subjective"],
    }
    assert metrics["multitask"]["batching"] == "mixed"
    for split in ("validation", "test"):
        assert {
            "sentiment_accuracy",
            "sentiment_f1",
            "subjectivity_accuracy",
            "subjectivity_f1_macro",
        } <= set(metrics[split])
        assert metrics[split]["mean_accuracy"] == pytest.approx(
            (metrics[split]["sentiment_accuracy"] + metrics[split]["subjectivity_accuracy"]) / 2
        )
    reloaded = load_trained_classifier(out).eval()
    assert type(reloaded) is MultiTaskModel
    model = trained_multitask.trainer.model.eval()
    tokenizer = trained_multitask.trainer.processing_class
    inputs = tokenizer(["a fine film", "the plot follows a man"], padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).logits, model(**inputs).logits)
    predictions = [json.loads(line) for line in (out / "predictions_test.jsonl").read_text().splitlines()]
    assert len(predictions) == 48
    assert all({"sentiment", "subjectivity"} <= set(p) for p in predictions)
    objective = [p for p in predictions if p["subjectivity"]["true"] == "objective"]
    assert all(p["sentiment"]["true"] is None for p in objective)  # plot rows: sentiment masked, not dropped
    card = (out / "README.md").read_text()
    assert "sentiment" in card and "subjectivity" in card and "MultiTaskModel" in card


def test_predict_returns_every_task(trained_multitask):
    from hf_transfer import predict

    records = predict(trained_multitask.output_dir, ["A gorgeous film.", "A man returns home."])
    assert len(records) == 2
    for record in records:
        assert record["sentiment"]["label"] in {"negative", "positive"}
        assert record["subjectivity"]["label"] in {"objective", "subjective"}
        assert 0.5 <= record["sentiment"]["score"] <= 1


def test_evaluate_reproduces_every_task_metric(trained_multitask):
    from hf_transfer import evaluate

    metrics = evaluate(trained_multitask.output_dir, split="test")
    for key in ("sentiment_accuracy", "subjectivity_f1_macro", "mean_accuracy"):
        assert metrics[key] == pytest.approx(trained_multitask.metrics["test"][key])


def test_predict_command_prints_every_task(trained_multitask, capsys):
    from hf_transfer.cli.main import main

    capsys.readouterr()
    assert main(["predict", str(trained_multitask.output_dir), "--text", "a great film"]) == 0
    sentiment, subjectivity, text = capsys.readouterr().out.strip().split("\t")
    assert sentiment.startswith("sentiment=") and subjectivity.startswith("subjectivity=")
    assert text == "a great film"


def test_separate_datasets_train_with_homogeneous_batches(tiny_recipe):
    multitask = {
        "sampling": "round_robin",
        "tasks": [
            {"name": "sentiment", "label_column": "label"},
            {
                "name": "domain",
                "label_column": "domain",
                "dataset_name": "sentiment_domains",
                "dataset_config_name": "all",
            },
        ],
    }
    recipe = tiny_recipe("bert", multitask=multitask, max_steps=4)
    result = train(recipe)
    report = result.metrics["multitask"]
    assert report["batching"] == "homogeneous" and report["source_probabilities"] == [0.5, 0.5]
    assert result.metrics["labels"]["domain"] == ["amazon", "movies", "nyt", "tweets"]
    assert {"sentiment_accuracy", "domain_accuracy", "mean_accuracy"} <= set(result.metrics["test"])
    logged = [entry for entry in result.trainer.state.log_history if "loss" in entry]
    assert any("loss_sentiment" in e for e in logged) and any("loss_domain" in e for e in logged)
    drawn = []
    for batch in result.trainer.get_train_dataloader():
        present = {tuple(row) for row in (~batch["labels"].isnan()).tolist()}
        assert len(present) == 1  # every row of a batch belongs to the same task
        drawn.append(present.pop())
    assert drawn[:4] == [(True, False), (False, True), (True, False), (False, True)]  # round robin


def test_regression_and_multi_label_tasks_from_local_files(tiny_recipe, tmp_path):
    texts = ["good fun", "bad and dull", "a fine film", "tedious", "great cast", "weak plot"] * 8
    rows = [
        {"text": t, "rating": float(i % 5) - 2, "tags": [["cast"], ["plot", "pace"], []][i % 3]}
        for i, t in enumerate(texts)
    ]
    rows[0]["rating"] = None  # a missing regression label is masked
    path = tmp_path / "reviews.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    multitask = {
        "loss_weighting": "uncertainty",
        "tasks": [
            {"name": "rating", "kind": "regression"},
            {"name": "tags", "kind": "multi_label_classification", "metrics": ["accuracy", "f1"]},
        ],
    }
    recipe = tiny_recipe("bert", train_file=str(path), dataset_name=None, multitask=multitask, max_steps=3)
    for key in ("max_train_samples", "max_eval_samples", "max_test_samples"):
        recipe.pop(key)
    result = train(recipe)
    assert result.metrics["labels"] == {"rating": None, "tags": ["cast", "pace", "plot"]}
    assert {"rating_mse", "rating_mae", "tags_accuracy", "tags_f1"} <= set(result.metrics["validation"])
    logged = [e for e in result.trainer.state.log_history if "weight_rating" in e]
    assert logged and logged[-1]["weight_rating"] != 1.0  # the learned weights moved


def test_a_missing_label_column_lists_the_columns(tiny_recipe):
    multitask = {"tasks": [{"name": "sentiment"}, {"name": "subjectivity", "label_column": "subjectivty"}]}
    with pytest.raises(DataError, match=r"subjectivty.*Its columns are: text, sentiment, subjectivity"):
        train(multitask_recipe(tiny_recipe, multitask=multitask, max_steps=1))


@pytest.mark.parametrize(
    ("strategy", "frozen_prefix"),
    [
        ({"type": "feature_extraction"}, "backbone."),
        ({"type": "top_layers", "num_layers": 1}, "backbone.encoder.layer.0."),
        ({"type": "patterns", "include": ["backbone.encoder.layer.2.*"]}, "backbone.embeddings."),
    ],
)
def test_freezing_strategies_keep_the_shared_encoder_frozen(tiny_recipe, strategy, frozen_prefix):
    result = train(multitask_recipe(tiny_recipe, strategy=strategy, max_steps=3))
    model = result.trainer.model
    saved = load_trained_classifier(
        result.trainer.args.output_dir
    )  # the trained weights, compared to the start

    start = AutoModel.from_pretrained(resolve_checkpoint(tiny_recipe("bert")["model_name_or_path"]).path)
    start_state = {f"backbone.{k}": v for k, v in start.state_dict().items()}
    frozen = [n for n in start_state if n.startswith(frozen_prefix) and n in dict(model.named_parameters())]
    assert frozen
    trained_state = saved.state_dict()
    for name in frozen:
        assert torch.equal(trained_state[name], start_state[name]), name
    heads = [n for n, p in model.named_parameters() if n.startswith("heads.")]
    assert heads and all(p.requires_grad for n, p in model.named_parameters() if n.startswith("heads."))


def test_a_shared_lora_adapter_saves_every_head_and_reloads(tiny_recipe):
    strategy = {"type": "peft", "method": "lora", "r": 4, "target_modules": ["query", "value"]}
    result = train(multitask_recipe(tiny_recipe, strategy=strategy, max_steps=3))
    out = result.output_dir
    assert (out / "adapter_config.json").is_file()
    saved = json.loads((out / "adapter_config.json").read_text())
    assert sorted(saved["modules_to_save"]) == ["heads.sentiment", "heads.subjectivity"]
    reloaded = load_trained_classifier(out).eval()
    model = result.trainer.model.eval()
    tokenizer = result.trainer.processing_class
    inputs = tokenizer(["a fine film", "the plot follows a man"], padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**inputs).logits, model(**inputs).logits)


def test_two_process_data_parallel_run_over_two_task_datasets(tiny_recipe, tmp_path):
    """DDP (gloo, 2 CPU processes) with two task datasets and round-robin sampling: each step's global batch is
    one task's on both ranks, the other head is absent; the masked loss keeps every head in the graph, so DDP
    needs no find_unused_parameters and both heads train."""
    import subprocess
    import sys

    import yaml

    multitask = {
        "sampling": "round_robin",
        "tasks": [
            {"name": "sentiment", "label_column": "label"},
            {"name": "domain", "dataset_name": "sentiment_domains", "dataset_config_name": "all"},
        ],
    }
    recipe = tiny_recipe("bert", multitask=multitask, max_steps=4, logging_steps=2)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "-m", "hf_transfer", "train", str(path),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((tmp_path / "run-bert" / "metrics.json").read_text())
    assert metrics["processes"] == 2  # one DDP group (gloo), not two independent runs
    assert {"sentiment_accuracy", "domain_accuracy"} <= set(metrics["test"])
    state = json.loads((tmp_path / "run-bert" / "trainer_state.json").read_text())
    logged = [e for e in state["log_history"] if "loss" in e]
    # steps alternate tasks; each log (every 2 steps) carries both tasks' losses, gathered over the ranks
    assert all("loss_sentiment" in e and "loss_domain" in e for e in logged)


def test_dry_run_shows_the_tasks_and_what_trains(tiny_recipe, tmp_path, capsys):
    import yaml

    from hf_transfer.cli.main import main

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump(multitask_recipe(tiny_recipe, strategy={"type": "feature_extraction"})))
    assert main(["inspect", "--recipe", str(recipe)]) == 0
    printed = capsys.readouterr().out
    assert "tasks: sentiment (single_label_classification: negative, positive)" in printed
    assert "MultiTaskModel" in printed
    assert not (tmp_path / "run-bert").exists()
