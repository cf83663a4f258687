"""`hf-transfer compare`: the recommendation rule, options and candidates, and whole comparisons on tiny models
(runs in their own processes, failures reported, reuse and resume, budget cuts, the recommended export)."""

from __future__ import annotations

import json
import os

import pytest
import torch
import yaml
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from hf_transfer import CompareArguments, compare, parse_recipe
from hf_transfer.cli.compare import given_compare_options, redacted
from hf_transfer.compare import Row, parse_duration, recommend, resolve_candidate, resolve_candidates
from hf_transfer.compare.comparison import _run_share, claim_comparison_dir, compare_arguments
from hf_transfer.compare.summary import higher_is_better
from hf_transfer.config import DataArguments
from hf_transfer.data import load_raw_datasets
from hf_transfer.errors import OutputDirError, RecipeError

# ---- the rule, on hand-made tables ------------------------------------------------------------------------------


def rows(**specs) -> dict[str, Row]:
    return {
        name: Row(name, scores, run_seconds=seconds, trainable=trainable)
        for name, (scores, seconds, trainable) in specs.items()
    }


def test_the_cheapest_candidate_within_the_noise_of_the_best_is_recommended():
    table = rows(
        full=([0.86, 0.87, 0.85], 300.0, 22e6),  # best mean 0.86, std 0.01
        lora=([0.85, 0.855, 0.86], 120.0, 3e5),  # 0.855: within 0.01 of the best
        feature_extraction=([0.80, 0.81, 0.79], 30.0, 770.0),  # cheapest, but 0.06 below
    )
    result = recommend(table, metric="accuracy")
    assert (result.best, result.recommended) == ("full", "lora")
    assert result.within_noise == ["full", "lora"]
    assert "cheapest candidate within the noise" in result.rule and "accuracy" in result.rule


def test_a_tolerance_replaces_the_seed_std_and_ties_go_to_fewer_parameters():
    table = rows(full=([0.86, 0.87, 0.85], 100.0, 22e6), lora=([0.855, 0.855, 0.855], 100.0, 3e5))
    assert recommend(table, tolerance=0.001).recommended == "full"  # 0.005 below: outside 0.001
    assert recommend(table, tolerance=0.01).recommended == "lora"  # same time: fewer trainable parameters


def test_one_seed_has_no_spread_so_the_best_is_recommended_and_unfinished_candidates_take_no_part():
    table = rows(full=([0.86], 300.0, 22e6), lora=([0.859], 10.0, 3e5), broken=([], None, None))
    result = recommend(table)
    assert (result.best, result.recommended, result.within_noise) == ("full", "full", ["full"])
    assert recommend(rows(broken=([], None, None))).recommended is None


# ---- options and candidates -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800.0), ("1h30m", 5400.0), ("90s", 90.0), ("1.5h", 5400.0), ("45", 45.0)]
)
def test_durations(text, seconds):
    assert parse_duration(text, "budget") == seconds


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"budget": "soon"}, "is not a duration"),
        ({"budget": "0m"}, "must be a positive duration"),
        ({"budget": "1h30"}, "is ambiguous: give the last number its unit, e.g. 1h30m"),
        ({"budget": "5m", "budget_per_run": "1m"}, "keep one"),
        ({"seeds": 0}, "must be at least 1"),
        ({"probe_steps": 1}, "`probe_steps: 1` must be at least 2"),
        ({"train_sizes": ["100", "lots"]}, "neither a positive number of rows nor `all`"),
        ({"train_sizes": ["100", "100"]}, "repeats a size"),
        ({"tolerance": -0.1}, "must be 0 or more"),
        ({"candidates": []}, "`candidates` is empty"),
    ],
)
def test_bad_compare_options_are_refused_with_the_fix(options, message):
    with pytest.raises(RecipeError, match=message):
        CompareArguments(**options)


def test_sizes_are_sorted_with_all_last():
    assert CompareArguments(train_sizes=["all", "1000", "250"]).sizes == [250, 1000, None]


def test_the_command_line_splits_compare_options_from_recipe_overrides():
    options, overrides = given_compare_options(
        ["--candidates", "lora", "full", "--seeds", "2", "--learning_rate", "1e-4", "--budget", "10m"]
    )
    assert options == {"candidates": ["lora", "full"], "seeds": 2, "budget": "10m"}
    assert overrides == ["--learning_rate", "1e-4"]


