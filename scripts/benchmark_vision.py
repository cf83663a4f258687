#!/usr/bin/env python
"""Vision with the offline ImageNet MobileNetV2 (``hf-transfer prepare-models``) on the built-in digit sets.

Two parts, every run in its own subprocess:

- recipes: the shipped configs/vision recipes on mnist_5k (feature extraction, top-4 blocks, LoRA, multi-task)
  plus full fine-tuning for reference: test accuracy, trainable parameters, training time;
- domains: digits → mnist_5k and mnist_5k → degraded mnist_5k (blur + low light + noise, severity 4): on the
  target test split over several seeds, a model that never saw the target (``no_target``), the adaptation
  wrapper with the domain loss off (``source_only``: target images in every batch, labels from the source
  only: the mixed-batch control and the baseline), and the methods of ``METHODS`` (adabn, dann, mcc, fixmatch,
  self_train…; each adapted run also reports ``<method>+em``, its accuracy after `prior_correction: em`), plus
  the in-domain upper bound (trained on the target's own labels); the share of the source-only → in-domain gap
  each method closes.

It also draws a PNG grid of sample images per domain (``docs/benchmarks/vision_domains.png``).

    python scripts/benchmark_vision.py                          # everything: 5 recipes, 2 pairs × 2 methods × 3 seeds + bounds
    python scripts/benchmark_vision.py --parts domains --pairs degraded --seeds 42
    python scripts/benchmark_vision.py --parts domains --methods no_target --no_upper_bound --merge

Prints a table and writes JSON (default: docs/benchmarks/vision.json).
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
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks" / "vision.json"
GRID = REPO_ROOT / "docs" / "benchmarks" / "vision_domains.png"
RECIPES = {
    "feature_extraction": ("vision/mobilenet_v2_mnist_feature_extraction", {}),
    "top_layers": ("vision/mobilenet_v2_mnist_top_layers", {}),
    "lora": ("vision/mobilenet_v2_mnist_lora", {}),
    "full": ("vision/mobilenet_v2_mnist_top_layers", {"strategy": "full"}),
    "multitask": ("vision/mobilenet_v2_mnist_multitask", {}),
}
PAIRS = {
    "digits": "vision/mobilenet_v2_digits_to_mnist_dann",
    "degraded": "vision/mobilenet_v2_mnist_to_degraded_dann",
}
METHODS = (
    "no_target",
    "source_only",
    "adabn",
    "dann",
    "mcc",
    "fixmatch",
    "mcc_adabn",
    "dann_adabn",
    "self_train",
    "adabn_self_train",
)
# no_target: trained on the source alone (the target never seen); source_only: the adaptation wrapper with the
# domain loss off: the task loss sees source labels only, but target images pass through the network in every
# batch, so batch-norm statistics see the target (the mixed-batch control, the baseline of "gap closed"); adabn:
# source_only, then every batch-norm layer's statistics re-estimated on the target alone; dann / mcc: their loss
# on (``_adabn``: plus the re-estimation); fixmatch: weak/strong consistency on the target images; self_train: half the epochs source_only, then one self-training round
# (class-balanced, the most confident half of each predicted class) for the other half; adabn_self_train: the same
# with AdaBN after each stage (the source model's statistics re-estimated on the target before it pseudo-labels).
ADAPTATIONS = {
    "source_only": {"type": "source_only"},
    "adabn": {"type": "adabn"},
    "dann": {"type": "dann"},
    "mcc": {"type": "mcc"},
    "fixmatch": {"type": "fixmatch"},
    "mcc_adabn": {"type": "mcc", "target_batch_norm": True},
    "dann_adabn": {"type": "dann", "target_batch_norm": True},
    "self_train": {"type": "source_only"},
    "adabn_self_train": {"type": "adabn"},
}
# Every adapted run also reports its target accuracy after `prior_correction: em`
OVERRIDES = {"eval_strategy": "no", "save_strategy": "no", "save_predictions": False, "disable_tqdm": True}


def _recipe(name: str, changes: dict) -> dict:
    from hf_transfer.config import load_recipe_file, resolve_recipe_path

    return {**load_recipe_file(resolve_recipe_path(name)), **OVERRIDES, **changes}


def in_domain(recipe: dict) -> dict:
    """The upper bound of a domain pair: the same recipe trained on the target's own labels, no adaptation."""
    bound = {k: v for k, v in recipe.items() if not k.startswith("target_") and k != "adaptation"}
    bound["dataset_name"] = recipe["target_dataset_name"]
    bound["dataset_config_name"] = recipe.get("target_dataset_config_name")
    if recipe.get("target_degrade"):
        bound["degrade"] = recipe["target_degrade"]
        bound["degrade_severity"] = recipe.get("target_degrade_severity", 3)
    return bound


