"""``hf-transfer strategies`` and ``hf-transfer objectives``: what the registries hold, with their options."""

from __future__ import annotations

import argparse
import dataclasses

from ..objectives import OBJECTIVES
from ..stages import STAGE_KINDS
from ..strategies import STRATEGIES


def strategies_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("strategies", help="list the transfer strategies a recipe can name")
    parser.set_defaults(func=run_strategies)
    return parser


def run_strategies(args, extra) -> int:
    for name, (config_class, strategy_class) in sorted(STRATEGIES.items()):
        print(f"{name}: {(strategy_class.__doc__ or '').strip().splitlines()[0]}")
        for f in dataclasses.fields(config_class):
            default = f.default if f.default is not dataclasses.MISSING else "(required)"
            print(f"    {f.name} = {default!r}  {f.metadata.get('help', '')}")
    return 0


def objectives_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("objectives", help="list the objectives and stage kinds a recipe can name")
    parser.set_defaults(func=run_objectives)
    return parser


def _keys(arguments) -> str:
    """The keys a recipe (or a stage entry) may set: the dataclass's init fields."""
    return ", ".join(f.name for f in dataclasses.fields(arguments) if f.init) if arguments else "-"


def run_objectives(args, extra) -> int:
    print("objectives (`objective: NAME`; wrappers are switched on by their block):")
    for name, cls in sorted(OBJECTIVES.items()):
        role = "wraps a task objective" if cls.wraps else "task objective"
        print(
            f"  {name} ({role}): {(cls.__doc__ or '').strip().splitlines()[0]}  [recipe keys: {_keys(cls.arguments)}]"
        )
    print("stage kinds (`stages: [{kind: NAME, ...}]`):")
    for name, cls in sorted(STAGE_KINDS.items()):
        print(f"  {name}: {(cls.__doc__ or '').strip().splitlines()[0]}  [stage keys: {_keys(cls.options)}]")
    return 0
