"""Recipes: argument dataclasses (:mod:`.arguments`), loading and validation (:mod:`.recipe`), discovery of the
shipped recipes and output naming (:mod:`.discovery`)."""

from .arguments import (
    DataArguments,
    ModelArguments,
    ObjectiveArguments,
    StageArguments,
    StrategyArguments,
    TransferTrainingArguments,
    check_degrade,
    json_spec,
)
from .discovery import (
    DEFAULT_RECIPE,
    LAUNCH_CONFIG_DIRS,
    RECIPES_DIR,
    default_output_dir,
    recipe_name,
    resolve_recipe_path,
    shipped_recipes,
)
from .recipe import (
    Recipe,
    argument_classes,
    argument_parser,
    check_keys,
    command_options,
    field_names,
    load_recipe_file,
    parse_overrides,
    parse_recipe,
    recipe_with_block,
    typed_recipe_values,
)

__all__ = [
    "DEFAULT_RECIPE",
    "LAUNCH_CONFIG_DIRS",
    "RECIPES_DIR",
    "DataArguments",
    "ModelArguments",
    "ObjectiveArguments",
    "Recipe",
    "StageArguments",
    "StrategyArguments",
    "TransferTrainingArguments",
    "argument_classes",
    "argument_parser",
    "check_degrade",
    "check_keys",
    "command_options",
    "default_output_dir",
    "field_names",
    "json_spec",
    "load_recipe_file",
    "parse_overrides",
    "parse_recipe",
    "recipe_name",
    "recipe_with_block",
    "resolve_recipe_path",
    "shipped_recipes",
    "typed_recipe_values",
]