def target_data(recipe: dict) -> dict:
    """The data arguments of a domain pair's target (for evaluating a model that never saw it)."""
    return {
        "dataset_name": recipe["target_dataset_name"],
        "dataset_config_name": recipe.get("target_dataset_config_name"),
        "degrade": recipe.get("target_degrade"),
        "degrade_severity": recipe.get("target_degrade_severity", 3),
        "max_train_samples": None,
    }


def run_one(spec: dict) -> dict:
    import hf_transfer

    if spec["part"] == "recipes":
        name, changes = RECIPES[spec["name"]]
        recipe = _recipe(name, {**changes, "seed": spec["seed"]})
    else:
        recipe = _recipe(PAIRS[spec["name"]], {"seed": spec["seed"]})
        if spec["method"] == "in_domain":
            recipe = in_domain(recipe)
        elif spec["method"] == "no_target":
            target = target_data(recipe)
            recipe = {k: v for k, v in recipe.items() if not k.startswith("target_") and k != "adaptation"}
        else:
            recipe["adaptation"] = {**recipe["adaptation"], **ADAPTATIONS[spec["method"]]}
            recipe["prior_correction"] = "em"
            if spec["method"] in ("self_train", "adabn_self_train"):
                half = recipe["num_train_epochs"] / 2
                recipe["stages"] = [
                    {"kind": "train", "name": "source", "num_train_epochs": half, "prior_correction": "none"},
                    {"kind": "self_train", "rounds": 1, "keep_fraction": 0.5, "num_train_epochs": half},
                ]
    with tempfile.TemporaryDirectory() as tmp:
        recipe["output_dir"] = tmp
        start = time.perf_counter()
        metrics = hf_transfer.train(recipe).metrics
        seconds = time.perf_counter() - start
        if spec.get("method") == "no_target":  # the source model on the target's test split
            metrics["target_test"] = hf_transfer.evaluate(tmp, data_overrides=target, metrics=["accuracy"])
    result = {
        **spec,
        "image_size": recipe.get("image_size"),
        "trainable_parameters": metrics["parameters"]["trainable"],
        "total_parameters": metrics["parameters"]["total"],
        "train_seconds": metrics["train"]["train_runtime"],
        "seconds": seconds,
    }
    if spec["part"] == "recipes":
        test = metrics["test"]
        result["test"] = {k: v for k, v in test.items() if "accuracy" in k or "f1" in k}
        result["accuracy"] = test.get("accuracy", test.get("digit_accuracy"))
    else:
        on_target = metrics["test" if spec["method"] == "in_domain" else "target_test"]
        result["target_accuracy"] = on_target["accuracy"]
        result["source_test_accuracy"] = (
            None if spec["method"] == "in_domain" else metrics["test"]["accuracy"]
        )
        gap = metrics.get("domain_adaptation", {})
        result["proxy_a_distance_before"] = gap.get("proxy_a_distance_before")
        result["proxy_a_distance_after"] = gap.get("proxy_a_distance_after")
        if "prior_correction" in gap:
            prior = gap["prior_correction"]
            result["target_accuracy_em"] = result["target_accuracy"]
            result["target_accuracy"] = prior.get("target_test_before", {}).get(
                "accuracy", result["target_accuracy"]
            )
            result["prior_applied"] = prior["applied"]
            result["target_entropy"] = gap.get("selection", {}).get("target_entropy")
        if metrics.get("self_training"):
            result["pseudo_labels"] = metrics["self_training"]
    return result


def summarise(runs: list[dict]) -> dict:
    recipes = {
        r["name"]: {
            "accuracy": r["accuracy"],
            "test": r["test"],
            "trainable_parameters": r["trainable_parameters"],
            "trainable_percent": 100 * r["trainable_parameters"] / r["total_parameters"],
            "train_seconds": r["train_seconds"],
            "image_size": r["image_size"],
        }
        for r in runs
        if r["part"] == "recipes"
    }
    domain_runs = [r for r in runs if r["part"] == "domains"]
    domains = {
        pair: adaptation_rows(
            with_prior_rows([r for r in domain_runs if r["name"] == pair]),
            [name for method in METHODS for name in (method, method + PRIOR)],
            "train_seconds",
        )
        for pair in dict.fromkeys(r["name"] for r in domain_runs)
    }
    return {"recipes": recipes, "domains": domains}


