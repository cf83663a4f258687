"""``hf-transfer inspect MODEL``: the module tree with parameter counts per block."""

from __future__ import annotations

import argparse


def inspect_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "inspect",
        help="show a model's module tree and parameter counts",
        description="Print the module tree of MODEL (Hub id, local dir or offline id) loaded as a sequence "
        "classifier, with parameters per module: the names that layer patterns match against.",
    )
    parser.add_argument("model", help="Hub id, local checkpoint directory, or an id with an offline package")
    parser.add_argument("--depth", type=int, default=4, help="deepest module level shown (default: 4)")
    parser.add_argument(
        "--num_labels", type=int, default=2, help="size of the classification head (default: 2)"
    )
    parser.set_defaults(func=run_inspect)
    return parser


def run_inspect(args, extra) -> int:
    from ..modeling import format_module_tree, load_sequence_classifier, resolve_checkpoint

    checkpoint = resolve_checkpoint(args.model)
    model = load_sequence_classifier(checkpoint, id2label={i: f"LABEL_{i}" for i in range(args.num_labels)})
    print(f"{checkpoint.requested} ({checkpoint.source}: {checkpoint.path})")
    print(format_module_tree(model, max_depth=args.depth))
    return 0
