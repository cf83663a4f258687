#!/usr/bin/env python
"""Domain adaptation on sentiment_domains with the offline all-MiniLM-L6-v2: movies → amazon and → tweets.

For each target: source-only, DANN, CORAL and MMD (the shipped configs/domain recipe with its `adaptation`
type swapped), over several seeds, and the in-domain upper bound (trained on the target's own labels).
Reports target-test accuracy mean ± std, the proxy A-distance before/after, and the share of the
source-only → in-domain gap each method closes. Every run is its own subprocess.

    python scripts/benchmark_domain.py                                   # 2 targets × 4 methods × 3 seeds + bounds
    python scripts/benchmark_domain.py --targets amazon --methods source_only dann --seeds 42 --max_train_samples 2000

Prints a table and writes JSON (default: docs/benchmarks/domain.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from _benchmarking import (
    adaptation_rows,
    child_entry,
    hardware,
    previous_runs,
    print_adaptation_table,
    run_specs,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks" / "domain.json"
RECIPE = "domain/minilm_movies_to_amazon"
METHODS = ("source_only", "dann", "coral", "mmd")
OVERRIDES = {
    "eval_strategy": "no",
    "save_strategy": "no",
    "save_predictions": False,
    "disable_tqdm": True,
    "metrics": ["accuracy"],
}


def run_one(spec: dict) -> dict:
    import hf_transfer
    from hf_transfer.config import load_recipe_file, resolve_recipe_path

    recipe = {**load_recipe_file(resolve_recipe_path(RECIPE)), **OVERRIDES, "seed": spec["seed"]}
    if spec["max_train_samples"]:
        recipe["max_train_samples"] = spec["max_train_samples"]
    if spec["method"] == "in_domain":  # the upper bound: the target's own labels, no adaptation
        for key in [k for k in recipe if k.startswith("target_") or k == "adaptation"]:
            recipe.pop(key)
        recipe["dataset_config_name"] = spec["target"]
    else:
        recipe["target_dataset_config_name"] = spec["target"]
        recipe["adaptation"] = {**recipe["adaptation"], "type": spec["method"]}
    with tempfile.TemporaryDirectory() as tmp:
        recipe["output_dir"] = tmp
        start = time.perf_counter()
        metrics = hf_transfer.train(recipe).metrics
    accuracy = metrics["test" if spec["method"] == "in_domain" else "target_test"]["accuracy"]
    gap = metrics.get("domain_adaptation", {})
    return {
        **spec,
        "target_accuracy": accuracy,
        "source_test_accuracy": metrics["test"]["accuracy"] if spec["method"] != "in_domain" else None,
        "proxy_a_distance_before": gap.get("proxy_a_distance_before"),
        "proxy_a_distance_after": gap.get("proxy_a_distance_after"),
        "seconds": time.perf_counter() - start,
    }


def summarise(runs: list[dict]) -> dict[str, dict]:
    """Per target and method: target accuracy mean ± std, proxy A-distances, and the share of the gap closed."""
    return {
        target: adaptation_rows([r for r in runs if r["target"] == target], list(METHODS))
        for target in dict.fromkeys(r["target"] for r in runs)
    }


def write_report(output: Path, commands: list[str], runs: list[dict]) -> dict[str, dict]:
    summary = summarise(runs)
    report = {
        "benchmark": "domain adaptation, sentiment_domains movies → targets, all-MiniLM-L6-v2 (offline)",
        "commands": commands,
        "hardware": hardware(),
        "recipe": RECIPE,
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
    parser.add_argument("--targets", nargs="+", default=["amazon", "tweets"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2])
    parser.add_argument("--max_train_samples", type=int)
    parser.add_argument("--no_upper_bound", action="store_true")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the runs already in --output (a rerun of the same target/method/seed replaces its row)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_entry(args.child, run_one)

    specs = [
        {"target": t, "method": m, "seed": s, "max_train_samples": args.max_train_samples}
        for t in args.targets
        for m in [*args.methods, *([] if args.no_upper_bound else ["in_domain"])]
        for s in (args.seeds if m != "in_domain" else args.seeds[:1])
    ]
    runs, commands = previous_runs(
        args.output,
        args.merge,
        specs,
        key=lambda r: (r["target"], r["method"], r["seed"], r["max_train_samples"]),
        command="python scripts/benchmark_domain.py " + " ".join(sys.argv[1:]),
    )
    run_specs(__file__, specs, runs, lambda done: write_report(args.output, commands, done))

    summary = write_report(args.output, commands, runs)
    print_adaptation_table(summary, "target", 8)
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
