"""``hf-transfer report OUTPUT_DIR [--plots]``."""

from __future__ import annotations

import argparse

from ..report import read_metrics, summary_table, write_run_report


def report_command_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="summarise a finished run (and redraw its plots)",
        description="Print a run's summary: recipe, model, strategy, trainable parameters, training time and "
        "loss, the metrics of every split (per task for multi-task) and its plots. --plots first (re)writes "
        "the plots from the saved files: loss_curves.png and a confusion matrix per classification task.",
    )
    parser.add_argument("output_dir", help="folder written by `hf-transfer train` (it holds metrics.json)")
    parser.add_argument(
        "--plots", action="store_true", help="(re)write loss_curves.png and confusion_matrix*.png first"
    )
    parser.set_defaults(func=run_report)
    return parser


def run_report(args, extra) -> int:
    read_metrics(args.output_dir)  # not a finished run: an error naming the fix, before anything is written
    if args.plots:
        write_run_report(args.output_dir)
    print(summary_table(args.output_dir))
    return 0
