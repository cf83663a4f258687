"""``hf-transfer strategies``: the registered strategy types and their options."""

from __future__ import annotations

import argparse
import dataclasses


def strategies_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("strategies", help="list the transfer strategies a recipe can name")
    parser.set_defaults(func=run_strategies)
    return parser


def run_strategies(args, extra) -> int:
    from ..strategies import STRATEGIES

    for name, (config_class, strategy_class) in sorted(STRATEGIES.items()):
        print(f"{name}: {(strategy_class.__doc__ or '').strip().splitlines()[0]}")
        for f in dataclasses.fields(config_class):
            default = f.default if f.default is not dataclasses.MISSING else "(required)"
            print(f"    {f.name} = {default!r}  {f.metadata.get('help', '')}")
    return 0
