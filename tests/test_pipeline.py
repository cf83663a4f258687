"""End-to-end runs on tiny models: saved artifacts, reload equality, output-dir safety, resume, evaluate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from conftest import assert_same_logits
from safetensors.torch import load_file
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import hf_transfer.config.recipe as config_module
from hf_transfer import evaluate, parse_recipe, predict, train
from hf_transfer.errors import ModelResolutionError, OutputDirError
from hf_transfer.run_files import RUN_MARKER


@pytest.fixture
def trained(tiny_recipe):
    return train(tiny_recipe("bert", max_steps=4))


def test_run_saves_model_tokenizer_recipe_metrics_and_predictions(trained):
    out = trained.output_dir
    for name in (
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "recipe.yaml",
        "metrics.json",
        "predictions_test.jsonl",
        "training_args.json",
        "trainer_state.json",
    ):
        assert (out / name).is_file(), name
    pickles = [p.name for p in out.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl", ".pickle")]
    assert pickles == []
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["labels"] == ["negative", "positive"]
    assert metrics["rows"] == {"train": 64, "validation": 32, "test": 32}
    assert {"accuracy", "f1", "loss"} <= set(metrics["test"]) and {"accuracy", "f1"} <= set(
        metrics["validation"]
    )
    assert metrics["model_source"] == "local" and metrics["strategy"] == {"type": "full"}
    predictions = [json.loads(line) for line in (out / "predictions_test.jsonl").read_text().splitlines()]
    assert len(predictions) == 32
    assert {p["prediction"] for p in predictions} <= {"negative", "positive"}
    accuracy = sum(p["prediction"] == p["label"] for p in predictions) / len(predictions)
    assert accuracy == pytest.approx(metrics["test"]["accuracy"])
    assert all(0.5 <= p["score"] <= 1 for p in predictions)


def test_saved_model_is_a_stock_checkpoint_with_identical_logits(trained):
    out = trained.output_dir
    reloaded = AutoModelForSequenceClassification.from_pretrained(out).eval()
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert reloaded.config.id2label == {0: "negative", 1: "positive"}
    inputs = tokenizer(["a fine film", "dull and long"], padding=True, return_tensors="pt")
    model = trained.trainer.model.eval()
    with torch.no_grad():
        assert_same_logits(model(**inputs).logits, reloaded(**inputs).logits)
    saved = load_file(out / "model.safetensors")
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items() if k in saved)


def test_saved_recipe_reproduces_the_run_configuration(trained):
    saved = yaml.safe_load((trained.output_dir / "recipe.yaml").read_text())
    assert saved["max_steps"] == 4 and saved["strategy"] == {"type": "full"}
    assert parse_recipe(trained.output_dir / "recipe.yaml").to_dict() == saved


def test_evaluate_reproduces_the_test_metrics(trained):
    metrics = json.loads((trained.output_dir / "metrics.json").read_text())
    again = evaluate(trained.output_dir, split="test")
    assert again["accuracy"] == pytest.approx(metrics["test"]["accuracy"])
    assert again["loss"] == pytest.approx(metrics["test"]["loss"], rel=1e-5)


def test_predict_returns_labels_with_scores(trained):
    from hf_transfer import Predictor

    assert Predictor(trained.output_dir).max_length == 32  # truncates as in training (recipe max_length)
    results = predict(trained.output_dir, ["a fine film", "dull and long"], top_k=2)
    assert [r["text"] for r in results] == ["a fine film", "dull and long"]
    for record in results:
        assert record["label"] in ("negative", "positive")
        assert sum(alt["score"] for alt in record["top_k"]) == pytest.approx(1.0, abs=1e-5)
        assert record["top_k"][0]["label"] == record["label"]


def test_existing_output_dir_is_refused(tiny_recipe, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "metrics.json").write_text("{}")
    with pytest.raises(OutputDirError, match="already exists and is not empty.*--overwrite_output_dir"):
        train(tiny_recipe("bert", output_dir=str(out), max_steps=1))
    assert (out / "metrics.json").read_text() == "{}"


def test_overwrite_replaces_a_previous_run(tiny_recipe, tmp_path):
    out = tmp_path / "again"
    train(tiny_recipe("bert", output_dir=str(out), max_steps=1))
    assert (out / RUN_MARKER).is_file()
    (out / "stale.txt").write_text("old")
    train(tiny_recipe("bert", output_dir=str(out), max_steps=1, overwrite_output_dir=True))
    assert not (out / "stale.txt").exists()
    assert json.loads((out / "metrics.json").read_text())["rows"]["train"] == 64


def test_overwrite_refuses_an_unmarked_folder_even_one_holding_a_model(tiny_recipe, tmp_path):
    """A folder with config.json / model.safetensors that no hf_transfer run created (a downloaded checkpoint)."""
    out = tmp_path / "someones_model"
    out.mkdir()
    (out / "config.json").write_text("{}")
    (out / "model.safetensors").write_bytes(b"weights")
    with pytest.raises(OutputDirError, match=r"Refusing to delete.*\.hf_transfer_run"):
        train(tiny_recipe("bert", output_dir=str(out), max_steps=1, overwrite_output_dir=True))
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]


@pytest.mark.parametrize("where", ["is", "inside", "contains"])
def test_an_output_dir_overlapping_the_model_is_refused_and_nothing_is_deleted(tiny_recipe, tmp_path, where):
    """`output_dir` equal to `model_name_or_path` once deleted the base checkpoint and a notes file beside it."""
    model = tmp_path / "base" / "model"
    shutil.copytree(tiny_recipe("bert")["model_name_or_path"], model)
    (model / "notes.txt").write_text("mine")
    out = {"is": model, "inside": model / "run", "contains": model.parent}[where]
    before = sorted(p.name for p in model.iterdir())
    recipe = tiny_recipe("bert", model_name_or_path=str(model), output_dir=str(out), max_steps=1)
    with pytest.raises(
        OutputDirError, match=rf"{where if where != 'inside' else 'lies inside'} `model_name_or_path`"
    ):
        train({**recipe, "overwrite_output_dir": True})
    assert sorted(p.name for p in model.iterdir()) == before and (model / "notes.txt").read_text() == "mine"


def test_two_default_named_runs_in_the_same_second_get_two_folders(tiny_recipe, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        config_module, "default_output_dir", lambda name: str(Path("outputs") / name / "same")
    )
    recipe = {k: v for k, v in tiny_recipe("bert", max_steps=1).items() if k != "output_dir"}
    first, second = parse_recipe(recipe), parse_recipe(recipe)  # both parsed before either writes
    assert first.training.output_dir == second.training.output_dir
    a, b = train(first).output_dir, train(second).output_dir
    assert a != b and b.name == "same-2" and (a / "metrics.json").is_file() and (b / "metrics.json").is_file()
    assert yaml.safe_load((b / "recipe.yaml").read_text())["output_dir"] == str(b)


def test_resuming_another_runs_checkpoint_never_writes_into_a_non_empty_folder(tiny_recipe, tmp_path):
    common = {"max_steps": 2, "save_strategy": "steps", "save_steps": 1, "save_total_limit": None}
    first = train(tiny_recipe("bert", output_dir=str(tmp_path / "first"), **common))
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    checkpoint = str(first.output_dir / "checkpoint-1")
    with pytest.raises(OutputDirError, match="is not one of its checkpoints"):
        train(tiny_recipe("bert", output_dir=str(busy), resume_from_checkpoint=checkpoint, **common))
    assert [p.name for p in busy.iterdir()] == ["notes.txt"]
    fresh = train(
        tiny_recipe("bert", output_dir=str(tmp_path / "fresh"), resume_from_checkpoint=checkpoint, **common)
    )
    assert fresh.trainer.state.global_step == 2 and (fresh.output_dir / RUN_MARKER).is_file()


def test_an_output_dir_that_is_a_file_is_refused(tiny_recipe, tmp_path):
    path = tmp_path / "results.txt"
    path.write_text("mine")
    with pytest.raises(OutputDirError, match="is a file, not a folder"):
        train(tiny_recipe("bert", output_dir=str(path), max_steps=1))
    assert path.read_text() == "mine"


def test_overwrite_refuses_a_folder_that_is_not_a_run(tiny_recipe, tmp_path):
    out = tmp_path / "my_documents"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    with pytest.raises(OutputDirError, match="Refusing to delete"):
        train(tiny_recipe("bert", output_dir=str(out), max_steps=1, overwrite_output_dir=True))
    assert (out / "thesis.tex").read_text() == "precious"


def test_resume_from_checkpoint_reaches_the_uninterrupted_result(tiny_recipe, tmp_path):
    common = {"max_steps": 4, "save_strategy": "steps", "save_steps": 2, "save_total_limit": None}
    full = train(tiny_recipe("bert", output_dir=str(tmp_path / "full"), **common))
    interrupted = tmp_path / "interrupted"
    train(tiny_recipe("bert", output_dir=str(interrupted), **common))
    for path in interrupted.iterdir():  # keep only the step-2 checkpoint, as if the run died after it
        if path.name != "checkpoint-2":
            path.unlink() if path.is_file() else shutil.rmtree(path)
    resumed = train(tiny_recipe("bert", output_dir=str(interrupted), resume_from_checkpoint="true", **common))
    assert resumed.trainer.state.global_step == 4
    expected, actual = full.trainer.model.state_dict(), resumed.trainer.model.state_dict()
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], rtol=1e-5, atol=1e-6, msg=name)
    assert resumed.metrics["test"]["accuracy"] == pytest.approx(full.metrics["test"]["accuracy"])


def test_resume_without_a_checkpoint_is_an_error(tiny_recipe, tmp_path):
    with pytest.raises(OutputDirError, match="no checkpoint"):
        train(tiny_recipe("bert", output_dir=str(tmp_path / "empty"), resume_from_checkpoint="true"))


def test_unresolvable_model_is_an_error_before_training(tiny_recipe):
    with pytest.raises(ModelResolutionError, match="Cannot resolve model 'nobody/nothing'"):
        train(tiny_recipe("bert", model_name_or_path="nobody/nothing"))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_local_files_with_custom_columns(tiny_recipe, review_files, fmt):
    recipe = tiny_recipe(
        "distilbert",
        dataset_name=None,
        train_file=str(review_files[fmt]),
        text_column="review",
        label_column="sentiment",
        max_steps=2,
    )
    result = train(recipe)
    assert result.metrics["rows"] == {"train": 54, "validation": 6}
    assert "test" not in result.metrics and not (result.output_dir / "predictions_test.jsonl").exists()


def test_model_card_metadata_results_and_snippet(trained):
    import re

    from huggingface_hub import ModelCard

    card = ModelCard.load(trained.output_dir / "README.md")
    assert card.data.pipeline_tag == "text-classification" and card.data.library_name == "transformers"
    assert card.data.datasets is None  # a built-in dataset is described in the text, not in the metadata
    assert "`rotten_tomatoes_snippets`" in card.text and "strategy **full**" in card.text
    accuracy = json.loads((trained.output_dir / "metrics.json").read_text())["test"]["accuracy"]
    assert f"| test | {accuracy:.4f} |" in card.text
    snippet = re.search(r"```python\n(.*?)```", card.text, re.S).group(1)
    exec(compile(snippet, "model-card-snippet", "exec"), {})  # noqa: S102 - the card's own example must run
