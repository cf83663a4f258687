"""``hf-transfer evaluate MODEL_DIR [--split test] [--dataset_name ...]``."""

from __future__ import annotations

import argparse
import json

from ..evaluation import evaluate


def evaluate_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a trained model on a split",
        description="Evaluate a model saved by `hf-transfer train` on a split of its recipe's dataset, or of "
        "another dataset with the same labels.",
    )
    parser.add_argument("model_dir", help="folder written by `hf-transfer train` (or any saved classifier)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--dataset_name", help="evaluate on this dataset instead of the recipe's")
    parser.add_argument("--dataset_config_name", help="config of --dataset_name")
    parser.add_argument("--test_file", help="a local file to evaluate on (becomes the test split)")
    parser.add_argument("--text_column", help="text column (default: the recipe's)")
    parser.add_argument("--label_column", help="label column (default: the recipe's)")
    parser.add_argument("--metrics", nargs="+", help="metrics (default: the recipe's)")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.set_defaults(func=run_evaluate)
    return parser


def run_evaluate(args, extra) -> int:
    overrides = {
        key: getattr(args, key)
        for key in ("dataset_name", "dataset_config_name", "text_column", "label_column")
        if getattr(args, key)
    }
    if args.test_file:
        overrides.update(test_file=args.test_file, train_file=args.test_file, dataset_name=None)
    if args.dataset_name:
        overrides.setdefault("train_file", None)
    metrics = evaluate(
        args.model_dir,
        split=args.split,
        data_overrides=overrides,
        metrics=args.metrics,
        batch_size=args.batch_size,
    )
    print(json.dumps(metrics, indent=2))
    return 0