def draw_grid(path: Path, per_domain: int = 8, seed: int = 42) -> None:
    """Test images of each domain, one row per domain (the first test image of each digit; the degraded row shows
    the clean row's images)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hf_transfer.config import DataArguments
    from hf_transfer.data import load_raw_datasets

    degraded = _recipe(PAIRS["degraded"], {})
    domains = {
        "digits (source)": DataArguments(dataset_name="digits"),
        "mnist_5k": DataArguments(dataset_name="mnist_5k"),
        f"mnist_5k degraded\n({' + '.join(degraded['target_degrade'])}, {degraded['target_degrade_severity']})": (
            DataArguments(
                dataset_name="mnist_5k",
                degrade=degraded["target_degrade"],
                degrade_severity=degraded["target_degrade_severity"],
            )
        ),
    }
    figure, axes = plt.subplots(len(domains), per_domain, figsize=(per_domain * 1.1, len(domains) * 1.35))
    for row, (title, args) in enumerate(domains.items()):
        test = load_raw_datasets(args, seed=seed)["test"]
        labels = test["label"]
        test = test.select([labels.index(digit) for digit in range(per_domain)])  # digits 0, 1, 2, …
        for column, example in enumerate(test):
            axis = axes[row][column]
            axis.imshow(example["image"], cmap="gray", vmin=0, vmax=255)
            axis.set_xticks([]), axis.set_yticks([])
            axis.set_xlabel(str(example["label"]), fontsize=8)
        axes[row][0].set_ylabel(title, rotation=0, ha="right", va="center", fontsize=8)
    figure.suptitle("Test images per domain (true label below)", fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(output: Path, commands: list[str], runs: list[dict]) -> dict:
    summary = summarise(runs)
    report = {
        "benchmark": "vision: ImageNet MobileNetV2 (offline, converted) on digits / mnist_5k / degraded mnist_5k",
        "commands": commands,
        "hardware": hardware(processor=True),
        "recipes": {k: v[0] for k, v in RECIPES.items()},
        "pairs": PAIRS,
        "grid": str(GRID.relative_to(REPO_ROOT)),
        "runs": runs,
        "summary": summary,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    return summary


def print_tables(summary: dict) -> None:
    if summary["recipes"]:
        print(f"\n{'recipe':<20}{'test acc':>10}{'trainable':>14}{'share':>9}{'train s':>9}")
        for name, row in summary["recipes"].items():
            print(
                f"{name:<20}{100 * row['accuracy']:>9.2f}%{row['trainable_parameters']:>14,}"
                f"{row['trainable_percent']:>8.2f}%{row['train_seconds']:>9.1f}"
            )
    if summary["domains"]:
        print_adaptation_table(summary["domains"], "pair", 10)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", nargs="+", default=["recipes", "domains"], choices=["recipes", "domains"])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 1, 2])
    parser.add_argument("--no_upper_bound", action="store_true")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--merge", action="store_true", help="keep the runs already in --output (a rerun replaces its row)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_entry(args.child, run_one)

    draw_grid(GRID)
    specs = []
    if "recipes" in args.parts:
        specs += [{"part": "recipes", "name": n, "method": None, "seed": args.seeds[0]} for n in args.recipes]
    if "domains" in args.parts:
        specs += [
            {"part": "domains", "name": pair, "method": method, "seed": seed}
            for pair in args.pairs
            for method in [*args.methods, *([] if args.no_upper_bound else ["in_domain"])]
            for seed in (args.seeds if method != "in_domain" else args.seeds[:1])
        ]
    runs, commands = previous_runs(
        args.output,
        args.merge,
        specs,
        key=lambda r: (r["part"], r["name"], r["method"], r["seed"]),
        command="python scripts/benchmark_vision.py " + " ".join(sys.argv[1:]),
    )
    run_specs(__file__, specs, runs, lambda done: write_report(args.output, commands, done))
    print_tables(write_report(args.output, commands, runs))
    print(f"\nwrote {args.output} and {GRID}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
