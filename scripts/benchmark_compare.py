#!/usr/bin/env python
"""`hf-transfer compare` and `hf-transfer tune` measured on rotten_tomatoes_snippets with the offline
all-MiniLM-L6-v2.

- ``--part compare``: feature extraction (cached features), top-2, LoRA and full fine-tuning (the presets, each at
  its shipped recipe's learning rate; the epochs of sentiment/minilm_full) at several training-set sizes and
  seeds, through :func:`hf_transfer.compare` (each run its own process). Prints and saves the table per size,
  the recommendation and the whole comparison's wall time.
- ``--part tune``: ``tune`` on sentiment/minilm_lora (learning rate, LoRA r and alpha) on a training subsample,
  then the best recipe and the shipped recipe trained alike (same subsample, seed): validation and test.

    python scripts/benchmark_compare.py --part compare --train_sizes 250 1000 4000 all --seeds 3
    python scripts/benchmark_compare.py --part tune --n_trials 12 --max_train_samples 2000

Writes JSON (default docs/benchmarks/compare.json) and, for ``--part compare``, the plot of every size beside it.
``--merge`` keeps the other part's results and, for ``--part compare``, the sizes this run did not measure, so a
size can be added in its own session.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import yaml
from _benchmarking import hardware

import hf_transfer
from hf_transfer.compare.report import COMPARISON_MD, plot_comparison
from hf_transfer.compare.summary import Row
from hf_transfer.data import load_builtin_dataset

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks" / "compare.json"
DATASET = "rotten_tomatoes_snippets"
CANDIDATES = ["feature_extraction", "top_layers", "lora", "full"]
TUNE_SPACE = {
    "learning_rate": {"type": "float", "low": 2.0e-4, "high": 3.0e-3, "log": True},
    "strategy.r": [4, 8, 16],
    "strategy.alpha": [8, 16, 32],
}


def run_compare(args) -> dict:
    started = time.perf_counter()
    result = hf_transfer.compare(
        "sentiment/minilm_full",
        {
            "candidates": CANDIDATES,
            "seeds": args.seeds,
            "train_sizes": args.train_sizes,
            "output_dir": str(args.work_dir / "compare"),
        },
        overrides=["--save_strategy", "no", "--save_predictions", "false"],
        command="python scripts/benchmark_compare.py " + " ".join(sys.argv[1:]),
    )
    print((result.output_dir / COMPARISON_MD).read_text())
    return {
        "command": "python scripts/benchmark_compare.py " + " ".join(sys.argv[1:]),
        "wall_seconds": time.perf_counter() - started,
        "sizes": {size: {name: row.to_dict() for name, row in rows.items()} for size, rows in result.rows.items()},
        "recommendations": {size: rec.to_dict() for size, rec in result.recommendations.items()},
    }


def merge_compare(previous: dict | None, new: dict) -> dict:
    """``new`` with the sizes of ``previous`` it did not measure; each size records the command that ran it."""
    for size in new["sizes"]:
        new.setdefault("commands", {})[size] = {"command": new["command"], "wall_seconds": new["wall_seconds"]}
    if not previous:
        return new
    kept = [size for size in previous.get("sizes", {}) if size not in new["sizes"]]
    for size in kept:
        new["sizes"][size] = previous["sizes"][size]
        new["recommendations"][size] = previous["recommendations"][size]
        new["commands"][size] = previous.get("commands", {}).get(
            size, {"command": previous["command"], "wall_seconds": previous["wall_seconds"]}
        )
    order = sorted(new["sizes"], key=lambda size: float("inf") if size == "all" else int(size))
    new["sizes"] = {size: new["sizes"][size] for size in order}
    new["recommendations"] = {size: new["recommendations"][size] for size in order}
    return new


def plot_report(compare: dict, path: Path) -> Path:
    """The comparison plot of every size in the (merged) report, as ``compare`` draws its own."""
    sizes = {
        size: {
            name: Row(name, scores=row["scores"], run_seconds=row["run_seconds"], trainable=row["trainable_parameters"])
            for name, row in rows.items()
        }
        for size, rows in compare["sizes"].items()
    }
    full = load_builtin_dataset(DATASET)["train"].num_rows
    rows_per_size = {size: full if size == "all" else int(size) for size in sizes}
    return plot_comparison(path, sizes, "accuracy", rows_per_size)


def _scores(metrics: dict) -> dict:
    return {split: metrics[split].get("accuracy") for split in ("validation", "test")}


def run_tune(args) -> dict:
    started = time.perf_counter()
    subsample = ["--max_train_samples", str(args.max_train_samples)]
    result = hf_transfer.tune(
        "sentiment/minilm_lora",
        {"n_trials": args.n_trials, "search_space": TUNE_SPACE, "output_dir": str(args.work_dir / "tune")},
        overrides=[*subsample, "--save_predictions", "false"],
    )
    search_seconds = time.perf_counter() - started
    best = yaml.safe_load(result.best_recipe.read_text())
    trained = {}
    for name, recipe in (("shipped", "sentiment/minilm_lora"), ("best", best)):
        out = args.work_dir / f"tune-{name}"
        run = hf_transfer.train(
            recipe,
            {"output_dir": str(out), "overwrite_output_dir": True, "max_train_samples": args.max_train_samples,
             "save_strategy": "no", "save_predictions": False},
        )
        trained[name] = _scores(run.metrics)
    return {
        "command": "python scripts/benchmark_compare.py " + " ".join(sys.argv[1:]),
        "search_seconds": search_seconds,
        "n_trials": args.n_trials,
        "max_train_samples": args.max_train_samples,
        "search_space": TUNE_SPACE,
        "best_params": result.best_params,
        "best_validation": result.best_value,
        "trials": result.trials,
        "shipped_vs_best": trained,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["compare", "tune"], required=True)
    parser.add_argument("--train_sizes", nargs="+", default=["250", "1000", "4000", "all"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n_trials", type=int, default=12)
    parser.add_argument("--max_train_samples", type=int, default=2000)
    parser.add_argument("--work_dir", type=Path, default=REPO_ROOT / "outputs" / "benchmark_compare")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--merge", action="store_true", help="keep the other part's results in --output")
    args = parser.parse_args()
    report = json.loads(args.output.read_text()) if args.merge and args.output.exists() else {}
    report["hardware"] = hardware()
    result = run_compare(args) if args.part == "compare" else run_tune(args)
    report[args.part] = merge_compare(report.get("compare"), result) if args.part == "compare" else result
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if args.part == "compare":
        print(f"plot: {plot_report(report['compare'], args.output.with_suffix('.png'))}")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
