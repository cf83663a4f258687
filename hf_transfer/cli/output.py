"""Plain-text tables for the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..tables import TIMING_KEYS, format_table


def format_results(metrics: dict[str, Any], output_dir: Path | str) -> str:
    """A table of the evaluation metrics per split, then where the run was saved."""
    splits = [split for split in ("validation", "test") if split in metrics]
    keys = sorted({k for split in splits for k in metrics[split] if k not in TIMING_KEYS})
    rows = [["split", *keys]]
    for split in splits:
        rows.append([split, *(_number(metrics[split].get(k)) for k in keys)])
    parameters = metrics.get("parameters", {})
    lines = [format_table(rows)]
    if parameters:
        lines.append(
            f"trainable parameters: {parameters['trainable']:,} of {parameters['total']:,} "
            f"({parameters['trainable_percent']:.2f}%)"
        )
    if "train" in metrics and "train_runtime" in metrics["train"]:
        lines.append(f"training time: {metrics['train']['train_runtime']:.1f} s")
    if "test" in metrics and "accuracy" in metrics["test"]:
        lines.append(f"test accuracy: {100 * metrics['test']['accuracy']:.2f}%")
    lines.append(f"saved to {output_dir}")
    return "\n".join(lines)


def _number(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
