"""``hf-transfer train [RECIPE] [--field value ...]``."""

from __future__ import annotations

import argparse

from ..config import DEFAULT_RECIPE, argument_parser
from ..run import train
from .output import format_results

DESCRIPTION = f"""Train with a recipe: a YAML file or a shipped recipe name (default: {DEFAULT_RECIPE}, full
fine-tuning of the offline MiniLM on rotten_tomatoes_snippets). Any recipe field can be overridden after the
recipe as --field value, e.g. `hf-transfer train my.yaml --learning_rate 1e-4 --num_train_epochs 1`."""


def train_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train with a recipe",
        description=DESCRIPTION,
        usage="hf-transfer train [RECIPE] [--field value ...]",
        add_help=False,
    )
    parser.add_argument("-h", "--help", action="store_true", help="show the recipe fields and exit")
    parser.set_defaults(func=run_train, accepts_extra=True)
    return parser


def split_recipe_argument(extra: list[str]) -> tuple[str | None, list[str]]:
    """The recipe (the first argument when it is not an option) and the ``--field value`` overrides."""
    if extra and not extra[0].startswith("-"):
        return extra[0], extra[1:]
    return None, extra


def run_train(args, extra: list[str]) -> int:
    if args.help:
        print(f"usage: hf-transfer train [RECIPE] [--field value ...]\n\n{DESCRIPTION}\n\nRecipe fields:")
        print(argument_parser().format_help().split("\n\n", 1)[-1])
        return 0
    recipe, overrides = split_recipe_argument(extra)
    result = train(recipe, overrides)
    if result.main_process:
        print(format_results(result.metrics, result.output_dir))
    return 0
