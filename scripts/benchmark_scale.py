#!/usr/bin/env python
"""Throughput under ``accelerate launch``: 1 process vs N data-parallel processes, hf_transfer vs a plain
``transformers.Trainer`` script under the same launch, as ratios.

Both sides run the same full fine-tune (the default recipe's settings: offline all-MiniLM-L6-v2 on
rotten_tomatoes_snippets, see scripts/benchmark_pipeline.py for the two sides) with the same global batch:
``per_device_train_batch_size = global_batch / processes``. Each run is ``accelerate launch --num_processes N
[--multi_gpu]``; on a CPU-only machine the N processes form one gloo DDP group (the plain script needs
``use_cpu=True`` for that, hf_transfer sets it by itself). Throughput is the Trainer's
``train_samples_per_second`` (all processes together). Each process gets ``cores / N`` threads
(``OMP_NUM_THREADS``; accelerate would otherwise pin every process, even a single one, to one thread).

    python scripts/benchmark_scale.py                                    # 1 vs 2 processes, 4,000 rows, 1 epoch
    python scripts/benchmark_scale.py --processes 1 2 --max_train_samples 2000 --repeats 2
    python scripts/benchmark_scale.py --processes 1 --mixed_precision bf16 --output docs/benchmarks/scale_gpu.json

Prints a table and writes JSON (default: docs/benchmarks/scale.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _benchmarking import hardware

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "benchmarks" / "scale.json"
SIDES = ("hf_transfer", "plain_trainer")


def launch(side: str, processes: int, args) -> dict:
    """One ``accelerate launch`` of one side; rank 0 writes the result file."""
    per_device = args.global_batch // processes
    with tempfile.TemporaryDirectory() as tmp:
        result_file = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(processes)]
        cmd += ["--num_machines", "1", "--mixed_precision", args.mixed_precision, "--dynamo_backend", "no"]
        if processes > 1:
            cmd += ["--multi_gpu"]
        cmd += [__file__, "--side", side, "--result_file", str(result_file)]
        cmd += ["--per_device_train_batch_size", str(per_device), "--epochs", str(args.epochs)]
        cmd += ["--max_train_samples", str(args.max_train_samples)]
        # accelerate launch sets OMP_NUM_THREADS=1 unless told otherwise, even for one process: give each
        # process its share of the cores, so that 1 process uses them all, as `python train.py` would.
        threads = str(max(1, (os.cpu_count() or 1) // processes))
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "OMP_NUM_THREADS": threads,
        }
        subprocess.run(cmd, check=True, env=env)
        result = json.loads(result_file.read_text())
    return {
        "side": side,
        "processes": processes,
        "per_device_train_batch_size": per_device,
        "threads_per_process": int(threads),
        **result,
    }


def run_side(args) -> int:
    """Inside the launched processes: train one side; the main process writes the result."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from benchmark_pipeline import run_hf_transfer, run_plain_trainer

    with tempfile.TemporaryDirectory() as tmp:
        run = run_hf_transfer if args.side == "hf_transfer" else run_plain_trainer
        result = run(args, str(Path(tmp) / "out"))
    if int(os.environ.get("RANK", "0")) == 0:
        Path(args.result_file).write_text(json.dumps(result))
    return 0


def summarise(runs: list[dict]) -> dict:
    summary: dict = {}
    for processes in sorted({r["processes"] for r in runs}):
        for side in SIDES:
            mine = [r for r in runs if r["processes"] == processes and r["side"] == side]
            if mine:
                summary.setdefault(str(processes), {})[side] = {
                    "samples_per_second": statistics.mean(r["train_samples_per_second"] for r in mine),
                    "test_accuracy": statistics.mean(r["test_accuracy"] for r in mine),
                    "train_runtime": statistics.mean(r["train_runtime"] for r in mine),
                    "runs": len(mine),
                }
    ratios: dict = {}
    for processes, sides in summary.items():
        if len(sides) == 2:
            ratios[f"hf_transfer_over_plain_{processes}p"] = (
                sides["hf_transfer"]["samples_per_second"] / sides["plain_trainer"]["samples_per_second"]
            )
    counts = sorted(summary, key=int)
    for side in SIDES:
        if len(counts) > 1 and all(side in summary[c] for c in counts):
            base = summary[counts[0]][side]["samples_per_second"]
            for processes in counts[1:]:
                ratios[f"{side}_{processes}p_over_{counts[0]}p"] = (
                    summary[processes][side]["samples_per_second"] / base
                )
    return {"by_processes": summary, "ratios": ratios}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--global_batch", type=int, default=32)
    parser.add_argument("--max_train_samples", type=int, default=4000)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--mixed_precision", default="no", choices=["no", "bf16", "fp16"])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--result_file", help=argparse.SUPPRESS)
    parser.add_argument("--per_device_train_batch_size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        return run_side(args)

    runs = []
    for repeat in range(args.repeats):
        for processes in args.processes:
            for side in SIDES if repeat % 2 == 0 else tuple(reversed(SIDES)):
                print(f"== {side}, {processes} process(es), repeat {repeat + 1}", flush=True)
                runs.append(launch(side, processes, args))
                print(json.dumps(runs[-1]), flush=True)
    summary = summarise(runs)
    report = {
        "benchmark": "scale: accelerate launch throughput, 1 vs N processes, hf_transfer vs plain Trainer",
        "command": "python scripts/benchmark_scale.py " + " ".join(sys.argv[1:]),
        "hardware": hardware(processor=True),
        "settings": {k: v for k, v in vars(args).items() if k not in ("side", "result_file", "output")},
        "runs": runs,
        "summary": summary,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")

    print(f"\n{'processes':<11}{'side':<15}{'samples/s':>11}{'test acc':>10}{'train s':>9}")
    for processes, sides in summary["by_processes"].items():
        for side, row in sides.items():
            print(
                f"{processes:<11}{side:<15}{row['samples_per_second']:>11.1f}{100 * row['test_accuracy']:>9.2f}%"
                f"{row['train_runtime']:>9.1f}"
            )
    for name, value in summary["ratios"].items():
        print(f"{name}: {value:.3f}")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
