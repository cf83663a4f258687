"""``hf-transfer inspect MODEL`` (the module tree) and ``hf-transfer inspect --recipe R.yaml`` (a dry run)."""

from __future__ import annotations

import argparse
import json

from ..config import parse_recipe
from ..errors import RecipeError
from ..modeling import format_module_tree, format_trainable_table, load_classifier, resolve_checkpoint
from ..training.prepare import prepare_run


def inspect_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "inspect",
        help="show a model's modules, or what a recipe would train (dry run)",
        description="With MODEL: print its module tree (Hub id, local dir or offline id, loaded as a sequence "
        "classifier) with parameters per module: the names that layer patterns match against. With --recipe: "
        "load the recipe's data and model, apply its strategy and print, without training, what would train: "
        "each block with trainable / total parameters and the total share. Recipe fields can be overridden "
        "after the recipe as --field value.",
        usage="hf-transfer inspect MODEL [--depth 4] | hf-transfer inspect --recipe RECIPE [--field value ...]",
    )
    parser.add_argument(
        "model", nargs="?", help="Hub id, local checkpoint directory, or an id with an offline package"
    )
    parser.add_argument("--recipe", help="a recipe file or shipped recipe name: dry-run its strategy")
    parser.add_argument("--depth", type=int, default=4, help="deepest module level shown (default: 4)")
    parser.add_argument(
        "--num_labels", type=int, default=2, help="size of the classification head (default: 2)"
    )
    parser.set_defaults(func=run_inspect, accepts_extra=True)
    return parser


def recipe_overrides(argv: list[str]) -> list[str]:
    """The raw arguments minus ``--recipe VALUE``: the recipe overrides, in order, values untouched."""
    rest, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--recipe":
            skip = True
        elif not arg.startswith("--recipe="):
            rest.append(arg)
    return rest


def run_inspect(args, extra: list[str]) -> int:
    if args.recipe:
        return dry_run(args.recipe, recipe_overrides(getattr(args, "command_argv", extra)))
    if extra:
        raise RecipeError(f"Unrecognized arguments {' '.join(extra)}: overrides need --recipe.")
    if not args.model:
        raise RecipeError("Give a MODEL to inspect, or --recipe RECIPE for a dry run.")
    checkpoint = resolve_checkpoint(args.model)
    model = load_classifier(checkpoint, id2label={i: f"LABEL_{i}" for i in range(args.num_labels)})
    print(f"{checkpoint.requested} ({checkpoint.source}: {checkpoint.path})")
    print(format_module_tree(model, max_depth=args.depth))
    return 0


def dry_run(recipe_name: str, overrides: list[str]) -> int:
    run = prepare_run(parse_recipe(recipe_name, overrides))
    print(f"recipe: {run.recipe.name}   model: {run.checkpoint.requested} ({run.checkpoint.source})")
    objectives = " over ".join(o.name for o in run.objective.chain)
    strategy = json.dumps(run.strategy.config.to_dict())
    print(f"strategy: {strategy}   objective: {objectives}   {run.objective.describe_data()}")
    print(f"model class: {type(run.model).__name__}")
    print(format_trainable_table(run.model))
    if run.strategy.report():
        print(f"strategy report: {json.dumps(run.strategy.report(), indent=2)}")
    return 0
