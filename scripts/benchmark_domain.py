#!/usr/bin/env python
"""Domain adaptation on sentiment_domains with the offline all-MiniLM-L6-v2: movies → amazon and → tweets.

For each target, the methods of ``METHODS`` (the shipped configs/domain recipe with its `adaptation` type, and
for tapt / self_train its stages, swapped; the same source rows and source epochs for every method) over
several seeds, and the in-domain upper bound (trained on the target's own labels). Every adapted run also sets
`prior_correction: em`, so each method gets a second row, ``<method>+em``: the same training, the target
accuracy after the label-shift correction. Reports target-test accuracy mean ± std, the share of the
source-only → in-domain gap each method closes, the label-free target entropy, the proxy A-distance before /
after, and wall time. Every run is its own subprocess.

    python scripts/benchmark_domain.py --methods source_only mcc --seeds 42 1 2 --max_train_samples 2000
    python scripts/benchmark_domain.py --targets tweets --methods tapt --seeds 42 --max_train_samples 2000 --merge

Prints a table and writes JSON (default: docs/benchmarks/domain_methods.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from _benchmarking import (
    PRIOR,
    adaptation_rows,
    child_entry,
    hardware,
    previous_runs,
    print_adaptation_table,
    run_specs,
    with_prior_rows,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks" / "domain_methods.json"
RECIPE = "domain/minilm_movies_to_amazon"
SOURCE_ONLY = {"type": "source_only"}
# Every method: the shipped recipe (full fine-tuning, 2 epochs over the source rows, batches of 16 source + 16
# target rows) with these changes. tapt adds 3 masked-LM epochs on the target's train text before; self_train
# splits the same 2 source epochs into 1 epoch on the source and 1 self-training round.
MLM_STAGE = {"kind": "mlm", "num_train_epochs": 3, "learning_rate": 1.0e-4, "per_device_train_batch_size": 32}
SOURCE_STAGE = {"kind": "train", "name": "source", "num_train_epochs": 1, "prior_correction": "none"}
SELF_TRAIN = {"kind": "self_train", "rounds": 1, "keep_fraction": 0.5, "num_train_epochs": 1}
METHODS = {
    "source_only": {"adaptation": SOURCE_ONLY},
    "dann": {"adaptation": {"type": "dann"}},
    "coral": {"adaptation": {"type": "coral"}},
    "mmd": {"adaptation": {"type": "mmd"}},
    "mcc": {"adaptation": {"type": "mcc"}},
    "udalm": {"adaptation": {"type": "udalm"}},
    "udalm_0.1": {"adaptation": {"type": "udalm", "mlm_weight": 0.1}},
    "tapt": {"adaptation": SOURCE_ONLY, "stages": [MLM_STAGE, {"kind": "train"}]},
    "tapt_udalm": {"adaptation": {"type": "udalm"}, "stages": [MLM_STAGE, {"kind": "train"}]},
    "self_train": {
        "adaptation": SOURCE_ONLY,
        "stages": [SOURCE_STAGE, SELF_TRAIN],
    },
    "mcc_self_train": {"adaptation": {"type": "mcc"}, "stages": [SOURCE_STAGE, SELF_TRAIN]},
}
# Every run also reports its target accuracy after `prior_correction: em` (the same training)
OVERRIDES = {
    "eval_strategy": "no",
    "save_strategy": "no",
    "save_predictions": False,
    "disable_tqdm": True,
    "metrics": ["accuracy"],
}


def method_recipe(base: dict, method: str, target: str, mlm_epochs: float) -> dict:
    """The shipped recipe with a method's adaptation type (and stages), its target, and prior correction on."""
    recipe = {**base, **METHODS[method], "target_dataset_config_name": target, "prior_correction": "em"}
    recipe["adaptation"] = {**base["adaptation"], **recipe["adaptation"]}
    recipe["stages"] = [
        {**stage, "num_train_epochs": mlm_epochs} if stage["kind"] == "mlm" else stage
        for stage in recipe.get("stages", [])
    ] or None
    return recipe


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
        recipe = method_recipe(recipe, spec["method"], spec["target"], spec["mlm_epochs"])
    with tempfile.TemporaryDirectory() as tmp:
        recipe["output_dir"] = tmp
        start = time.perf_counter()
        metrics = hf_transfer.train(recipe).metrics
    seconds = time.perf_counter() - start
    if spec["method"] == "in_domain":
        return {
            **spec,
            "target_accuracy": metrics["test"]["accuracy"],
            "source_test_accuracy": None,
            "proxy_a_distance_before": None,
            "proxy_a_distance_after": None,
            "seconds": seconds,
        }
    report = metrics.get("domain_adaptation", {})
    prior = report.get("prior_correction", {})
    corrected = metrics["target_test"]["accuracy"]
    before = prior.get("target_test_before", {}).get("accuracy", corrected)  # not applied: unchanged
    stages = {s["name"]: s for s in metrics.get("stages", [])}
    return {
        **spec,
        "target_accuracy": before,
        "target_accuracy_em": corrected,
        "prior_applied": prior.get("applied"),
        "target_priors_em": prior.get("target_priors"),
        "target_priors_bbse": prior.get("bbse_priors"),
        "predicted_shares": prior.get("predicted_target_shares"),
        "target_entropy": report.get("selection", {}).get("target_entropy"),
        "source_test_accuracy": metrics["test"]["accuracy"],
        "proxy_a_distance_before": report.get("proxy_a_distance_before"),
        "proxy_a_distance_after": report.get("proxy_a_distance_after"),
        "mlm_loss": [stages[k]["validation"].get("mlm_loss") for k in stages if stages[k]["kind"] == "mlm"],
        "pseudo_labels": metrics.get("self_training"),
        "seconds": seconds,
    }


def summarise(runs: list[dict]) -> dict[str, dict]:
    """Per target and method: target accuracy mean ± std, proxy A-distances, and the share of the gap closed."""
    return {
        target: adaptation_rows(
            with_prior_rows([r for r in runs if r["target"] == target]),
            [name for method in METHODS for name in (method, method + PRIOR)],
        )
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
    parser.add_argument(
        "--mlm_epochs", type=float, default=3.0, help="masked-LM epochs of tapt's first stage"
    )
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
        {
            "target": t,
            "method": m,
            "seed": s,
            "max_train_samples": args.max_train_samples,
            **({"mlm_epochs": args.mlm_epochs} if m.startswith("tapt") else {"mlm_epochs": None}),
        }
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
