"""Commands that take a recipe, their own options (a dataclass) and recipe overrides: ``compare``, ``tune``."""

from __future__ import annotations

import argparse

from transformers import HfArgumentParser

from ..errors import RecipeError
from .train import split_recipe_argument


def options_parser(cls: type) -> HfArgumentParser:
    return HfArgumentParser(cls, allow_abbrev=False, add_help=False)


def given_options(cls: type, argv: list[str]) -> tuple[dict, list[str]]:
    """The ``cls`` options given on the command line (only those) and the remaining recipe overrides."""
    parser = options_parser(cls)
    for action in parser._actions:
        action.default = argparse.SUPPRESS
        action.required = False
    namespace, rest = parser.parse_known_args(argv)
    return vars(namespace), rest


def split_command(cls: type, extra: list[str]) -> tuple[str | None, dict, list[str]]:
    """``RECIPE [options] [--field value ...]`` → (recipe, the options given, the recipe overrides)."""
    recipe, rest = split_recipe_argument(extra)
    options, overrides = given_options(cls, rest)
    if overrides[:1] and not overrides[0].startswith("-"):
        raise RecipeError(
            f"Unexpected argument {overrides[0]!r}: give the recipe first, then options (e.g. `hf-transfer "
            "compare RECIPE --candidates lora full`)."
        )
    return recipe, options, overrides


def print_help(command: str, description: str, cls: type) -> None:
    print(f"usage: hf-transfer {command} [RECIPE] [options] [--field value ...]\n\n{description}\n")
    print(options_parser(cls).format_help().split("\n\n", 1)[-1])
