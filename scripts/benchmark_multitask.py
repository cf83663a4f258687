#!/usr/bin/env python
"""Multi-task vs separate single-task models, with the offline all-MiniLM-L6-v2.

For each shipped multi-task recipe: the recipe as is (one encoder, every head), and one run per task with the
same recipe cut down to that task alone (the same pooling, head, data rows and hyper-parameters: a separate
single-task model). Reports each task's test metrics side by side, the parameters (one model vs the sum of the
single-task models) and the training time. Every run is its own subprocess.

    python scripts/benchmark_multitask.py
    python scripts/benchmark_multitask.py --recipes multitask/minilm_sentiment_subjectivity --max_train_samples 2000

Prints a table and writes JSON (default: docs/benchmarks/multitask.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from _benchmarking import child_entry, hardware, previous_runs, run_specs

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks" / "multitask.json"
RECIPES = ("multitask/minilm_sentiment_subjectivity", "multitask/minilm_sentiment_domain")
OVERRIDES = {"eval_strategy": "no", "save_strategy": "no", "save_predictions": False, "disable_tqdm": True}


def run_one(spec: dict) -> dict:
    import hf_transfer
    from hf_transfer.config import load_recipe_file, resolve_recipe_path

    recipe = {**load_recipe_file(resolve_recipe_path(spec["recipe"])), **OVERRIDES, "seed": spec["seed"]}
    if spec["max_train_samples"]:
        recipe["max_train_samples"] = spec["max_train_samples"]
    tasks = recipe["multitask"]["tasks"]
    if spec["task"] != "multitask":
        recipe["multitask"] = {
            **recipe["multitask"],
            "tasks": [t for t in tasks if t["name"] == spec["task"]],
        }
    with tempfile.TemporaryDirectory() as tmp:
        recipe["output_dir"] = tmp
        start = time.perf_counter()
        metrics = hf_transfer.train(recipe).metrics
        seconds = time.perf_counter() - start
    return {
        **spec,
        "test": {k: v for k, v in metrics["test"].items() if not k.endswith(("runtime", "per_second"))},
        "parameters": metrics["parameters"]["total"],
        "train_seconds": metrics["train"]["train_runtime"],
        "seconds": seconds,
    }


def summarise(runs: list[dict]) -> dict:
    summary = {}
    for recipe in dict.fromkeys(r["recipe"] for r in runs):
        mine = [r for r in runs if r["recipe"] == recipe]
        multi = next((r for r in mine if r["task"] == "multitask"), None)
        singles = {r["task"]: r for r in mine if r["task"] != "multitask"}
        if multi is None or not singles:
            continue
        tasks = {}
        for task, single in singles.items():
            metric_names = [k[len(task) + 1 :] for k in single["test"] if k.startswith(task + "_")]
            tasks[task] = {
                m: {
                    "multitask": multi["test"].get(f"{task}_{m}"),
                    "single": single["test"][f"{task}_{m}"],
                    "delta_points": 100 * (multi["test"][f"{task}_{m}"] - single["test"][f"{task}_{m}"])
                    if f"{task}_{m}" in multi["test"]
                    else None,
                }
                for m in metric_names
            }
        summary[recipe] = {
            "tasks": tasks,
            "parameters": {
                "multitask": multi["parameters"],
                "single_total": sum(r["parameters"] for r in singles.values()),
            },
            "train_seconds": {
                "multitask": multi["train_seconds"],
                "single_total": sum(r["train_seconds"] for r in singles.values()),
            },
        }
    return summary


def write_report(output: Path, commands: list[str], runs: list[dict]) -> dict:
    summary = summarise(runs)
    report = {
        "benchmark": "multi-task vs single-task models, all-MiniLM-L6-v2 (offline)",
        "commands": commands,
        "hardware": hardware(),
        "runs": runs,
        "summary": summary,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max_train_samples", type=int)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--runs",
        nargs="+",
        help="only these runs of each recipe: `multitask` and/or task names (default: all)",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the runs already in --output (a rerun of the same recipe and task replaces its row)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_entry(args.child, run_one)

    sys.path.insert(0, str(REPO_ROOT))
    from hf_transfer.config import load_recipe_file, resolve_recipe_path

    specs = []
    for recipe in args.recipes:
        tasks = [t["name"] for t in load_recipe_file(resolve_recipe_path(recipe))["multitask"]["tasks"]]
        for task in ["multitask", *tasks]:
            if args.runs and task not in args.runs:
                continue
            specs.append(
                {
                    "recipe": recipe,
                    "task": task,
                    "seed": args.seed,
                    "max_train_samples": args.max_train_samples,
                }
            )
    runs, commands = previous_runs(
        args.output,
        args.merge,
        specs,
        key=lambda r: (r["recipe"], r["task"]),
        command="python scripts/benchmark_multitask.py " + " ".join(sys.argv[1:]),
    )
    run_specs(__file__, specs, runs, lambda done: write_report(args.output, commands, done))

    summary = write_report(args.output, commands, runs)
    print(f"\n{'recipe':<42}{'task':<14}{'metric':<10}{'multi-task':>11}{'single':>9}{'Δ points':>10}")
    for recipe, row in summary.items():
        for task, metrics in row["tasks"].items():
            for metric, values in metrics.items():
                delta = f"{values['delta_points']:+.2f}" if values["delta_points"] is not None else "-"
                print(
                    f"{recipe:<42}{task:<14}{metric:<10}{100 * values['multitask']:>10.2f}%"
                    f"{100 * values['single']:>8.2f}%{delta:>10}"
                )
        p, t = row["parameters"], row["train_seconds"]
        print(
            f"{recipe:<42}parameters {p['multitask']:,} vs {p['single_total']:,} "
            f"({p['multitask'] / p['single_total']:.2f}×); train {t['multitask']:.0f} s vs {t['single_total']:.0f} s "
            f"({t['multitask'] / t['single_total']:.2f}×)"
        )
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
