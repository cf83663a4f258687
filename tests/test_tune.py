"""`hf-transfer tune`: the search space (parsing, strategy options through model_init), the resumable study,
pruning from intermediate evaluations and best_recipe.yaml, on tiny models."""

from __future__ import annotations

import json

import optuna
import pytest
import yaml

from hf_transfer import parse_recipe, tune
from hf_transfer.cli.tune import given_tune_options
from hf_transfer.errors import RecipeError
from hf_transfer.training import prepare_run
from hf_transfer.tune import TuneArguments, parse_space, with_parameters
from hf_transfer.tune.search import STUDY_FILE, metric_value

LORA = {"type": "peft", "method": "lora", "r": 8, "alpha": 16}


def test_a_search_space_reads_ranges_choices_and_nested_options():
    space = {p.name: p for p in parse_space({
        "learning_rate": {"type": "float", "low": "1e-5", "high": 1e-3, "log": True},
        "strategy.r": {"type": "int", "low": 4, "high": 32, "step": 4},
        "strategy.alpha": [8, 16, 32],
    })}
    assert space["learning_rate"].low == 1e-5 and space["learning_rate"].log  # YAML's "1e-5" string too
    assert space["learning_rate"].trains and not space["strategy.r"].trains  # Trainer field vs model_init
    assert space["strategy.alpha"].choices == [8, 16, 32]
    values = with_parameters({"strategy": "full", "learning_rate": 1e-4}, {"strategy.num_layers": 2})
    assert values["strategy"] == {"type": "full", "num_layers": 2}


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"learnig_rate": [1e-4]}, "not a recipe key. Did you mean 'learning_rate'"),
        ({"model_name_or_path": ["a", "b"]}, "changes the model or the data"),
        ({"max_length": [32, 64]}, "changes the model or the data"),
        ({"training.r": [2]}, "only strategy, adaptation options are nested"),
        ({"learning_rate": {"type": "float", "low": 1e-3, "high": 1e-4}}, "needs low < high"),
        ({"learning_rate": {"type": "float", "low": 0, "high": 1e-3, "log": True}}, "low > 0 on a log scale"),
        ({"strategy.r": {"type": "int", "low": 2, "high": 8, "step": 2, "log": True}}, "cannot be combined"),
        ({"strategy.r": {"type": "categorical"}}, "non-empty `choices`"),
        ({"strategy.r": {"type": "int", "low": 2}}, "needs `low` and `high`"),
        ({"strategy.r": 8}, "give {type: float | int | categorical"),
        ({"strategy.type": ["lora", "full"]}, "changes the strategy type.*hf-transfer compare"),
        ({"adaptation.source_fraction": [0.5]}, "changes the domain-mixing sampler"),
        ({"class_weight": ["balanced"]}, "changes the loss built with the data"),
        ({}, "search space is empty"),
    ],
)
def test_bad_search_spaces_are_refused_with_the_fix(space, message):
    with pytest.raises(RecipeError, match=message):
        parse_space(space)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_trials": 0}, "`n_trials: 0` must be at least 1"),
        ({"pruner": "hyperband"}, "Unknown `pruner: hyperband`: use median or none"),
        ({"direction": "up"}, "`direction: up` must be maximize or minimize"),
        ({"pruner_startup_trials": -1}, "`pruner_startup_trials` must be 0 or more"),
    ],
)
def test_bad_tune_options_are_refused_with_the_fix(options, message):
    with pytest.raises(RecipeError, match=message):
        TuneArguments(**options)


def test_a_range_end_the_recipe_refuses_stops_the_search_before_any_trial(tiny_recipe, tmp_path):
    space = {"learning_rate": {"type": "float", "low": -1e-3, "high": 1e-3}}
    with pytest.raises(RecipeError, match="'learning_rate' at -0.001: .*learning_rate` must be > 0"):
        tune(tiny_recipe(eval_strategy="epoch"), {"search_space": space, "output_dir": str(tmp_path / "tune")})
    assert not (tmp_path / "tune").exists()


