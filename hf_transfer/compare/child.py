"""One run of a comparison, in its own process: ``python -m hf_transfer.compare.child RECORD.json``.

The record holds the run's recipe (``spec.recipe``) and how to start it (``launch``: resume or replace a stopped
run's folder); the child trains it with :func:`hf_transfer.train` and writes
back, in the same file, what the comparison table needs: status, error, wall and train seconds, peak memory
(resident set size; on CUDA also the peak allocated), trainable parameters, steps, and the metrics per split.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

from ..run import train
from .runs import write_record

RESULT_SPLITS = ("validation", "test", "target_test")


def peak_memory() -> dict[str, float]:
    """Peak resident memory of this process in MiB (Linux reports KiB), and CUDA's peak allocated if used."""
    peaks = {"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        peaks["peak_cuda_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return peaks


def outcome(metrics: dict[str, Any], trainer) -> dict[str, Any]:
    """What a comparison reads of a finished run."""
    state = getattr(trainer, "state", None)
    return {
        "metrics": {
            **{split: metrics[split] for split in RESULT_SPLITS if split in metrics},
            **{name: values for name, values in (metrics.get("eval_sets") or {}).items()},  # named eval sets
        },
        "parameters": metrics.get("parameters", {}),
        "rows": metrics.get("rows", {}),
        "train_seconds": metrics.get("train", {}).get("train_runtime"),
        "steps": state.global_step if state is not None else None,
        "max_steps": state.max_steps if state is not None else None,
        "epochs": state.epoch if state is not None else metrics.get("train", {}).get("epoch"),  # unrounded
    }


def main(record_path: str) -> int:
    path = Path(record_path)
    record = json.loads(path.read_text())
    record.update(status="running", pid=os.getpid(), error=None)
    write_record(path, record)
    start = time.perf_counter()
    try:
        result = train({**record["spec"]["recipe"], **record.get("launch", {})})
    except Exception as err:  # reported in the comparison table; the other candidates go on
        traceback.print_exc()
        message = " ".join(str(err).split()) or type(err).__name__
        record.update(status="failed", error=f"{type(err).__name__}: {message}")
        record.update(wall_seconds=time.perf_counter() - start, **peak_memory())
        write_record(path, record)
        return 1
    record.update(status="ok", wall_seconds=time.perf_counter() - start, **peak_memory())
    record.update(outcome(result.metrics, result.trainer))
    write_record(path, record)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