def test_the_recipe_block_is_read_by_compare_and_ignored_by_train(tiny_recipe, tmp_path):
    block = {"candidates": ["full", {"name": "top1", "strategy": {"type": "top_layers", "num_layers": 1}}], "seeds": 2}
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({**tiny_recipe(), "compare": block}))
    assert parse_recipe(path).strategy.strategy_config.type == "full"  # training ignores the block
    arguments = compare_arguments(block, {"seeds": 3})  # the command line wins over the block
    assert arguments.seeds == 3 and arguments.candidates[1]["name"] == "top1"
    with pytest.raises(RecipeError, match="Unknown key.*'seed'.*Did you mean 'seeds'"):
        compare_arguments({"seed": 2}, None)


def test_candidates_resolve_to_their_recipe_keys(tiny_recipe, tiny_image_recipe):
    text, image = tiny_recipe(), tiny_image_recipe()
    lora_text, lora_image = resolve_candidate("lora", text), resolve_candidate("lora", image)
    assert lora_text.overrides["strategy"]["method"] == "lora"
    assert (lora_text.overrides["learning_rate"], lora_image.overrides["learning_rate"]) == (1e-3, 3e-3)
    assert resolve_candidate("gradual_unfreezing", text).overrides == {"strategy": {"type": "gradual_unfreezing"}}
    recipe = resolve_candidate("sentiment/minilm_llrd", text)  # a shipped recipe's technique, not its data
    assert recipe.overrides["layerwise_lr_decay"] == 0.8
    assert "dataset_name" not in recipe.overrides and "model_name_or_path" not in recipe.overrides
    adapted = {**text, "adaptation": {"type": "dann", "lambda_max": 0.5}}
    mcc = resolve_candidate("mcc", adapted)
    assert mcc.recipe_values(adapted)["adaptation"] == {"type": "mcc", "lambda_max": 0.5}  # merged, not replaced
    # a preset replaces the whole strategy block: no option of the base strategy leaks into it
    base = {**text, "strategy": {"type": "top_layers", "num_layers": 2}}
    assert resolve_candidate("full", base).recipe_values(base)["strategy"] == {"type": "full"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("lorra", "Unknown compare candidate 'lorra'. Did you mean 'lora'"),
        ("mcc", "is an adaptation type, but the recipe has no `adaptation:` block"),
        ({"strategy": "full"}, "has no `name`"),
        ({"name": "x", "dataset_name": "imdb"}, "sets dataset_name: every candidate uses the base recipe's"),
    ],
)
def test_bad_candidates_are_refused_with_the_fix(tiny_recipe, entry, message):
    with pytest.raises(RecipeError, match=message):
        resolve_candidate(entry, tiny_recipe())


def test_repeated_candidate_names_are_refused(tiny_recipe):
    with pytest.raises(RecipeError, match="repeat the name"):
        resolve_candidates(["full", {"name": "full", "learning_rate": 1e-4}], tiny_recipe())


def test_training_sizes_are_nested_seeded_subsets():
    def texts(size):
        args = DataArguments(dataset_name="rotten_tomatoes_snippets", max_train_samples=size)
        return load_raw_datasets(args, seed=3)["train"]["text"]

    small, large = texts(50), texts(200)
    assert small == large[:50] and texts(50) == small  # nested, and the same subset every time
    other = DataArguments(dataset_name="rotten_tomatoes_snippets", max_train_samples=50)
    assert load_raw_datasets(other, seed=4)["train"]["text"] != small  # another seed, another subset


# ---- the comparison folder --------------------------------------------------------------------------------------


