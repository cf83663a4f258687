"""Recipes: YAML files (plus CLI overrides) mapped to dataclasses by ``HfArgumentParser``, then validated.

A recipe is one flat mapping, as in ``transformers``' ``run_glue.py``; the keys are the fields of the argument
dataclasses (:mod:`hf_transfer.config.arguments`) plus those every registered objective adds (``adaptation`` and
``target_*``, ``multitask``). ``strategy``, ``adaptation`` and ``multitask`` are nested mappings; ``stages`` a list.
Unknown keys are errors that name the closest valid keys.

Example::

    >>> from hf_transfer import parse_recipe
    >>> recipe = parse_recipe({"model_name_or_path": "prajjwal1/bert-tiny", "dataset_name": "rotten_tomatoes_snippets",
    ...                        "output_dir": "/tmp/run"}, overrides=["--learning_rate", "1e-4"])
    >>> recipe.training.learning_rate, recipe.objective_names
    (0.0001, ['single_task'])
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from transformers import HfArgumentParser

from ..errors import HfTransferError, RecipeError, did_you_mean, unknown_keys
from ..objectives import OBJECTIVES, objective_class, task_objective_name, wrapper_names
from ..typed_values import coerce, coerce_fields, field_types
from .arguments import (
    DataArguments,
    ModelArguments,
    ObjectiveArguments,
    StageArguments,
    StrategyArguments,
    TransferTrainingArguments,
)
from .discovery import DEFAULT_RECIPE, default_output_dir, recipe_name, resolve_recipe_path

CORE_ARGUMENTS = (ModelArguments, DataArguments, StrategyArguments, ObjectiveArguments, StageArguments)
# Blocks read by other commands (`hf-transfer compare`, `hf-transfer tune`): a recipe may carry them; training
# ignores them, so the same file both trains and compares.
COMMAND_BLOCKS = ("compare", "tune")


def argument_classes() -> tuple[type, ...]:
    """Every argument dataclass of a recipe: the core ones, each registered objective's, the training arguments."""
    extra = tuple(cls.arguments for cls in OBJECTIVES.values() if cls.arguments is not None)
    return (*CORE_ARGUMENTS, *extra, TransferTrainingArguments)


@dataclass
class Recipe:
    """A parsed recipe: one dataclass per concern, each objective's arguments, and the key/values it was built
    from. ``objective_names`` lists the run's objectives, outermost first (``['domain_adaptation', 'multitask']``)."""

    model: ModelArguments
    data: DataArguments
    strategy: StrategyArguments
    training: TransferTrainingArguments
    objective_arguments: dict[str, Any]
    objective_names: list[str]
    stages: list[dict] | None
    values: dict[str, Any]
    name: str = "recipe"
    default_output_dir: bool = (
        False  # output_dir was not given: outputs/<name>/<timestamp>, claimed with a suffix
    )

    def to_dict(self) -> dict[str, Any]:
        """The resolved recipe: every model/data/strategy field, the objectives' keys, and the training keys that
        were set."""
        resolved: dict[str, Any] = {}
        for args in (self.model, self.data):
            resolved.update(dataclasses.asdict(args))
        resolved["strategy"] = self.strategy.strategy_config.to_dict()
        if self.values.get("objective"):
            resolved["objective"] = self.values["objective"]
        for name in reversed(self.objective_names):  # the task objective's keys first
            arguments = self.objective_arguments.get(name)
            if arguments is not None:
                resolved.update(
                    {
                        f.name: _plain(getattr(arguments, f.name))
                        for f in dataclasses.fields(arguments)
                        if f.init
                    }
                )
        if self.stages:
            resolved["stages"] = _plain(self.stages)
        training_fields = {f.name for f in dataclasses.fields(TransferTrainingArguments)}
        for key, value in self.values.items():
            if key in training_fields and not key.endswith("_token"):  # secrets (hub_token) are never written
                resolved[key] = _plain(value)
        resolved["output_dir"] = self.training.output_dir
        return resolved

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))


