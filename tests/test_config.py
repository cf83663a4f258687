"""Recipes: YAML + CLI overrides → dataclasses; unknown keys and bad values are clear errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import yaml

from hf_transfer.config import (
    RECIPES_DIR,
    DataArguments,
    ModelArguments,
    argument_classes,
    field_names,
    parse_recipe,
    resolve_recipe_path,
    shipped_recipes,
)
from hf_transfer.errors import RecipeError, StrategyError
from hf_transfer.strategies import FeatureExtractionConfig

SHIPPED_RECIPES = shipped_recipes()
BASE = {
    "model_name_or_path": "some/model",
    "dataset_name": "rotten_tomatoes_snippets",
    "output_dir": "/tmp/x",
}


def write_recipe(tmp_path: Path, values: dict) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def test_yaml_maps_to_each_dataclass(tmp_path):
    path = write_recipe(
        tmp_path, {**BASE, "text_column": "review", "learning_rate": 3e-5, "strategy": "full"}
    )
    recipe = parse_recipe(path)
    assert recipe.model.model_name_or_path == "some/model"
    assert recipe.data.text_column == "review"
    assert recipe.training.learning_rate == 3e-5
    assert recipe.strategy.strategy_config.type == "full"


def test_cli_overrides_win_and_are_typed(tmp_path):
    path = write_recipe(tmp_path, {**BASE, "learning_rate": 3e-5, "max_length": 64})
    recipe = parse_recipe(
        path,
        overrides=[
            "--learning_rate",
            "1e-4",
            "--max_length",
            "16",
            "--metrics",
            "accuracy",
            "f1_macro",
            "--strategy",
            "feature_extraction",
            "--disable_tqdm",
            "true",
        ],
    )
    assert recipe.training.learning_rate == pytest.approx(1e-4)
    assert recipe.data.max_length == 16
    assert recipe.training.metrics == ["accuracy", "f1_macro"]
    assert isinstance(recipe.strategy.strategy_config, FeatureExtractionConfig)
    assert recipe.training.disable_tqdm is True


def test_strategy_as_json_on_the_command_line():
    recipe = parse_recipe(BASE, overrides=["--strategy", '{"type": "feature_extraction"}'])
    assert recipe.strategy.strategy["type"] == "feature_extraction"
    assert recipe.strategy.strategy["cache_features"] is False


def test_transfer_defaults():
    training = parse_recipe(BASE).training
    assert training.train_sampling_strategy == "group_by_length"
    assert training.overwrite_output_dir is False
    assert training.metrics == ["accuracy", "f1"]


def test_unknown_yaml_key_names_the_closest_valid_key(tmp_path):
    path = write_recipe(tmp_path, {**BASE, "learning_rte": 1e-4})
    with pytest.raises(RecipeError, match=r"learning_rte.*Did you mean 'learning_rate'"):
        parse_recipe(path)


def test_unknown_cli_option_names_the_closest_valid_key():
    with pytest.raises(RecipeError, match=r"--num_train_epoch\b.*Did you mean 'num_train_epochs'"):
        parse_recipe(BASE, overrides=["--num_train_epoch", "2"])


def test_unknown_dict_override_is_an_error():
    with pytest.raises(RecipeError, match="max_lenght.*'max_length'"):
        parse_recipe(BASE, overrides={"max_lenght": 3})


def test_unknown_strategy_type_lists_registered_types():
    with pytest.raises(
        StrategyError, match=r"feature_extractor.*'feature_extraction'.*Registered types: .*full"
    ):
        parse_recipe({**BASE, "strategy": {"type": "feature_extractor"}})


def test_unknown_strategy_option_lists_valid_options():
    with pytest.raises(
        StrategyError, match="Unknown option.*strategy 'feature_extraction'.*'layers'.*Valid options"
    ):
        parse_recipe({**BASE, "strategy": {"type": "feature_extraction", "layers": 2}})


def test_invalid_strategy_json():
    with pytest.raises(RecipeError, match="not valid JSON"):
        parse_recipe(BASE, overrides=["--strategy", "{type: full"])


def test_missing_model_and_missing_data_are_errors():
    with pytest.raises(RecipeError, match="model_name_or_path.*required"):
        parse_recipe({"dataset_name": "rotten_tomatoes_snippets"})
    with pytest.raises(RecipeError, match="No data"):
        parse_recipe({"model_name_or_path": "some/model"})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("max_length", 0, "max_length"),
        ("validation_split_size", 1.5, "validation_split_size"),
        ("max_train_samples", 0, "max_train_samples"),
    ],
)
def test_bad_values_are_errors(key, value, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe({**BASE, key: value})


def test_invalid_training_value_is_a_recipe_error():
    with pytest.raises(RecipeError, match="Invalid recipe value"):
        parse_recipe({**BASE, "eval_strategy": "sometimes"})


def test_recipe_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(RecipeError, match="must be a mapping"):
        parse_recipe(path)


def test_default_output_dir_is_timestamped_under_outputs():
    recipe = parse_recipe({k: v for k, v in BASE.items() if k != "output_dir"})
    parts = Path(recipe.training.output_dir).parts
    assert parts[0] == "outputs" and parts[1] == "recipe" and len(parts[2]) == len("20260101-120000")


def test_recipe_names_resolve_under_configs():
    assert resolve_recipe_path("sentiment/minilm_full") == RECIPES_DIR / "sentiment" / "minilm_full.yaml"
    with pytest.raises(RecipeError, match=r"sentiment/minilm_ful.*Did you mean 'sentiment/minilm_full'"):
        resolve_recipe_path("sentiment/minilm_ful")


def test_saved_recipe_round_trips(tmp_path):
    recipe = parse_recipe({**BASE, "learning_rate": 2e-5, "strategy": {"type": "feature_extraction"}})
    recipe.save(tmp_path / "saved.yaml")
    again = parse_recipe(tmp_path / "saved.yaml")
    assert again.to_dict() == recipe.to_dict()
    assert again.training.learning_rate == 2e-5


def test_field_names_do_not_collide_across_dataclasses():
    seen: dict[str, type] = {}
    for cls in argument_classes():
        for f in dataclasses.fields(cls):
            if f.init:
                assert f.name not in seen, f"{f.name} is in both {seen[f.name].__name__} and {cls.__name__}"
                seen[f.name] = cls
    assert field_names()["model_name_or_path"] is ModelArguments
    assert field_names()["text_column"] is DataArguments


def test_every_field_of_our_dataclasses_has_help():
    for cls in (ModelArguments, DataArguments):
        for f in dataclasses.fields(cls):
            assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help"


LAUNCH_CONFIGS = sorted((RECIPES_DIR / "accelerate").glob("*.yaml"))


def test_launch_configs_are_not_recipes():
    assert LAUNCH_CONFIGS and not set(LAUNCH_CONFIGS) & set(shipped_recipes())
    with pytest.raises(RecipeError, match="accelerate launch config, not a recipe"):
        resolve_recipe_path("accelerate/cpu_2proc_ddp")


@pytest.mark.parametrize("path", LAUNCH_CONFIGS, ids=lambda p: p.stem)
def test_launch_configs_load_with_accelerate(path):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(path))  # accelerate's own parser: unknown keys would fail here
    expected = {
        "cpu_2proc_ddp": ("MULTI_GPU", 2, "no"),
        "gpu_1_bf16": ("NO", 1, "bf16"),
        "multi_gpu_ddp": ("MULTI_GPU", 4, "bf16"),
        "fsdp": ("FSDP", 4, "bf16"),
        "deepspeed_zero2": ("DEEPSPEED", 4, "bf16"),
        "two_node_ddp": ("MULTI_GPU", 8, "bf16"),
    }[path.stem]
    assert (config.distributed_type.name, config.num_processes, str(config.mixed_precision)) == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU-only default")
def test_bf16_on_a_cpu_only_machine_autocasts_on_the_cpu(tmp_path):
    recipe = parse_recipe(
        {"model_name_or_path": "x", "dataset_name": "digits", "bf16": True, "output_dir": str(tmp_path)}
    )
    assert recipe.training.bf16 and recipe.training.use_cpu


def test_a_hub_token_in_a_recipe_is_never_written_back(tmp_path):
    recipe = parse_recipe(
        {
            "model_name_or_path": "x",
            "dataset_name": "digits",
            "hub_token": "hf_secretsecretsecret",
            "output_dir": str(tmp_path / "out"),
        }
    )
    recipe.save(tmp_path / "recipe.yaml")
    assert "hf_secret" not in (tmp_path / "recipe.yaml").read_text() and "hub_token" not in recipe.to_dict()


# -- typed values: YAML 1.1 strings, single values for lists, nested blocks ------------------------------------


def test_a_recipe_written_as_people_write_it_is_typed(tmp_path):
    """YAML 1.1 reads `1e-4` as the string "1e-4": it trained until torch.optim compared it with a float."""
    path = tmp_path / "recipe.yaml"
    path.write_text(
        "model_name_or_path: some/model\ndataset_name: rotten_tomatoes_snippets\noutput_dir: /tmp/x\n"
        "learning_rate: 1e-4\nweight_decay: '1e-2'\nmetrics: accuracy\nnum_train_epochs: '2'\nbf16: 'no'\n"
        "eval_strategy: steps\nstrategy: {type: top_layers, num_layers: '2'}\n"
    )
    assert yaml.safe_load(path.read_text())["learning_rate"] == "1e-4"  # the YAML 1.1 behaviour in question
    recipe = parse_recipe(path)
    assert recipe.training.learning_rate == 1e-4 and isinstance(recipe.training.learning_rate, float)
    assert recipe.training.weight_decay == 0.01 and recipe.training.num_train_epochs == 2.0
    assert recipe.training.metrics == ["accuracy"] and recipe.training.bf16 is False
    assert recipe.training.eval_strategy.value == "steps"
    assert recipe.strategy.strategy_config.num_layers == 2
    overridden = parse_recipe(path, overrides=["--learning_rate", "3e-5"])
    assert overridden.training.learning_rate == 3e-5


def test_nested_blocks_are_typed_too():
    recipe = parse_recipe(
        {
            **BASE,
            "adaptation": {"type": "dann", "domain_loss_weight": "5e-1", "discriminator_layers": "3"},
            "target_dataset_name": "sentiment_domains",
        }
    )
    config = recipe.objective_arguments["domain_adaptation"].adaptation_config
    assert config.domain_loss_weight == 0.5 and config.discriminator_layers == 3
    multitask = (
        parse_recipe(
            {
                **BASE,
                "multitask": {
                    "temperature": "2",
                    "tasks": [{"name": "a", "weight": "0.5", "metrics": "f1"}, {"name": "b"}],
                },
            }
        )
        .objective_arguments["multitask"]
        .multitask_config
    )
    assert (
        multitask.temperature == 2.0
        and multitask.tasks[0].weight == 0.5
        and multitask.tasks[0].metrics == ["f1"]
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"learning_rate": "fast"},
            r"`learning_rate` must be a number, got 'fast' \(str\); e\.g\. `learning_rate: 1e-4`",
        ),
        ({"max_length": "long"}, r"`max_length` must be an integer, got 'long'"),
        ({"max_length": 12.5}, r"`max_length` must be an integer, got 12\.5"),
        (
            {"strategy": {"type": "top_layers", "num_layers": "two"}},
            r"strategy 'top_layers': `num_layers` must be an integer",
        ),
        ({"metrics": [{"name": "f1"}]}, r"`metrics` must be a list, each item a string"),
        ({"learning_rate": 0}, r"`learning_rate` must be > 0"),
        ({"per_device_eval_batch_size": 0}, r"`per_device_eval_batch_size` must be at least 1"),
        ({"gradient_accumulation_steps": 0}, r"`gradient_accumulation_steps` must be at least 1"),
        ({"num_train_epochs": -1}, r"`num_train_epochs` is -1"),
        ({"metrics": []}, r"`metrics` is empty"),
        ({"metrics": ["f1_avg"]}, r"Unknown metric 'f1_avg'"),
        ({"file_encoding": "klingon"}, r"Unknown `file_encoding` 'klingon'"),
    ],
)
def test_values_that_do_not_convert_or_are_out_of_range(values, message):
    with pytest.raises(RecipeError, match=message):
        parse_recipe({**BASE, **values})


def test_max_steps_without_epochs_is_fine():
    assert parse_recipe({**BASE, "num_train_epochs": 0, "max_steps": 10}).training.max_steps == 10
