"""The hf-transfer command line: train, evaluate, predict, inspect, listings and error exits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hf_transfer.cli.main import main
from hf_transfer.cli.train import split_recipe_argument


@pytest.fixture
def recipe_file(tiny_recipe, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_recipe("bert")))
    return path


@pytest.fixture
def trained_dir(recipe_file, tmp_path, capsys):
    out = tmp_path / "cli-run"
    assert main(["train", str(recipe_file), "--max_steps", "2", "--output_dir", str(out)]) == 0
    return out


def test_train_prints_the_results_table(trained_dir, capsys):
    printed = capsys.readouterr().out
    assert "test accuracy:" in printed and f"saved to {trained_dir}" in printed
    assert "validation" in printed and "trainable parameters" in printed
    assert json.loads((trained_dir / "metrics.json").read_text())["train"]["epoch"] > 0


def test_recipe_argument_and_overrides_are_split():
    assert split_recipe_argument(["r.yaml", "--lr", "1"]) == ("r.yaml", ["--lr", "1"])
    assert split_recipe_argument(["--learning_rate", "1e-4"]) == (None, ["--learning_rate", "1e-4"])


def test_train_help_lists_recipe_fields(capsys):
    assert main(["train", "--help"]) == 0
    printed = capsys.readouterr().out
    for field in ("--model_name_or_path", "--dataset_name", "--strategy", "--learning_rate", "--metrics"):
        assert field in printed


def test_bad_recipe_key_exits_2_with_the_fix(recipe_file, capsys):
    assert main(["train", str(recipe_file), "--learning_rte", "1e-4"]) == 2
    assert "Did you mean 'learning_rate'" in capsys.readouterr().err


def test_predict_texts_and_file(trained_dir, tmp_path, capsys):
    capsys.readouterr()
    assert main(["predict", str(trained_dir), "--text", "a great film", "--text", "awful"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    label, score, text = lines[0].split("\t")
    assert label in ("negative", "positive") and 0.5 <= float(score) <= 1 and text == "a great film"
    texts = tmp_path / "texts.txt"
    texts.write_text("one\ntwo\n\nthree\n")
    output = tmp_path / "out.jsonl"
    assert main(["predict", str(trained_dir), "--file", str(texts), "--output", str(output)]) == 0
    assert [json.loads(line)["text"] for line in output.read_text().splitlines()] == ["one", "two", "three"]
    # an existing --output is kept unless --overwrite is given
    assert main(["predict", str(trained_dir), "--text", "x", "--output", str(output)]) == 2
    assert "already exists" in capsys.readouterr().err and len(output.read_text().splitlines()) == 3
    assert main(["predict", str(trained_dir), "--text", "x", "--output", str(output), "--overwrite"]) == 0
    assert [json.loads(line)["text"] for line in output.read_text().splitlines()] == ["x"]


@pytest.mark.parametrize(
    "arguments",
    [["a great film", "awful"], ["--text", "a great film", "awful"], ["a great film", "--text", "awful"]],
    ids=["positional", "one --text, two texts", "both"],
)
def test_predict_takes_texts_as_the_images_come(arguments, trained_dir, capsys):
    capsys.readouterr()
    assert main(["predict", str(trained_dir), *arguments]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[2] for line in lines] == ["a great film", "awful"]


def test_predict_without_input_is_an_error(trained_dir, capsys):
    assert main(["predict", str(trained_dir)]) == 2
    assert "Nothing to predict" in capsys.readouterr().err


def test_evaluate_prints_metrics(trained_dir, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(trained_dir), "--split", "validation"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    saved = json.loads((trained_dir / "metrics.json").read_text())["validation"]
    assert metrics["accuracy"] == pytest.approx(saved["accuracy"])


def test_inspect_prints_the_module_tree(tiny_checkpoints, capsys):
    assert main(["inspect", str(tiny_checkpoints["distilbert"]), "--depth", "4"]) == 0
    printed = capsys.readouterr().out
    assert "distilbert.transformer.layer.1" in printed and "pre_classifier" in printed
    assert "total:" in printed


def test_listing_commands(capsys):
    assert main(["datasets"]) == 0
    printed = capsys.readouterr().out
    assert "rotten_tomatoes_snippets" in printed and "tweets" in printed
    assert main(["strategies"]) == 0
    assert "feature_extraction" in capsys.readouterr().out
    assert main(["objectives"]) == 0
    printed = capsys.readouterr().out
    assert "prior_correction" in printed and "adaptation_config" not in printed  # keys a recipe may set
    assert "[stage keys: mlm_text, mlm_text_file" in printed and "self_train:" in printed


def test_console_script_is_installed():
    result = subprocess.run(
        [sys.executable, "-m", "hf_transfer.cli.main", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "train" in result.stdout
    script = Path(sys.executable).parent / "hf-transfer"  # installed next to the interpreter
    assert subprocess.run([str(script), "--help"], capture_output=True).returncode == 0
