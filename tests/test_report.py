"""Run reports: loss-curve and confusion-matrix PNGs beside a run's metrics, the summary table, `hf-transfer
report`, and TensorBoard logging through `report_to`."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hf_transfer import train
from hf_transfer.cli.main import main
from hf_transfer.errors import OutputDirError
from hf_transfer.objectives.records import prediction_pairs
from hf_transfer.report import (
    confusion_counts,
    confusion_matrices,
    read_predictions,
    summary_table,
    write_run_report,
)
from hf_transfer.report.plots import _loss_panels

DOMAINS = {
    "dataset_name": "sentiment_domains",
    "dataset_config_name": "movies",
    "target_dataset_name": "sentiment_domains",
    "target_dataset_config_name": "amazon",
}
EVAL_EVERY_2 = {"max_steps": 4, "eval_strategy": "steps", "eval_steps": 2}


def assert_png(path: Path) -> None:
    assert path.is_file() and path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG" and image.width > 100 and image.height > 100


def metrics_of(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


# -- counting, without a run ---------------------------------------------------------------------------------


def test_confusion_counts_are_rows_true_columns_predicted():
    pairs = [("a", "a"), ("a", "b"), ("b", "b"), ("c", "a")]
    names, counts = confusion_counts(pairs, ["a", "b", "c"])
    assert names == ["a", "b", "c"]
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    names, counts = confusion_counts([("a", "z")], ["a", "b"])  # a name outside the labels gets its own row
    assert names == ["a", "b", "z"] and counts[0, 2] == 1 and counts.sum() == 1


def test_prediction_pairs_read_both_formats_and_skip_unlabelled_rows():
    single = [{"text": "x", "label": "pos", "prediction": "neg", "score": 0.6}]
    assert prediction_pairs(single, ["neg", "pos"]) == [("pos", "neg")]
    multi = [
        {"row": 0, "mood": {"true": 1, "label": "pos", "score": 0.9}},  # a ClassLabel id
        {"row": 1, "mood": {"true": None, "label": "neg", "score": 0.8}},  # masked: not scored
        {"row": 2, "rating": {"true": 2.0, "value": 1.5}},  # another source's row: no mood
    ]
    assert prediction_pairs(multi, ["neg", "pos"], task="mood") == [("pos", "pos")]


# -- real tiny runs -----------------------------------------------------------------------------------------


def test_single_task_run_writes_plots_and_the_summary(tiny_recipe, capsys):
    recipe = tiny_recipe(
        "bert",
        dataset_name="sentiment_domains",
        dataset_config_name="all",
        label_column="domain",
        ignore_mismatched_sizes=True,
        **EVAL_EVERY_2,
    )
    out = train(recipe).output_dir
    for name in ("loss_curves.png", "confusion_matrix.png"):
        assert_png(out / name)

    records = read_predictions(out / "predictions_test.jsonl")
    labels = metrics_of(out)["labels"]
    names, counts = confusion_matrices(out)[None]
    expected = Counter((r["label"], r["prediction"]) for r in records)
    assert names == labels and len(labels) == 4
    assert {(names[i], names[j]): c for (i, j), c in np.ndenumerate(counts) if c} == dict(expected)
    test_accuracy = metrics_of(out)["test"]["accuracy"]
    assert np.trace(counts) / counts.sum() == pytest.approx(test_accuracy)

    table = summary_table(out)
    assert f"{test_accuracy:.4f}" in table and "trainable of" in table and "final train loss" in table
    assert "confusion_matrix.png" in table and "loss_curves.png" in table

    before = (out / "loss_curves.png").read_bytes()
    capsys.readouterr()
    assert main(["report", str(out), "--plots"]) == 0
    printed = capsys.readouterr().out
    assert f"{test_accuracy:.4f}" in printed and "validation" in printed
    assert (out / "loss_curves.png").read_bytes() == before  # deterministic: redrawn to the same bytes


def test_dann_run_plots_the_domain_parts_and_reports_the_target(tiny_recipe):
    recipe = tiny_recipe(
        "bert", **DOMAINS, adaptation={"type": "dann", "measure_domain_gap": False}, **EVAL_EVERY_2
    )
    out = train(recipe).output_dir
    assert_png(out / "loss_curves.png")
    assert_png(out / "confusion_matrix.png")
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    panels = {panel.title: panel for panel in _loss_panels(history)}
    assert {"eval loss"} < set(panels["Loss"].lines)
    assert set(panels["Domain adaptation"].lines) == {"task loss", "domain loss", "domain accuracy"}
    assert set(panels["Domain adaptation"].twin) == {"λ"}
    table = summary_table(out)
    target = metrics_of(out)["target_test"]["accuracy"]
    assert "dann domain adaptation" in table
    assert any(line.startswith("target_test") and f"{target:.4f}" in line for line in table.splitlines())


def test_multitask_run_writes_a_confusion_matrix_per_task(tiny_recipe):
    multitask = {
        "loss_weighting": "uncertainty",
        "tasks": [
            {"name": "sentiment", "label_column": "sentiment"},
            {"name": "subjectivity", "label_column": "subjectivity", "metrics": ["accuracy", "f1_macro"]},
        ],
    }
    recipe = tiny_recipe("bert", dataset_config_name="multitask", multitask=multitask, **EVAL_EVERY_2)
    out = train(recipe).output_dir
    written = write_run_report(out)
    assert written == {
        "loss_curves": "loss_curves.png",
        "confusion_matrix_sentiment": "confusion_matrix_sentiment.png",
        "confusion_matrix_subjectivity": "confusion_matrix_subjectivity.png",
    }
    for filename in written.values():
        assert_png(out / filename)
    assert not (out / "confusion_matrix.png").exists()

    records = read_predictions(out / "predictions_test.jsonl")
    metrics = metrics_of(out)
    for task, (names, counts) in confusion_matrices(out).items():
        labelled = [r[task] for r in records if r[task]["true"] is not None]
        assert counts.sum() == len(labelled) and any(r[task]["true"] is None for r in records) == (
            task == "sentiment"  # the plot rows have no sentiment label
        )
        for (true, predicted), count in Counter((r["true"], r["label"]) for r in labelled).items():
            assert counts[names.index(true), names.index(predicted)] == count
        assert np.trace(counts) / counts.sum() == pytest.approx(metrics["test"][f"{task}_accuracy"])

    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    per_task = next(p for p in _loss_panels(history) if p.title == "Per-task training loss")
    assert set(per_task.lines) == {"sentiment", "subjectivity"}
    assert set(per_task.twin) == {"weight sentiment", "weight subjectivity"}
    table = summary_table(out)
    assert f"{metrics['test']['sentiment_accuracy']:.4f}" in table
    assert any(line.split()[:2] == ["test", "subjectivity"] for line in table.splitlines())


def test_run_without_test_split_or_predictions_still_plots_its_losses(tiny_recipe, review_files):
    recipe = tiny_recipe(
        "bert",
        dataset_name=None,
        train_file=str(review_files["csv"]),
        text_column="review",
        label_column="sentiment",
        save_predictions=False,
        max_steps=2,
    )
    result = train(recipe)
    out = result.output_dir
    assert "test" not in result.metrics and not (out / "predictions_test.jsonl").exists()
    assert_png(out / "loss_curves.png")
    assert not list(out.glob("confusion_matrix*.png"))
    assert write_run_report(out) == {"loss_curves": "loss_curves.png"}
    table = summary_table(out)
    assert "validation" in table and "\ntest" not in table


def test_tensorboard_event_files_through_report_to(tiny_recipe):
    out = train(tiny_recipe("bert", report_to=["tensorboard"], max_steps=2)).output_dir
    assert list((out / "runs").glob("*/events.out.tfevents.*"))


# -- robustness and errors --------------------------------------------------------------------------------


def test_report_never_raises_on_missing_or_broken_files(tmp_path, caplog):
    assert write_run_report(tmp_path / "nowhere") == {}
    assert write_run_report(tmp_path) == {}
    (tmp_path / "trainer_state.json").write_text("{not json")
    (tmp_path / "metrics.json").write_text(json.dumps({"labels": ["a", "b"]}))
    (tmp_path / "predictions_test.jsonl").write_text('{"text": "x", "label": "a", "prediction": "b"}\n')
    assert write_run_report(tmp_path) == {"confusion_matrix": "confusion_matrix.png"}
    (tmp_path / "trainer_state.json").write_text(json.dumps({"log_history": [{"step": 1, "loss": 0.5}]}))
    (tmp_path / "predictions_test.jsonl").write_text("garbage\n")
    assert write_run_report(tmp_path) == {"loss_curves": "loss_curves.png"}
    assert "Run report: could not write the confusion matrices" in caplog.text  # logged, not raised
    assert "plots: confusion_matrix.png, loss_curves.png" in summary_table(tmp_path)


def test_report_command_names_the_fix_for_a_folder_that_is_not_a_run(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "hf-transfer report: error:" in err and "no metrics.json" in err and "output_dir" in err
    assert main(["report", str(tmp_path / "missing"), "--plots"]) == 2
    assert "No folder" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # nothing written
    (tmp_path / "run-1").mkdir()
    (tmp_path / "run-1" / "metrics.json").write_text("{}")
    with pytest.raises(OutputDirError, match="Run folders inside it: run-1"):
        summary_table(tmp_path)