def _plain(value: Any) -> Any:
    """A YAML-safe copy of a recipe value (enums to their values, tuples to lists)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


def field_names() -> dict[str, type]:
    """Every valid recipe key, mapped to the dataclass that owns it."""
    names: dict[str, type] = {}
    for cls in argument_classes():
        for f in dataclasses.fields(cls):
            if f.init:
                names[f.name] = cls
    return names


def argument_parser() -> HfArgumentParser:
    """The parser of every recipe field. Abbreviated options are refused: `--num_train_epoch` is a typo."""
    return HfArgumentParser(argument_classes(), allow_abbrev=False)


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """Parse ``--key value`` overrides into a dict holding only the keys given, typed by HfArgumentParser."""
    parser = argument_parser()
    for action in parser._actions:
        if action.dest != "help":
            action.default = argparse.SUPPRESS
            action.required = False
    namespace, unknown = parser.parse_known_args(args)
    if unknown:
        options = [a for a in unknown if a.startswith("-")] or unknown
        key = options[0].lstrip("-").replace("-", "_").split("=")[0]
        raise RecipeError(
            f"Unknown command-line option(s) {' '.join(options)}.{did_you_mean(key, field_names())} "
            "Run `hf-transfer train --help` for every option."
        )
    return vars(namespace)


def load_recipe_file(path: str | Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise RecipeError(
            f"Recipe {path} is not UTF-8 text (byte {err.object[err.start : err.start + 1]!r} at position {err.start}): "
            "re-save it as UTF-8."
        ) from None
    try:
        values = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise RecipeError(f"Recipe {path} is not valid YAML: {' '.join(str(err).split())}") from None
    if not isinstance(values, dict):
        raise RecipeError(f"Recipe {path} must be a mapping of keys to values, got {type(values).__name__}.")
    return values


def recipe_with_block(
    recipe: str | Path | dict[str, Any], overrides: list[str] | dict[str, Any] | None, block: str
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """A recipe for another command (``compare``, ``tune``): its values with the command blocks taken out and the
    overrides applied, that command's block (``{}`` when absent), and the recipe's name."""
    if isinstance(recipe, dict):
        values, name = dict(recipe), "recipe"
    else:
        path = resolve_recipe_path(recipe)
        values, name = load_recipe_file(path), recipe_name(path)
    blocks = {key: values.pop(key, None) for key in COMMAND_BLOCKS}
    own = blocks.get(block) or {}
    if not isinstance(own, dict):
        raise RecipeError(f"The recipe's `{block}:` must be a mapping of {block} options, got {own!r}.")
    if isinstance(overrides, dict):
        values.update(overrides)
    elif overrides:
        values.update(parse_overrides(list(overrides)))
    return values, own, name


def command_options(cls: type, block: dict[str, Any], given: Any, command: str, raw: tuple[str, ...] = ()):
    """A command's options dataclass from the recipe's block with the given options over it (the command line
    wins). ``raw`` fields (lists of mappings, nested specs) pass untyped."""
    fields = {f.name for f in dataclasses.fields(cls)}
    if isinstance(given, cls):  # only what was set differs from the defaults
        defaults = dataclasses.asdict(cls())
        given = {k: v for k, v in dataclasses.asdict(given).items() if v != defaults[k]}
    given = dict(given or {})
    for source, values in ((f"the recipe's `{command}:` block", block), (f"the {command} options", given)):
        hints = unknown_keys(values, fields)
        if hints:
            raise RecipeError(f"Unknown key(s) in {source}: {hints} (`hf-transfer {command} --help` lists them).")
    merged = {**block, **given}
    untyped = {key: merged.pop(key) for key in raw if key in merged}
    options = cls(**coerce_fields(cls, merged, f"the {command} options"))
    for key, value in untyped.items():
        setattr(options, key, value)
    return options


def check_keys(values: dict[str, Any], source: str) -> None:
    hints = unknown_keys(values, field_names())
    if hints:
        raise RecipeError(
            f"Unknown recipe key(s) in {source}: {hints} Valid keys are the fields of ModelArguments, "
            "DataArguments, StrategyArguments, the objectives' arguments and TrainingArguments "
            "(`hf-transfer train --help` lists them)."
        )


def typed_recipe_values(values: dict[str, Any], source: str) -> dict[str, Any]:
    """Every recipe value converted to its field's declared type (``"1e-4"`` → 0.0001; see
    :mod:`hf_transfer.typed_values`); a value that does not convert is a :class:`RecipeError` naming the key."""
    owners = field_names()
    return {key: coerce(value, field_types(owners[key])[key], key, source) for key, value in values.items()}


def _block_key(name: str) -> str:
    """The recipe key that switches an objective on (its arguments' first field: `adaptation`, `multitask`)."""
    arguments = objective_class(name).arguments
    return dataclasses.fields(arguments)[0].name if arguments else name


def check_objectives(recipe: Recipe, source: str) -> None:
    """Cross-checks between the objectives and the strategy, at parse time."""
    task = objective_class(recipe.objective_names[-1])
    if task.arguments is not None and not task.requested(recipe.objective_arguments.get(task.name)):
        raise RecipeError(f"{source}: `objective: {task.name}` needs its `{_block_key(task.name)}:` block.")
    for name in recipe.objective_names:
        objective_class(name).check_recipe(recipe, source)
    if getattr(recipe.strategy.strategy_config, "cache_features", False):
        unsupported = [n for n in recipe.objective_names if not objective_class(n).supports_feature_cache]
        if unsupported:
            raise RecipeError(
                f"{source}: `cache_features` cannot be combined with `{_block_key(unsupported[0])}` (it needs the "
                "backbone in the training loop): drop `cache_features: true` from the feature_extraction strategy."
            )


def parse_recipe(
    recipe: str | Path | dict[str, Any] | None = None, overrides: list[str] | dict[str, Any] | None = None
) -> Recipe:
    """Build a :class:`Recipe` from a YAML path, a recipe name under ``configs/`` or a dict, plus overrides.

    ``overrides`` are CLI-style (``["--learning_rate", "1e-4"]``) or a dict; they win over the recipe.
    Raises :class:`~hf_transfer.errors.RecipeError` for unknown keys (with the closest valid names) and for
    invalid values.
    """
    if recipe is None:
        recipe = DEFAULT_RECIPE
    if isinstance(recipe, dict):
        values, source, name = dict(recipe), "the recipe dict", "recipe"
    else:
        path = resolve_recipe_path(recipe)
        values, source = load_recipe_file(path), str(path)
        name = recipe_name(path)
    for block in COMMAND_BLOCKS:
        values.pop(block, None)
    check_keys(values, source)
    if isinstance(overrides, dict):
        check_keys(overrides, "the overrides")
        values.update(overrides)
    elif overrides:
        values.update(parse_overrides(list(overrides)))
    values = typed_recipe_values(values, source)
    defaulted = not values.get("output_dir")
    if defaulted:
        values["output_dir"] = default_output_dir(name)
    classes = argument_classes()
    try:
        parsed = dict(zip(classes, argument_parser().parse_dict(values, allow_extra_keys=False), strict=True))
    except HfTransferError:
        raise
    except (TypeError, ValueError) as err:
        raise RecipeError(f"Invalid recipe value in {source}: {err}") from None
    objective_arguments = {
        name: parsed[cls.arguments] for name, cls in OBJECTIVES.items() if cls.arguments is not None
    }
    task = task_objective_name(parsed[ObjectiveArguments].objective, objective_arguments)
    result = Recipe(
        model=parsed[ModelArguments],
        data=parsed[DataArguments],
        strategy=parsed[StrategyArguments],
        training=parsed[TransferTrainingArguments],
        objective_arguments=objective_arguments,
        objective_names=[*wrapper_names(objective_arguments), task],
        stages=parsed[StageArguments].stages,
        values=values,
        name=name,
        default_output_dir=defaulted,
    )
    check_objectives(result, source)
    return result