def test_pruning_needs_evaluations(tiny_recipe, tmp_path):
    with pytest.raises(RecipeError, match="`eval_strategy` is no"):
        tune(tiny_recipe(), {"search_space": {"learning_rate": [1e-3]}, "output_dir": str(tmp_path / "t")})


def test_the_objective_is_the_validation_metric():
    assert metric_value({"eval_accuracy": 0.8, "eval_loss": 0.4}, "accuracy") == 0.8
    assert metric_value({"eval_validation_accuracy": 0.7, "eval_amazon_accuracy": 0.9}, "accuracy") == 0.7
    with pytest.raises(RecipeError, match="has no 'f1'"):
        metric_value({"eval_accuracy": 0.8}, "f1")


def test_the_command_line_splits_tune_options_from_recipe_overrides():
    options, rest = given_tune_options(["--n_trials", "5", "--pruner", "none", "--learning_rate", "1e-4"])
    assert options == {"n_trials": 5, "pruner": "none"} and rest == ["--learning_rate", "1e-4"]


def test_a_search_reaches_strategy_options_resumes_its_study_and_writes_the_best_recipe(tiny_recipe, tmp_path):
    recipe = tiny_recipe(strategy=LORA, eval_strategy="epoch", num_train_epochs=2, metrics=["accuracy"])
    recipe["hub_token"] = "hf_secret"  # never written anywhere
    out = tmp_path / "tune"
    options = {
        "n_trials": 2,
        "pruner": "none",
        "output_dir": str(out),
        "search_space": {"strategy.r": [2, 8], "learning_rate": {"type": "float", "low": 1e-4, "high": 1e-2}},
    }
    result = tune(recipe, options)
    assert [t["state"] for t in result.trials] == ["COMPLETE", "COMPLETE"]
    # the rank reached the model: each trial trained as many parameters as a LoRA of its r has
    for trial in result.trials:
        r = trial["params"]["strategy.r"]
        built = prepare_run(parse_recipe({**recipe, "strategy": {**LORA, "r": r}}))
        assert trial["trainable_parameters"] == built.parameters["trainable"]
        assert 1e-4 <= trial["params"]["learning_rate"] <= 1e-2
    best = yaml.safe_load(result.best_recipe.read_text())
    assert best["strategy"]["r"] == result.best_params["strategy.r"]
    assert best["learning_rate"] == result.best_params["learning_rate"]
    assert parse_recipe({**best, "output_dir": str(tmp_path / "best")}).strategy.strategy_config.r in (2, 8)

    # a search stopped mid-trial: that trial is marked failed, the finished ones stay, one more runs
    storage = f"sqlite:///{out / STUDY_FILE}"
    optuna.load_study(study_name="recipe", storage=storage).ask()  # left RUNNING, as a killed search leaves it
    again = tune(recipe, {**options, "n_trials": 3})
    states = [t["state"] for t in again.trials]
    assert states[:2] == ["COMPLETE", "COMPLETE"] and states[2] == "FAIL" and states[3] == "COMPLETE"
    assert again.trials[:2] == result.trials
    assert json.loads((out / "tune.json").read_text())["best"]["value"] == again.best_value
    assert not [p for p in out.rglob("*") if p.is_file() and b"hf_secret" in p.read_bytes()]
    # the folder serves this search only: another metric would not compare with its trials
    with pytest.raises(RecipeError, match="holds a search with another metric"):
        tune(recipe, {**options, "metric": "loss", "direction": "maximize"})


def test_trials_are_pruned_from_their_intermediate_evaluations(tiny_recipe, tmp_path):
    recipe = tiny_recipe(eval_strategy="steps", eval_steps=1, max_steps=3)
    result = tune(
        recipe,
        {"n_trials": 2, "output_dir": str(tmp_path / "t"), "search_space": {"learning_rate": [1e-3, 1e-2]}},
        pruner=optuna.pruners.ThresholdPruner(lower=2.0),  # no accuracy reaches 2: pruned at the first report
    )
    assert [t["state"] for t in result.trials] == ["PRUNED", "PRUNED"]
    assert all(list(t["intermediate_values"]) == [1] for t in result.trials)
    assert result.best_recipe is None