def test_a_folder_no_comparison_made_is_refused_and_left_as_it_was(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    with pytest.raises(OutputDirError, match="no comparison made it"):
        claim_comparison_dir(folder)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_two_comparisons_cannot_share_a_folder(tmp_path):
    first = claim_comparison_dir(tmp_path / "cmp")
    try:
        with pytest.raises(OutputDirError, match="Another comparison is running"):
            claim_comparison_dir(tmp_path / "cmp")
    finally:
        first.close()
    claim_comparison_dir(tmp_path / "cmp").close()  # free again once the first is done


def test_a_hub_token_never_reaches_a_run_record(tiny_recipe, tmp_path):
    from hf_transfer.compare.candidates import Candidate
    from hf_transfer.compare.runs import run_recipe

    values = run_recipe(Candidate("full"), {**tiny_recipe(), "hub_token": "hf_secret"}, None, 1, tmp_path / "r")
    assert "hf_secret" not in json.dumps(values) and values["push_to_hub"] is False


def test_a_bad_candidate_recipe_is_refused_before_any_run(tiny_recipe, tmp_path):
    bad = {"name": "bad_lr", "learning_rate": "fast"}
    with pytest.raises(RecipeError, match="Compare candidate 'bad_lr'.*learning_rate"):
        compare(tiny_recipe(), {"candidates": ["full", bad], "output_dir": str(tmp_path / "cmp")}, progress=False)
    assert not (tmp_path / "cmp").exists()


# ---- whole comparisons (each run a child process) ---------------------------------------------------------------


def test_a_comparison_runs_each_candidate_apart_reports_failures_and_reuses_finished_runs(tiny_recipe, tmp_path):
    out = tmp_path / "cmp"
    failing = {"name": "no_match", "strategy": {"type": "patterns", "include": ["nothing.matches.*"]}}
    options = {"candidates": ["full", failing], "seeds": 2, "output_dir": str(out)}
    recipe = tiny_recipe(metrics=["accuracy"], save_strategy="epoch")  # checkpoints while a run trains
    result = compare(recipe, options, progress=False)

    records = {(r["spec"]["candidate"], r["spec"]["seed"]): r for r in result.records}
    pids = {record["pid"] for record in records.values()}
    assert len(pids) == 4 and os.getpid() not in pids  # four runs, four processes, none of them this one
    assert records[("full", 0)]["status"] == "ok" and records[("full", 1)]["status"] == "ok"
    assert not list((out / "runs" / "all" / "full").glob("seed-*/checkpoint-*"))  # finished: model kept only
    assert records[("no_match", 0)]["status"] == "failed"
    assert "matches no parameter" in records[("no_match", 0)]["error"]
    full = result.rows["all"]["full"]
    assert len(full.scores) == 2 and full.trainable > 0 and full.peak_rss_mib > 0
    assert result.recommendations["all"].recommended == "full"  # the failing candidate takes no part
    markdown = (out / "comparison.md").read_text()
    assert "failed (2 of 2 seeds: StrategyError" in markdown and "**recommended**" in markdown
    saved = json.loads((out / "comparison.json").read_text())
    assert saved["recommendations"]["all"]["recommended"] == "full"
    assert (out / "comparison.png").stat().st_size > 0

    # the recommended run is exported like any run: a stock checkpoint with the comparison in its card
    recommended = result.recommended_dir
    assert "## How this technique was chosen" in (recommended / "README.md").read_text()
    seed = max((0, 1), key=lambda s: records[("full", s)]["metrics"]["validation"]["accuracy"])
    tokenizer = AutoTokenizer.from_pretrained(recommended)
    batch = tokenizer(["a fine film", "dull"], return_tensors="pt", padding=True)
    with torch.no_grad():
        copied = AutoModelForSequenceClassification.from_pretrained(recommended)(**batch).logits
        original_dir = out / "runs" / "all" / "full" / f"seed-{seed}"
        original = AutoModelForSequenceClassification.from_pretrained(original_dir)(**batch).logits
    torch.testing.assert_close(copied, original)

    # again, as after a kill during seed 1: seed 0 is reused, seed 1 runs again in a new process
    record_1 = out / "runs" / "all" / "full" / "seed-1.json"
    stopped = json.loads(record_1.read_text()) | {"status": "running"}
    record_1.write_text(json.dumps(stopped))
    again = compare(recipe, {**options, "candidates": ["full"]}, progress=False)
    new = {r["spec"]["seed"]: r for r in again.records}
    assert new[0]["pid"] == records[("full", 0)]["pid"]  # reused, not re-run
    assert new[1]["pid"] not in pids and new[1]["status"] == "ok"


def test_a_budget_cuts_runs_to_the_steps_that_fit_and_says_so(tiny_recipe, tmp_path):
    out = tmp_path / "cmp"
    options = {
        "candidates": ["full"],
        "seeds": 1,
        "train_sizes": ["16", "all"],
        "budget_per_run": "40s",
        "output_dir": str(out),
    }
    # far more epochs than any machine fits in 40 s: the cut never depends on how fast this one is
    result = compare(tiny_recipe(num_train_epochs=100_000, max_train_samples=48), options, progress=False)
    probe = json.loads((out / "comparison.json").read_text())["probes"]["full"]
    assert probe["steps_per_epoch"] == pytest.approx(3.0) and probe["seconds_per_step"] > 0
    assert not (out / "probes" / "full").exists()  # the probe's model is not kept
    by_size = {r["spec"]["size"]: r for r in result.records}
    assert by_size["16"]["rows"]["train"] == 16 and by_size["all"]["rows"]["train"] == 48
    large = by_size["all"]
    assert large["spec"]["planned_steps"] == 300_000  # 100,000 epochs of 48 rows in batches of 16
    assert large["spec"]["cut_short"] and 1 <= large["steps"] == large["spec"]["recipe"]["max_steps"] < 300_000
    assert result.rows["all"]["full"].cut_short
    assert "cut short by the budget" in (out / "comparison.md").read_text()


def test_a_budget_too_small_or_a_failed_probe_reports_the_runs_without_training_them(tiny_recipe, tmp_path):
    out = tmp_path / "cmp"
    failing = {"name": "no_match", "strategy": {"type": "patterns", "include": ["nothing.matches.*"]}}
    options = {"candidates": ["full", failing], "seeds": 1, "budget_per_run": "1s", "output_dir": str(out)}
    result = compare(tiny_recipe(), options, progress=False)
    errors = {r["spec"]["candidate"]: r["error"] for r in result.records}
    assert "does not cover this candidate's fixed cost" in errors["full"]
    assert errors["no_match"].startswith("its timing probe failed: StrategyError")
    assert not (out / "runs" / "all" / "full" / "seed-0").exists()  # never trained
    assert result.recommendations["all"].recommended is None and result.recommended_dir is None


def test_a_metric_the_runs_do_not_report_stops_after_the_first_run(tiny_recipe, tmp_path):
    options = {"candidates": ["full", "top_layers"], "seeds": 1, "metric": "bleu", "output_dir": str(tmp_path / "c")}
    with pytest.raises(RecipeError, match="The runs report no validation 'bleu'.*set --metric"):
        compare(tiny_recipe(), options, progress=False)
    assert not (tmp_path / "c" / "runs" / "all" / "top_layers").exists()  # stopped before the second candidate


def test_lower_is_better_metrics_flip_the_rule():
    table = rows(full=([0.30, 0.31, 0.29], 300.0, 22e6), lora=([0.305, 0.30, 0.31], 100.0, 3e5))
    result = recommend(table, metric="loss", higher=False)
    assert (result.best, result.recommended) == ("full", "lora") and "lowest mean" in result.rule
    assert higher_is_better("loss") is False and higher_is_better("eval_mse") is False
    assert higher_is_better("accuracy") and higher_is_better("loss", greater_is_better=True)


def test_the_whole_budget_is_shared_by_the_runs_after_the_probes():
    arguments = CompareArguments(budget="10m")
    assert _run_share(arguments, [object()] * 4, probe_seconds=60.0) == pytest.approx(135.0)
    with pytest.raises(RecipeError, match="the timing probes alone took 700 s"):
        _run_share(arguments, [object()] * 4, probe_seconds=700.0)


def test_candidate_names_name_folders_and_secrets_never_enter_a_candidate(tiny_recipe):
    with pytest.raises(RecipeError, match="must start with a letter"):
        resolve_candidate({"name": "../escape", "learning_rate": 1e-4}, tiny_recipe())
    candidate = resolve_candidate({"name": "lr", "learning_rate": 1e-4, "hub_token": "hf_secret"}, tiny_recipe())
    assert candidate.overrides == {"learning_rate": 1e-4}
    assert redacted(["r.yaml", "--hub_token", "hf_secret", "--seeds", "2", "--hub_token=hf_x"]) == [
        "r.yaml", "--hub_token", "***", "--seeds", "2", "--hub_token=***"
    ]


def test_sizes_must_stay_below_the_recipes_own_subsample(tiny_recipe, tmp_path):
    options = {"train_sizes": ["100", "all"], "output_dir": str(tmp_path / "c")}
    with pytest.raises(RecipeError, match="reach the recipe's max_train_samples \\(64\\)"):
        compare(tiny_recipe(), options, progress=False)
